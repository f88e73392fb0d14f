"""Run setup shared by the loops: the run directory, the data, and the components."""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from labelnoise._io import atomic_write
from labelnoise.config import RunConfig, dump_yaml, to_dict
from labelnoise.engine.data import limit_splits, num_items
from labelnoise.methods.base import Selector, UnitLoss
from labelnoise.tasks.base import DatasetSplits, TaskAdapter
from labelnoise.tasks.registry import get_task

__all__ = [
    "NonFiniteLossError",
    "build_loss_fn",
    "build_optimizer",
    "build_selector_fn",
    "build_task",
    "data_root",
    "prepare_run_dir",
]


class NonFiniteLossError(ValueError):
    """The training loss became NaN or infinite."""


@dataclass
class Task:
    adapter: TaskAdapter
    splits: DatasetSplits


def data_root(cfg: RunConfig) -> Path | None:
    """``data.data_dir``, else ``$LABELNOISE_DATA``, else None; must exist when given."""
    raw = cfg.data.data_dir or os.environ.get("LABELNOISE_DATA")
    if not raw:
        return None
    root = Path(raw).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"data.data_dir must be an existing directory; got {str(root)!r}")
    return root


_LAST_TASK: dict[str, Task] = {}


def build_task(cfg: RunConfig) -> Task:
    """The adapter and its (limited) splits.

    The last built task is kept for the process: the variants of a recipe that share the
    task section, data root and seed (e.g. only the loss differs) read and corrupt the data
    once. Datasets are read-only to the engine.
    """
    root = data_root(cfg)
    key = repr((cfg.task.name, dataclasses.asdict(cfg.task.options), str(root), cfg.seed))
    if key in _LAST_TASK:
        task = _LAST_TASK[key]
    else:
        adapter = get_task(cfg.task.name)(cfg.task.options)
        splits = adapter.build_datasets(root, seed=cfg.seed)
        if splits.train is None or num_items(splits.train) == 0:
            raise ValueError(
                f"task {cfg.task.name!r} must provide a non-empty training split; got 0 items"
            )
        task = Task(adapter, splits)
        _LAST_TASK.clear()
        _LAST_TASK[key] = task
    return Task(task.adapter, limit_splits(task.splits, cfg.data.limit, cfg.data.eval_limit))


def prepare_run_dir(cfg: RunConfig, *, resume: bool, overwrite: bool, accelerator: Any) -> Path:
    """Check the run directory on every process, then (main process) create it and write
    ``config.yaml``.

    A directory holding another run is refused unless ``overwrite`` (wipe it) or ``resume``
    (continue it; its config must equal ``cfg``).
    """
    run_dir = cfg.run_dir
    cfg_file = run_dir / "config.yaml"
    if resume and overwrite:
        raise ValueError("--resume and --overwrite must not be combined; got both")
    if resume:
        if not cfg_file.is_file():
            raise FileNotFoundError(
                f"--resume needs an existing run in {run_dir}; no config.yaml there"
            )
        with cfg_file.open() as f:
            old = yaml.safe_load(f)
        diff = sorted(_diff(old, to_dict(cfg)))
        if diff:
            raise ValueError(
                f"--resume must use the run's own config; {run_dir}/config.yaml differs at {diff[:5]}"
            )
        return run_dir
    if run_dir.exists() and not run_dir.is_dir():
        raise FileExistsError(f"output_dir must be a directory; got the file {run_dir}")
    holds_run = run_dir.exists() and any(run_dir.iterdir())
    if holds_run and not cfg_file.is_file():
        raise FileExistsError(
            f"output_dir {run_dir} must be empty or a labelnoise run; it holds other files"
        )
    if holds_run and not overwrite:
        raise FileExistsError(
            f"output_dir {run_dir} already holds a run; pass --overwrite to replace it "
            "or --resume to continue it"
        )
    accelerator.wait_for_everyone()  # every process has checked before anything is written
    if accelerator.is_main_process:
        if holds_run:
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(cfg_file) as f:
            f.write(dump_yaml(cfg))
    accelerator.wait_for_everyone()
    return run_dir


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in set(a) | set(b):
            out += _diff(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


def build_loss_fn(
    cfg: RunConfig, num_classes: int, num_examples: int, *, device: Any = None
) -> UnitLoss:
    """The configured per-unit loss module (on ``device`` when given); stateful losses (ELR)
    keep one memory slot per id in ``[0, num_examples)``."""
    from labelnoise.common.losses import build_loss

    loss = build_loss(
        cfg.loss.name, num_classes=num_classes, num_examples=num_examples, **cfg.loss.options
    )
    return loss if device is None else loss.to(device)


def build_selector_fn(cfg: RunConfig, num_examples: int, gather: Any) -> Selector:
    """The configured selector (``none``: every unit has weight 1)."""
    from labelnoise.common.selection import build_selector

    return build_selector(
        cfg.selector.name, num_examples=num_examples, gather=gather, **cfg.selector.options
    )


def build_optimizer(
    cfg: RunConfig, params: Any, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """Optimizer and a per-optimizer-step LR schedule (warm-up, hold, then constant / cosine /
    linear decay to 0 at ``total_steps``)."""
    o = cfg.optim
    opt: torch.optim.Optimizer
    if o.name == "sgd":
        opt = torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    elif o.name == "adam":
        opt = torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
    else:
        opt = torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
    warm, total = o.warmup_steps, max(1, total_steps)
    hold = warm + int(o.hold_fraction * max(0, total - warm))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        frac = min(1.0, max(0.0, step - hold) / max(1, total - hold))
        if o.scheduler == "cosine":
            return 0.5 * (1 + math.cos(math.pi * frac))
        if o.scheduler == "linear":
            return 1.0 - frac
        return 1.0

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)
