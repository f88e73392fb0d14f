"""ADELE: Adaptive Early-Learning Correction for segmentation from noisy annotations.

Liu, Liu, Fernandez-Granda et al., CVPR 2022. Three pieces, each a function here:

1. :func:`memorization_onset` -- per class, fit ``f(t) = a (1 - exp(-b t^c))`` to the training
   IoU curve (model prediction vs. the *given* labels, one value per epoch) and report the
   onset of memorisation when the fitted derivative has dropped by a relative amount ``r``:
   ``|f'(1) - f'(t)| / |f'(1)| > r`` (paper: ``r = 0.9``).
2. :func:`correct_labels` -- for the classes whose onset was detected, relabel the pixels where
   the model's (multi-scale, flip-averaged) prediction is confident (``max p > tau``, paper
   ``tau = 0.8``) to the predicted class.
3. :func:`multiscale_consistency` -- the spatial-scale consistency regulariser: predictions on
   rescaled inputs, mapped back to the input size, are pulled towards their mean
   (``mean_s KL(p_bar || p_s)``, ``p_bar`` detached).

:func:`adele_epoch_end` chains 1 and 2 at the end of an epoch; ``method: adele``
(:mod:`labelnoise.methods.adele`) calls it in the engine's loop, with the options of
:class:`AdeleConfig`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labelnoise.common.units import IGNORE_INDEX
from labelnoise.tasks.segmentation.metrics import confusion_matrix, iou_scores
from labelnoise.tasks.segmentation.models import predict

__all__ = [
    "AdeleConfig",
    "adele_epoch_end",
    "correct_labels",
    "fit_early_learning_curve",
    "memorization_onset",
    "multiscale_consistency",
    "multiscale_probs",
]


@dataclass(frozen=True)
class AdeleConfig:
    """ADELE options (paper defaults: ``r = 0.9``, ``tau = 0.8``, scales 0.7-1.3).

    Attributes:
        r: relative drop of the fitted IoU curve's derivative that marks a class's
            memorisation onset, in ``(0, 1)`` (:func:`memorization_onset`).
        tau: confidence threshold of the label correction, in ``[0, 1)``.
        scales: input scales of the multi-scale predictions (positive, must contain 1.0: the
            training loss uses the scale-1 prediction).
        consistency_weight: weight of the multi-scale consistency term (``>= 0``).
        min_epochs: the onset test starts once the IoU curve has this many points (``>= 1``;
            ours: a three-parameter fit to the first 3-5 noisy epochs fires too early on
            small data).

    Raises:
        ValueError: naming the field (``method.r``, ...), the expected and the received value.
    """

    r: float = 0.9
    tau: float = 0.8
    scales: tuple[float, ...] = (0.75, 1.0, 1.25)
    consistency_weight: float = 1.0
    min_epochs: int = 6

    def __post_init__(self) -> None:
        scales = tuple(float(s) for s in self.scales)
        object.__setattr__(self, "scales", scales)
        if not 0 < self.r < 1:
            raise ValueError(f"method.r must be in (0, 1); got {self.r!r}")
        if not 0 <= self.tau < 1:
            raise ValueError(f"method.tau must be in [0, 1); got {self.tau!r}")
        if not scales or min(scales) <= 0 or 1.0 not in scales:
            raise ValueError(f"method.scales must be positive and contain 1.0; got {list(scales)}")
        if not self.consistency_weight >= 0:
            raise ValueError(
                f"method.consistency_weight must be >= 0; got {self.consistency_weight!r}"
            )
        if self.min_epochs < 1:
            raise ValueError(f"method.min_epochs must be >= 1; got {self.min_epochs!r}")


def _curve(t: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a * (1 - np.exp(-b * t**c))


def _derivative(t: float, a: float, b: float, c: float) -> float:
    return float(a * b * c * t ** (c - 1) * np.exp(-b * t**c))


def fit_early_learning_curve(values: Sequence[float]) -> tuple[float, float, float]:
    """Least-squares fit of ``a (1 - exp(-b t^c))`` to ``values`` at ``t = 1, 2, ...``.

    Returns ``(a, b, c)`` with ``a, b, c > 0`` (bounded fit, ``scipy.optimize.curve_fit``).
    """
    from scipy.optimize import OptimizeWarning, curve_fit

    y = np.asarray(values, dtype=float)
    if y.ndim != 1 or y.size < 3:
        raise ValueError(f"values must be a 1-D curve of >= 3 epochs; got shape {y.shape}")
    t = np.arange(1, y.size + 1, dtype=float)
    p0 = (max(float(y.max()), 1e-3), 0.5, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        params, _ = curve_fit(
            _curve, t, y, p0=p0, bounds=([1e-6, 1e-6, 1e-3], [2.0, 50.0, 10.0]), maxfev=5000
        )
    a, b, c = (float(p) for p in params)
    return a, b, c


def memorization_onset(values: Sequence[float], *, r: float = 0.9) -> bool:
    """True when the fitted IoU curve's derivative at the last epoch ``t`` has dropped by more
    than ``r`` relative to epoch 1: ``|f'(1) - f'(t)| / |f'(1)| > r``."""
    if not 0 < r < 1:
        raise ValueError(f"r must be in (0, 1); got {r}")
    if len(values) < 3:
        return False
    a, b, c = fit_early_learning_curve(values)
    d1 = _derivative(1.0, a, b, c)
    if d1 == 0:
        return True
    return abs(d1 - _derivative(float(len(values)), a, b, c)) / abs(d1) > r


def correct_labels(
    labels: Tensor,
    probs: Tensor,
    *,
    active: Tensor,
    tau: float = 0.8,
    ignore_index: int = IGNORE_INDEX,
) -> Tensor:
    """ADELE's label correction.

    Args:
        labels: ``(N, H, W)`` current labels.
        probs: ``(N, C, H, W)`` class probabilities.
        active: ``(C,)`` bool, classes whose correction has started.
        tau: confidence threshold.

    Returns:
        New ``(N, H, W)`` labels: pixels with ``max p > tau`` and an active argmax class take
        that class; ignored pixels stay ignored.
    """
    conf, pred = probs.max(1)
    change = (conf > tau) & active.to(probs.device)[pred] & (labels != ignore_index)
    return torch.where(change, pred, labels)


def multiscale_probs(
    model: nn.Module,
    images: Tensor,
    *,
    scales: Sequence[float] = (0.75, 1.0, 1.25),
    flip: bool = True,
) -> list[Tensor]:
    """Softmax outputs of ``model`` on ``images`` rescaled by each of ``scales`` (and
    horizontally flipped when ``flip``), resized back to ``(H, W)``: a list of ``(N, C, H, W)``."""
    h, w = images.shape[-2:]
    out = []
    for s in scales:
        x = images if s == 1 else F.interpolate(images, scale_factor=s, mode="bilinear")
        views = [(x, False)] + ([(x.flip(-1), True)] if flip else [])
        for v, flipped in views:
            logits = model(v)
            logits = logits.flip(-1) if flipped else logits
            if logits.shape[-2:] != (h, w):
                logits = F.interpolate(logits, size=(h, w), mode="bilinear")
            out.append(logits.softmax(1))
    return out


def multiscale_consistency(probs: Sequence[Tensor]) -> Tensor:
    """``mean_s KL(p_bar || p_s)`` per pixel, averaged: ``p_bar`` is the detached mean of
    ``probs`` (each ``(N, C, H, W)``)."""
    p_bar = torch.stack(list(probs)).mean(0).detach().clamp_min(1e-8)
    kl = [(p_bar * (p_bar.log() - p.clamp_min(1e-8).log())).sum(1).mean() for p in probs]
    return torch.stack(kl).mean()


def adele_epoch_end(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    curve: list[list[float]],
    onset: list[int | None],
    *,
    epoch: int,
    config: AdeleConfig,
    batch_size: int = 8,
) -> Tensor | None:
    """ADELE's end of epoch ``epoch`` (1-based), updating ``curve`` and ``onset`` in place.

    Appends to ``curve`` the per-class training IoU of the model's argmax (eval mode) against
    ``labels``, the *given* noisy masks ``(N, H, W)`` of ``images (N, C_in, H, W)``; marks
    ``onset[c] = epoch`` for each class ``c`` whose onset is detected now (from epoch
    ``config.min_epochs``); then, when any class is active, returns the corrected labels
    :func:`correct_labels` of ``labels`` with the flip-averaged multi-scale probabilities
    (computed ``batch_size`` images at a time), else ``None`` (train on ``labels``). The model's
    training mode is restored.
    """
    num_classes = len(onset)
    probs = predict(model, images)
    iou = iou_scores(confusion_matrix(probs.argmax(1), labels, num_classes))
    curve.append([float(v) for v in iou.nan_to_num(0.0)])
    for c in range(num_classes):
        if (
            onset[c] is None
            and epoch >= config.min_epochs
            and memorization_onset([row[c] for row in curve], r=config.r)
        ):
            onset[c] = epoch
    active = torch.tensor([o is not None for o in onset])
    if not active.any():
        return None
    was = model.training
    model.eval()
    with torch.no_grad():
        ms = torch.cat(
            [
                torch.stack(
                    multiscale_probs(model, images[i : i + batch_size], scales=config.scales)
                ).mean(0)
                for i in range(0, len(images), batch_size)
            ]
        )
    model.train(was)
    return correct_labels(labels, ms, active=active, tau=config.tau)
