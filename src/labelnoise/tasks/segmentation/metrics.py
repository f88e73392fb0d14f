"""Segmentation metrics: mIoU and Dice from a confusion matrix, boundary F1 (Csurka et al.,
BMVC 2013 / the BSDS boundary measure with a pixel tolerance)."""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

from labelnoise.common.units import IGNORE_INDEX

__all__ = ["boundary_f1", "confusion_matrix", "dice_scores", "iou_scores", "segmentation_metrics"]


def confusion_matrix(
    pred: Tensor, target: Tensor, num_classes: int, *, ignore_index: int = IGNORE_INDEX
) -> Tensor:
    """``(C, C)`` int64 counts ``M[true, pred]`` over units; ``ignore_index`` targets skipped."""
    pred, target = pred.reshape(-1).long(), target.reshape(-1).long()
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must match; got {pred.shape} and {target.shape}")
    keep = target != ignore_index
    idx = target[keep] * num_classes + pred[keep]
    return torch.bincount(idx, minlength=num_classes**2).reshape(num_classes, num_classes)


def iou_scores(cm: Tensor) -> Tensor:
    """Per-class IoU ``TP / (TP + FP + FN)`` (NaN for a class absent from both)."""
    cm = cm.double()
    tp = cm.diag()
    denom = cm.sum(0) + cm.sum(1) - tp
    return torch.where(denom > 0, tp / denom.clamp_min(1), torch.nan)


def dice_scores(cm: Tensor) -> Tensor:
    """Per-class Dice ``2 TP / (2 TP + FP + FN)``."""
    cm = cm.double()
    tp = cm.diag()
    denom = cm.sum(0) + cm.sum(1)
    return torch.where(denom > 0, 2 * tp / denom.clamp_min(1), torch.nan)


def segmentation_metrics(cm: Tensor) -> dict[str, float]:
    """``miou``, ``dice`` (means over present classes) and ``pixel_accuracy``."""
    total = cm.sum()
    return {
        "miou": float(iou_scores(cm).nanmean()),
        "dice": float(dice_scores(cm).nanmean()),
        "pixel_accuracy": float(cm.diag().sum() / total) if total else float("nan"),
    }


def _boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels whose 4-neighbourhood holds another label."""
    b = np.zeros(mask.shape, dtype=bool)
    b[:-1] |= mask[:-1] != mask[1:]
    b[1:] |= mask[1:] != mask[:-1]
    b[:, :-1] |= mask[:, :-1] != mask[:, 1:]
    b[:, 1:] |= mask[:, 1:] != mask[:, :-1]
    return b


def boundary_f1(
    pred: Tensor | np.ndarray, target: Tensor | np.ndarray, *, tolerance: int = 2
) -> float:
    """Boundary F1 of one ``(H, W)`` label map: a predicted boundary pixel is correct when a
    true boundary pixel lies within ``tolerance`` pixels (Euclidean), and vice versa.
    Both boundaries empty -> 1.0."""
    p, t = np.asarray(pred), np.asarray(target)
    if p.shape != t.shape or p.ndim != 2:
        raise ValueError(f"pred and target must be (H, W) of one shape; got {p.shape}, {t.shape}")
    bp, bt = _boundary(p), _boundary(t)
    if not bp.any() and not bt.any():
        return 1.0
    if not bp.any() or not bt.any():
        return 0.0
    dt = ndimage.distance_transform_edt(~bt)
    dp = ndimage.distance_transform_edt(~bp)
    precision = float((dt[bp] <= tolerance).mean())
    recall = float((dp[bt] <= tolerance).mean())
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
