"""Gathering per-unit records across processes without the distributed sampler's padding.

Accelerate pads the last batches of an epoch by repeating examples so every process gets
the same number of batches. Records carry the local batch index; after gathering, an
example's units are kept from its first occurrence in ``(batch, rank)`` order only, so
metrics and per-example records are the same on 1 or N processes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from labelnoise.common.units import Units
from labelnoise.engine.data import eval_loader
from labelnoise.tasks.base import TaskAdapter, move_to

__all__ = ["after_training", "evaluate_units", "gather_records"]


def gather_records(accelerator: Any, records: dict[str, Tensor]) -> dict[str, Tensor]:
    """Gather ``records`` (equal-length CPU tensors with ``example_id`` and ``batch``) from
    every process; drop repeated examples; return CPU tensors without the ``batch`` column."""
    if accelerator.num_processes > 1:
        from accelerate.utils import gather_object

        parts = gather_object([records])
        ranks = [torch.full_like(p["example_id"], r) for r, p in enumerate(parts)]
        records = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        rank = torch.cat(ranks)
    else:
        rank = torch.zeros_like(records["example_id"])
    ids = records["example_id"].numpy()
    if ids.size and accelerator.num_processes == 1 and ids.min() >= 0:
        if np.bincount(ids).max() <= 1:  # one record per example: nothing to drop
            return {k: v for k, v in records.items() if k != "batch"}
    if ids.size:
        key = records["batch"].numpy().astype(np.int64) * accelerator.num_processes + rank.numpy()
        uniq, inv = np.unique(ids, return_inverse=True)
        first = np.full(uniq.shape, np.iinfo(np.int64).max)
        np.minimum.at(first, inv, key)
        keep = torch.from_numpy(key == first[inv])
        if not bool(keep.all()):
            records = {k: v[keep] for k, v in records.items()}
    return {k: v for k, v in records.items() if k != "batch"}


def _cat(chunks: list[Tensor], like: Tensor | None = None) -> Tensor:
    if chunks:
        return torch.cat(chunks)
    return torch.empty(0) if like is None else like


@torch.no_grad()
def evaluate_units(
    adapter: TaskAdapter,
    model: torch.nn.Module,
    loader: Any,
    accelerator: Any,
    *,
    target_key: str = "target",
    shrink: bool = True,
) -> Units:
    """Run ``model`` over ``loader`` and return the gathered, de-duplicated units (CPU).

    ``shrink``: pass each batch through ``adapter.eval_units`` (metrics); detection needs
    the full class scores and turns it off.
    """
    was_training = model.training
    model.eval()
    preds, targets, ids, batches = [], [], [], []
    for b, batch in enumerate(loader):
        batch = move_to(batch, accelerator.device)
        with accelerator.autocast():
            u = adapter.units(model, batch, target_key=target_key)
            if shrink:
                u = adapter.eval_units(u)
        preds.append(u.pred.detach().float().cpu())
        targets.append(u.target.detach().cpu())
        ids.append(u.example_id.detach().long().cpu())
        batches.append(torch.full((len(u),), b, dtype=torch.long))
    model.train(was_training)
    rec = gather_records(
        accelerator,
        {
            "pred": _cat(preds),
            "target": _cat(targets),
            "example_id": _cat(ids, torch.empty(0, dtype=torch.long)),
            "batch": _cat(batches, torch.empty(0, dtype=torch.long)),
        },
    )
    return Units(rec["pred"], rec["target"], rec["example_id"])


def after_training(
    adapter: TaskAdapter,
    model: torch.nn.Module,
    dataset: Any,
    accelerator: Any,
    *,
    batch_size: int,
    num_workers: int = 0,
) -> None:
    """Call :meth:`TaskAdapter.after_training` with a lazy ``train_units()`` over ``dataset``
    (the training split): full class scores, gathered from every process."""

    def train_units() -> Units:
        loader = eval_loader(
            dataset,
            adapter,
            batch_size=batch_size,
            num_process=accelerator.num_processes,
            process_index=accelerator.process_index,
            num_workers=num_workers,
        )
        return evaluate_units(adapter, model, loader, accelerator, shrink=False)

    adapter.after_training(train_units)
