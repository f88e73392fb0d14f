"""Expected calibration error (Guo, Pleiss, Sun & Weinberger, ICML 2017)."""

from __future__ import annotations

import numpy as np

from labelnoise.common.metrics._arrays import to_numpy

__all__ = ["expected_calibration_error"]


def expected_calibration_error(probs: object, labels: object, *, n_bins: int = 15) -> float:
    """``sum_b |B_b|/N * |acc(B_b) - conf(B_b)|`` over ``n_bins`` equal-width bins ``(lo, hi]``.

    Args:
        probs: ``(N, K)`` predicted probabilities; confidence is the row max, the prediction
            its argmax (first on ties).
        labels: ``(N,)`` true labels in ``[0, K)``.
        n_bins: number of bins on ``[0, 1]`` (default 15).
    """
    p = to_numpy(probs).astype(np.float64)
    y = to_numpy(labels)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ValueError(f"probs must have shape (N, K) with N > 0; got {p.shape}")
    if y.shape != (p.shape[0],):
        raise ValueError(f"labels must have shape ({p.shape[0]},); got {y.shape}")
    if y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(f"labels must be in [0, {p.shape[1]}); got [{y.min()}, {y.max()}]")
    if int(n_bins) < 1:
        raise ValueError(f"n_bins must be >= 1; got {n_bins}")
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
    b = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, int(n_bins) - 1)
    gap = np.bincount(b, weights=correct - conf, minlength=n_bins)
    return float(np.abs(gap).sum() / p.shape[0])
