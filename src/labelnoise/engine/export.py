"""A finished run's predictions as arrays: logits, penultimate features and labels.

Post-hoc methods -- conformal prediction (:mod:`labelnoise.common.conformal`), OOD detection
(:mod:`labelnoise.common.ood`) -- work on a trained model's outputs. :func:`load_finished_run`
rebuilds a run directory's selected model (``best_model.pt``, network 0 as the run's method
built it) and its task; :func:`predict_outputs` runs it once, in eval mode, over a split or
any dataset of the task's items.

Penultimate features are the input of the model's last ``nn.Linear`` module (in registration
order: the classification head of every classification model here -- ``small_cnn``'s
``head``, ResNet's ``fc``, the MLP's last layer), captured with a forward hook; a model
without an ``nn.Linear`` gives no features.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from labelnoise.config import RunConfig
from labelnoise.tasks.base import DatasetSplits, TaskAdapter, move_to

__all__ = ["FinishedRun", "load_finished_run", "predict_outputs"]


@dataclass
class FinishedRun:
    """A finished run's config, task and selected model (eval mode)."""

    cfg: RunConfig
    adapter: TaskAdapter
    splits: DatasetSplits
    model: nn.Module
    accelerator: Any


def load_finished_run(run_dir: str | Path) -> FinishedRun:
    """Rebuild the task and the selected model of ``run_dir`` (a ``labelnoise train`` output
    with ``config.yaml`` and ``best_model.pt``; the data is read from the run's
    ``data.data_dir`` or ``$LABELNOISE_DATA``)."""
    from labelnoise.commands.evaluate import _network
    from labelnoise.config import load_recipe, resolve
    from labelnoise.engine.run import make_accelerator
    from labelnoise.engine.setup import build_task

    path = Path(run_dir)
    for name in ("config.yaml", "best_model.pt"):
        if not (path / name).is_file():
            raise FileNotFoundError(
                f"run_dir must hold {name} from a finished run; got {str(path)!r} without it"
            )
    cfg = resolve(load_recipe(path / "config.yaml"))
    accelerator = make_accelerator(cfg)
    task = build_task(cfg)
    model = _network(cfg, task, accelerator)
    state = torch.load(path / "best_model.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.to(accelerator.device).eval()
    return FinishedRun(cfg, task.adapter, task.splits, model, accelerator)


def _last_linear(model: nn.Module) -> nn.Linear | None:
    last = None
    for m in model.modules():
        if isinstance(m, nn.Linear):
            last = m
    return last


@torch.no_grad()
def predict_outputs(
    run: FinishedRun, data: str | Any, *, batch_size: int | None = None
) -> dict[str, np.ndarray]:
    """Run the model over ``data`` once.

    Args:
        run: from :func:`load_finished_run`.
        data: ``"train"``, ``"val"`` or ``"test"`` (the run's split), or a map-style dataset of
            the task's items (``{"x", "target", "example_id", ...}``).
        batch_size: default the run's ``data.eval_batch_size``.

    Returns:
        ``logits`` ``(N, C)`` float32, ``features`` ``(N, D)`` float32 (absent when the model
        has no ``nn.Linear``), ``noisy`` ``(N,)`` (the items' ``target``) and ``clean``
        ``(N,)`` (``clean_target``, when the items carry it), in ``example_id`` order.
    """
    from labelnoise.engine.data import eval_loader, num_items

    if isinstance(data, str):
        if data not in ("train", "val", "test"):
            raise ValueError(f"data must be 'train', 'val', 'test' or a dataset; got {data!r}")
        ds = getattr(run.splits, data)
        if ds is None or num_items(ds) == 0:
            raise ValueError(f"the run has no {data!r} split (or it is empty)")
    else:
        ds = data
    loader = eval_loader(ds, run.adapter, batch_size=batch_size or run.cfg.data.eval_batch_size)
    head = _last_linear(run.model)
    captured: list[torch.Tensor] = []
    hook = None
    if head is not None:
        hook = head.register_forward_hook(
            lambda _m, inp, _out: captured.append(inp[0].detach().float().flatten(1).cpu())
        )
    logits, ids, noisy, clean = [], [], [], []
    try:
        run.model.eval()
        for batch in loader:
            batch = move_to(batch, run.accelerator.device)
            u = run.adapter.units(run.model, batch)
            logits.append(u.pred.detach().float().cpu())
            ids.append(u.example_id.detach().long().cpu())
            noisy.append(batch["target"].detach().cpu())
            if "clean_target" in batch:
                clean.append(batch["clean_target"].detach().cpu())
    finally:
        if hook is not None:
            hook.remove()
    order = torch.argsort(torch.cat(ids)).numpy()
    out = {
        "logits": torch.cat(logits).numpy()[order],
        "noisy": torch.cat(noisy).numpy()[order],
    }
    if clean:
        out["clean"] = torch.cat(clean).numpy()[order]
    if captured:
        out["features"] = torch.cat(captured).numpy()[order]
    return out
