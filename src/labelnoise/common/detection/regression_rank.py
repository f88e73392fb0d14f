"""cleanlab's regression label-quality scores: ``outre`` (its default) and ``residual``.

``cleanlab.regression.rank.get_label_quality_scores`` (cleanlab 2.9; OUTRE from Zhou, Wang &
Mueller, "Detecting Errors in Numerical Data via any Regression Model", 2023):

* ``residual``: ``exp(-|y_hat - y|)``.
* ``outre``: each example is the 2-D point ``(z(y), 5 z(y_hat - y))`` (``z`` standardises by
  the mean and the population std + 1e-100); ``d_i`` is its mean Euclidean distance to its
  ``ceil(N / 2)`` nearest points, itself included (at 0), and the score is the kNN outlier
  transform ``exp(-d_i / max(median d, 1e-6))``, 1 where ``d_i < sqrt(100 eps)``.

Scores are in ``[0, 1]``, lower = more likely a label error. Same output as cleanlab; the
``N x N/2`` neighbour matrix cleanlab builds is never formed: the sum of the ``ceil(N/2)``
smallest distances of a block of rows is taken with ``np.partition`` (no sort), so memory
stays at one block and time is ``O(N^2)`` without cleanlab's ``O(N^2 log N)`` sort.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from labelnoise.common.detection.outlier import distances_to_scores

__all__ = ["get_regression_label_quality_scores", "outre_scores"]

_TINY = 1e-100
_BLOCK_BYTES = 64 * 2**20


def _vectors(labels: object, predictions: object) -> tuple[np.ndarray, np.ndarray]:
    out = []
    for name, x in (("labels", labels), ("predictions", predictions)):
        a = np.asarray(x)
        if a.dtype.kind not in "fiub":
            raise ValueError(f"{name} must be a numeric array; got dtype {a.dtype}")
        a = a[:, 0] if a.ndim == 2 and a.shape[1] == 1 else a
        if a.ndim != 1 or a.size == 0:
            raise ValueError(f"{name} must have shape (N,) with N >= 1; got {a.shape}")
        a = np.asarray(a, dtype=np.float64)  # no copy when already float64
        if not np.isfinite(a.sum()) and not np.isfinite(a).all():  # one pass when finite
            raise ValueError(f"{name} must be finite; got NaN or inf")
        out.append(a)
    if out[0].shape != out[1].shape:
        raise ValueError(f"predictions must have shape {out[0].shape}; got {out[1].shape}")
    return out[0], out[1]


def _sum_nearest(x: np.ndarray, y: np.ndarray, m: int) -> np.ndarray:
    """``(N,)`` sum of each point's ``m`` smallest Euclidean distances (itself included)."""
    n = x.shape[0]
    block = max(1, _BLOCK_BYTES // (8 * n))
    out = np.empty(n)
    for s in range(0, n, block):
        dx = x[s : s + block, None] - x[None, :]
        dy = y[s : s + block, None] - y[None, :]
        np.multiply(dx, dx, out=dx)
        np.multiply(dy, dy, out=dy)
        dx += dy
        np.sqrt(dx, out=dx)
        if m < n:
            dx = np.partition(dx, m - 1, axis=1)[:, :m]
        out[s : s + block] = dx.sum(axis=1)
    return out


def outre_scores(
    labels: np.ndarray,
    predictions: np.ndarray,
    *,
    residual_scale: float = 5.0,
    frac_neighbors: float = 0.5,
) -> np.ndarray:
    """OUTRE scores ``(N,)`` of ``labels (N,)`` given out-of-sample ``predictions (N,)``.

    Args:
        labels: given continuous labels.
        predictions: out-of-sample predictions (e.g. cross-validated).
        residual_scale: weight of the standardised residual axis (cleanlab's 5).
        frac_neighbors: neighbours as a fraction of ``N`` (cleanlab's 0.5), in ``(0, 1]``.
    """
    y, pred = _vectors(labels, predictions)
    if not residual_scale > 0:
        raise ValueError(f"residual_scale must be > 0; got {residual_scale!r}")
    if not 0 < frac_neighbors <= 1:
        raise ValueError(f"frac_neighbors must be in (0, 1]; got {frac_neighbors!r}")
    residual = pred - y
    zy = (y - y.mean()) / (y.std() + _TINY)
    zr = residual_scale * ((residual - residual.mean()) / (residual.std() + _TINY))
    m = int(math.ceil(frac_neighbors * y.shape[0]))
    avg = _sum_nearest(zy, zr, m) / m
    scale = float(max(np.median(avg), 100 * np.finfo(np.float64).eps))
    return distances_to_scores(avg, t=1.0, scaling_factor=scale, metric="euclidean")


def get_regression_label_quality_scores(
    labels: np.ndarray,
    predictions: np.ndarray,
    *,
    method: Literal["outre", "residual"] = "outre",
) -> np.ndarray:
    """cleanlab's ``regression.rank.get_label_quality_scores``: ``(N,)`` in ``[0, 1]``.

    Args:
        labels: ``(N,)`` given continuous labels.
        predictions: ``(N,)`` out-of-sample predictions.
        method: ``outre`` (default, :func:`outre_scores`) or ``residual``.
    """
    if method == "outre":
        return outre_scores(labels, predictions)
    if method == "residual":
        y, pred = _vectors(labels, predictions)
        r = pred - y
        np.abs(r, out=r)
        np.negative(r, out=r)
        return np.exp(r, out=r)
    raise ValueError(f"method must be 'outre' or 'residual'; got {method!r}")
