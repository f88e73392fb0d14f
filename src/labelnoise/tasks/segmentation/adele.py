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
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labelnoise.common.units import IGNORE_INDEX

__all__ = [
    "correct_labels",
    "fit_early_learning_curve",
    "memorization_onset",
    "multiscale_consistency",
    "multiscale_probs",
]


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
    return tuple(float(p) for p in params)


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
