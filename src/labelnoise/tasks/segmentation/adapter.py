"""The semantic segmentation adapter: pixels are units.

Every loss and selector of the core applies per pixel; per-image scores reduce with
``labelnoise.common.units.reduce_units``. In training mode each batch is flipped horizontally
and vertically with probability 1/2 each (``flip``; torch's RNG, which the engine seeds and
checkpoints). Evaluation keeps only class decisions (:meth:`SegmentationAdapter.eval_units`),
so metrics (mIoU, Dice, pixel accuracy, boundary F1) scale to many pixels.

``decision: prior_match`` replaces the argmax of the final evaluation by the prior-matched
rule (:func:`labelnoise.common.decision.fit_prior_offsets`): after training, per-class logit
offsets are fitted on the selected model's predictions for the training split so that it
predicts each class for the fraction of pixels the class has in the (noisy) training masks;
the final val/test metrics (and ``labelnoise evaluate``) use ``argmax(logits + offsets)``
and also report the argmax decision of the same model under ``<metric>_argmax`` (one run
gives both). No clean or test labels are used. Per-epoch evaluations during training stay
argmax.

``ignore_boundary: k`` (default 0) sets the training masks' pixels within ``k`` pixels
(Chebyshev) of a class boundary to the ignore index
(:func:`labelnoise.tasks.segmentation.boundary.ignore_near_boundary`, a boundary-tolerant
"relaxed" target): they carry no loss. The band is cut from each training batch (the split
keeps the full noisy masks), so ``prior_match`` matches the predictions on all training pixels
to the noisy masks' class frequencies, as without the band.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from labelnoise.common.decision import apply_offsets, class_frequencies, fit_prior_offsets
from labelnoise.common.noise.masks import semantic_mask_noise
from labelnoise.common.units import IGNORE_INDEX, Units, flatten_units
from labelnoise.tasks.base import DatasetSplits, TaskAdapter
from labelnoise.tasks.segmentation.boundary import ignore_near_boundary
from labelnoise.tasks.segmentation.data import (
    ISBI_CLASSES,
    MaskDataset,
    read_isbi2012,
    resize_batch,
)
from labelnoise.tasks.segmentation.metrics import (
    boundary_f1,
    confusion_matrix,
    segmentation_metrics,
)

__all__ = ["NOISE_SIZE", "SegmentationAdapter", "SegmentationConfig"]

NOISE_SIZE = 256  # masks are corrupted at 256 x 256 (COCO-N preset pixel sizes), then resized


@dataclass
class MaskNoiseOptions:
    preset: Literal["none", "easy", "medium", "hard"] = "none"
    seed: int | None = None


@dataclass
class SegmentationConfig:
    """The recipe's ``task:`` section for ``segmentation``."""

    dataset: str = "isbi2012"
    image_size: int = 256
    val_count: int = 6
    arch: str = "tiny"
    encoder: str = "resnet18"
    encoder_depth: int = 3
    width: int = 8
    encoder_weights: str | None = None
    flip: bool = True
    decision: Literal["argmax", "prior_match"] = "argmax"
    ignore_boundary: int = 0
    noise: MaskNoiseOptions = field(default_factory=MaskNoiseOptions)

    def __post_init__(self) -> None:
        if self.ignore_boundary < 0:
            raise ValueError(f"task.ignore_boundary must be >= 0; got {self.ignore_boundary!r}")


class SegmentationAdapter(TaskAdapter):
    """ISBI-2012 (or another ``train/{image,label}`` folder with 0/255 masks) with COCO-N-style
    spatial noise on the training and validation masks (simulated at 256 x 256, then resized
    to ``image_size``); the test split is the clean validation images."""

    name = "segmentation"
    Config = SegmentationConfig

    def __init__(self, config: SegmentationConfig) -> None:
        super().__init__(config)
        self.offsets: torch.Tensor | None = None  # (C,) set by after_training (prior_match)

    def build_datasets(self, data_dir: Path | None, *, seed: int) -> DatasetSplits:
        c = self.config
        root = Path(c.dataset) if data_dir is None else Path(data_dir) / c.dataset
        x, y = read_isbi2012(root, image_size=NOISE_SIZE)
        if not 0 < c.val_count < len(y):
            raise ValueError(f"val_count must be in (0, {len(y)}); got {c.val_count}")
        noise_seed = seed if c.noise.seed is None else c.noise.seed
        noisy = semantic_mask_noise(y, num_classes=2, preset=c.noise.preset, seed=noise_seed).noisy
        noisy = resize_batch(noisy, c.image_size, mask=True)
        x, y = resize_batch(x, c.image_size, mask=False), resize_batch(y, c.image_size, mask=True)
        n_tr = len(y) - c.val_count
        train_cm = confusion_matrix(noisy[:n_tr], y[:n_tr], 2)
        return DatasetSplits(
            train=MaskDataset(x[:n_tr], noisy[:n_tr], y[:n_tr]),
            val=MaskDataset(x[n_tr:], noisy[n_tr:], y[n_tr:]),
            test=MaskDataset(x[n_tr:], y[n_tr:], y[n_tr:]),
            num_classes=2,
            class_names=list(ISBI_CLASSES),
            info={
                "noise_preset": c.noise.preset,
                "pixel_noise_rate": float((noisy != y).float().mean()),
                "train_pixel_noise_rate": float((noisy[:n_tr] != y[:n_tr]).float().mean()),
                "train_label_miou": segmentation_metrics(train_cm)["miou"],
            },
        )

    def build_model(self, splits: DatasetSplits) -> nn.Module:
        """A fresh network; it also drops the decision offsets of an earlier run of this
        adapter (the engine reuses a task built for the same data and seed)."""
        c = self.config
        self.offsets = None
        if c.arch == "tiny":
            from labelnoise.tasks.segmentation.models import TinyUNet

            return TinyUNet(num_classes=splits.num_classes, width=c.width, depth=c.encoder_depth)
        from labelnoise.tasks.segmentation.models import build_smp_model

        return build_smp_model(
            arch=c.arch,
            encoder=c.encoder,
            num_classes=splits.num_classes,
            encoder_depth=c.encoder_depth,
            encoder_weights=c.encoder_weights,
        )

    def num_unit_ids(self, num_examples: int) -> int:
        """One id per training pixel (``example_id * H * W + pixel``): ELR's memory is per
        pixel."""
        return num_examples * self.config.image_size**2

    def units(self, model: nn.Module, batch: dict, *, target_key: str = "target") -> Units:
        image, target, ids = batch["image"], batch[target_key], batch["example_id"]
        n, h, w = target.shape
        within = torch.arange(h * w, device=ids.device).view(1, h, w)
        pixel = ids.long().view(n, 1, 1) * (h * w) + within  # unit ids, flipped with the pixels
        if self.config.ignore_boundary and model.training:  # relaxed targets: training only
            target = ignore_near_boundary(target, k=self.config.ignore_boundary)
        if self.config.flip and model.training:
            for dim in (-1, -2):
                if bool(torch.rand(()) < 0.5):
                    image, target, pixel = image.flip(dim), target.flip(dim), pixel.flip(dim)
        u = flatten_units(model(image), target, example_id=ids)
        return replace(u, unit_id=pixel.reshape(-1)[target.reshape(-1) != IGNORE_INDEX])

    def after_training(self, train_units: Callable[[], Units]) -> None:
        """``decision: prior_match``: fit the logit offsets on the training split's units so
        the predicted class fractions equal the noisy training masks' class frequencies."""
        if self.config.decision != "prior_match":
            return
        u = train_units()
        keep = u.target != IGNORE_INDEX
        prior = class_frequencies(u.target[keep], u.pred.shape[1])
        self.offsets = fit_prior_offsets(u.pred[keep], prior).offsets

    def eval_units(self, units: Units) -> Units:
        """Class decisions: ``pred (U,)`` argmax; once ``prior_match`` offsets are fitted,
        ``pred (U, 2)`` = [prior-matched decision, argmax] (both are reported)."""
        argmax = units.pred.argmax(1)
        if self.offsets is None:
            return Units(argmax, units.target, units.example_id)
        decided = apply_offsets(units.pred.float(), self.offsets.to(units.pred.device))
        return Units(torch.stack([decided, argmax], 1), units.target, units.example_id)

    def metrics(self, units: Units) -> dict[str, float]:
        """``miou``, ``dice``, ``pixel_accuracy`` and the mean per-image ``boundary_f1``
        (:func:`~labelnoise.tasks.segmentation.metrics.boundary_f1`, tolerance 2 px; over the
        images whose ``image_size**2`` pixels are all present) of the decisions; with
        ``prior_match`` offsets also the same metrics of the argmax as ``<name>_argmax``.
        ``units.pred``: decisions from :meth:`eval_units` or ``(U, C)`` logits."""
        pred = units.pred
        if pred.dim() == 2 and self.offsets is not None and pred.shape[1] == 2:
            decisions = {"": pred[:, 0], "_argmax": pred[:, 1]}  # from eval_units
        elif pred.dim() == 2:
            decisions = {"": pred.argmax(1)}  # logits
        else:
            decisions = {"": pred}
        num_classes = 2 if pred.dim() == 1 or self.offsets is not None else pred.shape[1]
        num_classes = max(num_classes, int(units.target.max()) + 1 if len(units) else 1)
        out: dict[str, float] = {}
        for suffix, p in decisions.items():
            p = p.long()
            m = segmentation_metrics(confusion_matrix(p, units.target, num_classes))
            bf1 = self._boundary_f1(p, units)
            if bf1 is not None:
                m["boundary_f1"] = bf1
            out |= {f"{k}{suffix}": v for k, v in m.items()}
        return out

    def _boundary_f1(self, pred: torch.Tensor, units: Units) -> float | None:
        """Mean boundary F1 over the images with all ``S * S`` pixels (row-major per image,
        as :func:`flatten_units` lays them out); None when there is none."""
        side = self.config.image_size
        order = torch.sort(units.example_id, stable=True).indices
        ids, p, t = units.example_id[order], pred[order], units.target[order]
        _, counts = torch.unique_consecutive(ids, return_counts=True)
        scores, start = [], 0
        for n in counts.tolist():
            if n == side * side:
                sl = slice(start, start + n)
                scores.append(
                    boundary_f1(p[sl].view(side, side).numpy(), t[sl].view(side, side).numpy())
                )
            start += n
        return float(sum(scores) / len(scores)) if scores else None

    @property
    def primary_metric(self) -> str:
        return "miou"
