"""``adele``: Adaptive Early-Learning Correction for segmentation (Liu et al., CVPR 2022).

The step is :mod:`~labelnoise.methods.standard`'s (the configured core loss per pixel, keyed by
``units.loss_id``, and the selector) on the scale-1 prediction of a multi-scale forward pass,
plus ``consistency_weight`` x the multi-scale consistency term::

    probs = multiscale_probs(model, images, scales=scales, flip=False)   # one per scale
    units = adapter.units(log(probs at scale 1), batch)                  # flips, pixel ids
    loss = (w * loss_fn(units)).sum() / w.sum() + consistency_weight * consistency(probs)

At the end of every epoch, :func:`labelnoise.tasks.segmentation.adele.adele_epoch_end`
appends the per-class training IoU against the ORIGINAL noisy masks, detects each class's
memorisation onset, and, once a class is active, relabels its confident pixels (multi-scale,
flip-averaged probabilities above ``tau``) in the masks the next epochs train on
(:class:`~labelnoise.tasks.segmentation.data.RelabeledMasks`; the original masks stay in the
task's split). Evaluation, model selection, the ``after_training`` hook (``task.decision:
prior_match`` fits its offsets on the ORIGINAL noisy training masks), detection and reports
are the loop's.

Options: :class:`~labelnoise.tasks.segmentation.adele.AdeleConfig` (``r``, ``tau``,
``scales``, ``consistency_weight``, ``min_epochs``). The run directory gets ``adele.json``
(onset epoch of each class, ``null`` if never; training IoU curve; fraction of corrected
pixels per epoch) and ``adele_labels.pt`` (the last corrected training masks, ``(N, H, W)``
int64, item order; ``torch.load(..., weights_only=True)``). The training images and masks are
held in memory. One process only (the epoch-end pass reads the whole training split).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from labelnoise._io import atomic_write
from labelnoise.methods.base import Net, Selector, StepOutput
from labelnoise.methods.standard import Standard
from labelnoise.tasks.segmentation.adele import (
    AdeleConfig,
    adele_epoch_end,
    multiscale_consistency,
    multiscale_probs,
)
from labelnoise.tasks.segmentation.data import RelabeledMasks, stack_items

__all__ = ["Adele"]


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


class Adele(Standard):
    """The standard step on a multi-scale forward, relabelling at each epoch's end."""

    name = "adele"
    Options = AdeleConfig
    tasks = frozenset({"segmentation"})
    single_process = True

    def train_dataset(self, train: Dataset) -> Dataset:
        self.images, self.noisy = stack_items(train)  # noisy: the original masks (IoU curve)
        self.relabeled = RelabeledMasks(train, self.noisy)
        self.curve: list[list[float]] = []
        self.onset: list[int | None] = [None] * self.run.splits.num_classes
        self.changed: list[float] = []
        return self.relabeled

    def setup(self, nets: Sequence[Net], selector: Selector) -> None:
        super().setup(nets, selector)
        self.multiscale = _MultiScale(self.nets[0].model, self.options.scales)
        self.images = self.images.to(self.run.accelerator.device)

    def step(self, batch: Any) -> StepOutput:
        out = self.weighted_step(self.multiscale, batch)
        extra = self.options.consistency_weight * multiscale_consistency(self.multiscale.probs)
        return StepOutput(out.loss + extra, out.units, out.unit_loss)

    def on_epoch_end(self, epoch: int) -> None:
        acc = self.run.accelerator
        corrected = adele_epoch_end(
            acc.unwrap_model(self.nets[0].model),
            self.images,
            self.noisy.to(acc.device),
            self.curve,
            self.onset,
            epoch=epoch + 1,
            config=self.options,
            batch_size=self.run.cfg.data.batch_size,
        )
        if corrected is not None:
            self.relabeled.target = corrected.cpu()
        self.changed.append(float((self.relabeled.target != self.noisy).float().mean()))

    def after_training(self) -> None:
        if not self.run.accelerator.is_main_process:
            return
        run_dir = self.run.run_dir
        with atomic_write(run_dir / "adele_labels.pt", "wb") as f:
            torch.save(self.relabeled.target, f)
        with atomic_write(run_dir / "adele.json") as f:
            json.dump(
                {"onset": self.onset, "iou_curve": self.curve, "corrected_fraction": self.changed},
                f,
            )

    def state_dict(self) -> dict[str, Any]:
        return {
            "target": self.relabeled.target,
            "curve": self.curve,
            "onset": self.onset,
            "changed": self.changed,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.relabeled.target = state["target"]
        self.curve, self.onset, self.changed = state["curve"], state["onset"], state["changed"]
