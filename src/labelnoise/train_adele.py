"""ADELE through the engine: ``method: adele`` recipes for the ``segmentation`` task.

Adaptive Early-Learning Correction (Liu, Liu, Fernandez-Granda et al., CVPR 2022). The step is
the generic loop's (:mod:`labelnoise.train`: the configured core loss per pixel, keyed by
``units.loss_id``, and the selector) on the scale-1 prediction of a multi-scale forward pass,
plus ``consistency_weight`` x the multi-scale consistency term::

    probs = multiscale_probs(model, images, scales=scales, flip=False)   # one per scale
    units = adapter.units(log(probs at scale 1), batch)                  # flips, pixel ids
    loss = (w * loss_fn(units)).sum() / w.sum() + consistency_weight * consistency(probs)

At the end of every epoch, :func:`labelnoise.tasks.segmentation.adele.adele_epoch_end` (shared
with :func:`~labelnoise.tasks.segmentation.loop.fit_segmentation`) appends the per-class training
IoU against the ORIGINAL noisy masks, detects each class's memorisation onset, and, once a
class is active, relabels its confident pixels (multi-scale, flip-averaged probabilities above
``tau``) in the masks the next epochs train on (:class:`~labelnoise.tasks.segmentation.data.
RelabeledMasks`; the original masks stay in the dataset). Evaluation, model selection, the
``after_training`` hook (``task.decision: prior_match`` fits its offsets on the ORIGINAL
noisy training masks), detection and reports are the engine's, as for ``method: standard``.

Recipes: ``method: adele`` plus an optional ``adele:`` section, the fields of
:class:`~labelnoise.tasks.segmentation.adele.AdeleConfig` (``r``, ``tau``, ``scales``,
``consistency_weight``, ``min_epochs``). The run directory gets ``adele.json`` (onset epoch of
each class, ``null`` if never; training IoU curve; fraction of corrected pixels per epoch) and
``adele_labels.pt`` (the last corrected training masks, ``(N, H, W)`` int64, item order;
``torch.load(..., weights_only=True)``). The training images and masks are held in memory.
One process only (the epoch-end pass reads the whole training split).
"""

from __future__ import annotations

import json
from typing import Any

import torch
from torch import Tensor, nn

from labelnoise._io import atomic_write
from labelnoise._typed import build
from labelnoise.config import RunConfig
from labelnoise.engine.data import make_loader
from labelnoise.engine.loop import end_of_epoch, finish, run_epochs, start
from labelnoise.engine.setup import build_loss_fn, build_optimizer, build_selector_fn
from labelnoise.tasks.segmentation.adele import (
    AdeleConfig,
    adele_epoch_end,
    multiscale_consistency,
    multiscale_probs,
)
from labelnoise.tasks.segmentation.data import RelabeledMasks, stack_items
from labelnoise.train import make_step, restore_checkpoint, save_checkpoint

__all__ = ["train"]


class _MultiScale(nn.Module):
    """``forward(x)``: log of the scale-1 softmax of ``net`` among the multi-scale predictions
    (kept in ``self.probs`` for the consistency term)."""

    def __init__(self, net: nn.Module, scales: tuple[float, ...]) -> None:
        super().__init__()
        self.net, self.scales = net, scales
        self.probs: list[Tensor] = []

    def forward(self, x: Tensor) -> Tensor:
        self.probs = multiscale_probs(self.net, x, scales=self.scales, flip=False)
        return self.probs[self.scales.index(1.0)].clamp_min(1e-8).log()


def train(cfg: RunConfig, *, resume: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Train one ADELE run; return its metrics (also written to ``run_dir/metrics.json``)."""
    if cfg.method != "adele":
        raise ValueError(f"method must be 'adele' here; got {cfg.method!r}")
    if cfg.task.name != "segmentation":
        raise ValueError(f"method 'adele' needs task 'segmentation'; got task {cfg.task.name!r}")
    opts: AdeleConfig = build(AdeleConfig, cfg.adele, "adele")
    run = start(cfg, resume=resume, overwrite=overwrite)
    if run.finished is not None:
        return run.finished
    acc, adapter, splits = run.accelerator, run.adapter, run.splits
    if acc.num_processes > 1:
        raise ValueError(f"method 'adele' runs on one process; got {acc.num_processes}")

    # --- model, loss, selector, optimizer; the training masks ADELE corrects --------------
    n_train = len(splits.train)
    images, noisy = stack_items(splits.train)  # noisy: the original masks, kept for the IoU
    relabeled = RelabeledMasks(splits.train, noisy)
    model = adapter.build_model(splits)
    n_ids = adapter.num_unit_ids(n_train) or n_train
    loss_fn = build_loss_fn(cfg, splits.num_classes, n_ids).to(acc.device)
    selector = build_selector_fn(cfg, n_train, acc.gather)
    optimizer, scheduler = build_optimizer(cfg, model.parameters(), run.total_steps)
    loader = make_loader(
        relabeled,
        adapter,
        batch_size=cfg.data.batch_size,
        seed=cfg.seed,
        shuffle=True,
        num_workers=cfg.data.num_workers,
    )
    model, optimizer, train_loader = acc.prepare(model, optimizer, loader)
    multiscale = _MultiScale(model, opts.scales)
    images = images.to(acc.device)
    curve: list[list[float]] = []
    onset: list[int | None] = [None] * splits.num_classes
    changed: list[float] = []

    # --- resume from the newest complete checkpoint (with ADELE's masks, curve, onsets) ------
    saved = restore_checkpoint(run, resume, scheduler, loss_fn, selector)
    if saved is not None:
        a = saved["adele"]
        relabeled.target = a["target"]
        curve, onset, changed = a["curve"], a["onset"], a["changed"]
    state = run.state

    def checkpoint() -> None:
        adele = {"target": relabeled.target, "curve": curve, "onset": onset, "changed": changed}
        save_checkpoint(run, scheduler, loss_fn, selector, adele=adele)

    # --- the loop: one step per batch, ADELE's correction at the end of each epoch -----------
    train_step = make_step(
        run,
        model,
        optimizer,
        loss_fn,
        selector,
        forward=multiscale,
        extra_loss=lambda: opts.consistency_weight * multiscale_consistency(multiscale.probs),
    )

    def epoch_end(reached_max: bool) -> None:
        for hook in (selector, loss_fn):
            if hasattr(hook, "on_epoch_end"):
                hook.on_epoch_end(state.epoch)
        corrected = adele_epoch_end(
            acc.unwrap_model(model),
            images,
            noisy.to(acc.device),
            curve,
            onset,
            epoch=state.epoch + 1,
            config=opts,
            batch_size=cfg.data.batch_size,
        )
        if corrected is not None:
            relabeled.target = corrected.cpu()
        changed.append(float((relabeled.target != noisy).float().mean()))
        end_of_epoch(run, model, scheduler.get_last_lr()[0], reached_max)

    run_epochs(
        run,
        train_loader,
        [model],
        train_step=train_step,
        after_sync=scheduler.step,
        epoch_end=epoch_end,
        checkpoint=checkpoint,
    )
    with atomic_write(run.run_dir / "adele_labels.pt", "wb") as f:
        torch.save(relabeled.target, f)
    with atomic_write(run.run_dir / "adele.json") as f:
        json.dump({"onset": onset, "iou_curve": curve, "corrected_fraction": changed}, f)
    return finish(run, model)
