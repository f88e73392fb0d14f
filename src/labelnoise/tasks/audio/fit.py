"""A small training loop for tagging on one device (benchmarks, tests, notebooks).

The same step as :mod:`labelnoise.train` (units -> per-unit loss -> selector weights), without
Accelerate, checkpoints or reports; for curated + noisy training with
:class:`~labelnoise.tasks.audio.selection.PerTagSmallLossSelector`, which the engine's
registry does not hold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from labelnoise.common.selection._base import Selector
from labelnoise.tasks.audio.units import UnitsKind, tag_units

__all__ = ["fit_tagger", "predict_tags"]


def fit_tagger(
    model: nn.Module,
    train: Dataset,
    *,
    loss_fn: nn.Module,
    units: UnitsKind = "tags",
    selector: Selector | None = None,
    curated_weight: float = 1.0,
    epochs: int = 10,
    max_steps: int | None = None,
    batch_size: int = 64,
    lr: float = 2e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
    on_epoch_end: Callable[[int, nn.Module], Any] | None = None,
) -> nn.Module:
    """Train ``model`` on ``train`` (items of :class:`~labelnoise.tasks.audio.dataset.ClipDataset`).

    Each step: ``units = tag_units(model(x), target, kind=units)`` (a two-class unit per
    tag, or a ``K``-class unit per clip: :mod:`~labelnoise.tasks.audio.units`),
    ``l = loss_fn(units...)``, ``w = selector(l, ...)`` (1 without one) times the units' own
    weights and ``curated_weight`` on curated clips, and ``(w * l).sum() / w.sum()``. AdamW
    with a cosine schedule; the training set's augmentation follows the epoch
    (``set_epoch``).
    """
    g = torch.Generator().manual_seed(seed)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, generator=g, drop_last=False)
    total = epochs * len(loader) if max_steps is None else min(max_steps, epochs * len(loader))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(total, 1))
    step = 0
    for epoch in range(epochs):
        model.train()
        _set_epoch(train, epoch)
        for batch in loader:
            logits = model(batch["x"])
            ids = torch.as_tensor(batch["example_id"]).long()
            u = tag_units(logits, batch["target"], example_id=ids, kind=units)
            unit_loss = loss_fn(u.pred, u.target, u.example_id)
            w = torch.ones_like(unit_loss)
            if selector is not None:
                w = selector(
                    unit_loss.detach(),
                    u.example_id,
                    step=step,
                    logits=u.pred.detach(),
                    target=u.target,
                )
            if u.weight is not None:
                w = w * u.weight
            if curated_weight != 1.0:
                cur = batch["curated"].bool()
                cur = cur.repeat_interleave(logits.shape[1]) if units == "tags" else cur
                w = w * torch.where(cur, curated_weight, 1.0)
            loss = (w * unit_loss).sum() / w.sum().clamp_min(1.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step >= total:
                break
        if selector is not None:
            selector.on_epoch_end(epoch)
        if on_epoch_end is not None:
            on_epoch_end(epoch, model)
        if step >= total:
            break
    return model


def _set_epoch(data: Dataset, epoch: int) -> None:
    """Tell ``data`` (or the dataset under a ``Subset``) which epoch's augmentation to draw."""
    while data is not None:
        if hasattr(data, "set_epoch"):
            data.set_epoch(epoch)
            return
        data = getattr(data, "dataset", None)


@torch.no_grad()
def predict_tags(
    model: nn.Module, data: Dataset, *, batch_size: int = 256
) -> tuple[Tensor, Tensor]:
    """``(logits (N, K), clean targets (N, K))`` of ``data`` in order, in eval mode."""
    was = model.training
    model.eval()
    logits, clean = [], []
    for batch in DataLoader(data, batch_size=batch_size, shuffle=False):
        logits.append(model(batch["x"]))
        clean.append(batch["clean_target"])
    model.train(was)
    return torch.cat(logits), torch.cat(clean)
