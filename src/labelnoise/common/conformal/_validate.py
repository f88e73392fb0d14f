"""Boundary checks of the conformal and OOD APIs (numpy in, numpy out).

Each check raises ``ValueError`` naming the argument, what was expected and what was got.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["as_labels", "as_matrix", "as_probs", "check_alpha", "check_vector"]


def _numeric(name: str, x: object) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating)
        or np.issubdtype(arr.dtype, np.integer)
        or arr.dtype == bool
    ):
        raise ValueError(f"{name} must be a numeric array; got dtype {arr.dtype}")
    return arr


def as_matrix(name: str, x: object, *, min_cols: int = 1, allow_inf: bool = False) -> np.ndarray:
    """A float64 ``(N, K)`` array with ``N >= 1``, ``K >= min_cols``; NaN refused (and inf
    unless ``allow_inf``)."""
    arr = _numeric(name, x).astype(np.float64)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < min_cols:
        raise ValueError(
            f"{name} must have shape (N, K) with N >= 1 and K >= {min_cols}; got {arr.shape}"
        )
    bad = np.isnan(arr) if allow_inf else ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name} must be finite; got NaN{'' if allow_inf else ' or inf'}")
    return arr


def as_probs(name: str, x: object, *, atol: float = 1e-3) -> np.ndarray:
    """``(N, K)`` probabilities: entries in ``[0, 1]``, rows summing to 1 within ``atol``."""
    p = as_matrix(name, x, min_cols=2)
    if p.min() < 0 or p.max() > 1 + atol:
        raise ValueError(f"{name} must hold probabilities in [0, 1]; got [{p.min()}, {p.max()}]")
    err = np.abs(p.sum(1) - 1)
    if err.max() > atol:
        i = int(err.argmax())
        raise ValueError(f"{name} rows must sum to 1; got row {i} summing to {p[i].sum():.6g}")
    return p


def as_labels(name: str, y: object, n: int, num_classes: int) -> np.ndarray:
    """Integer labels ``(n,)`` in ``[0, num_classes)``."""
    arr = _numeric(name, y)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must be integer labels; got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},); got {arr.shape}")
    if n and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(
            f"{name} must be in [0, {num_classes}); got min {arr.min()}, max {arr.max()}"
        )
    return arr


def check_vector(name: str, x: object, *, min_len: int = 1) -> np.ndarray:
    """A finite float64 ``(N,)`` array with ``N >= min_len``."""
    arr = _numeric(name, x).astype(np.float64)
    if arr.ndim != 1 or arr.shape[0] < min_len:
        raise ValueError(f"{name} must have shape (N,) with N >= {min_len}; got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; got NaN or inf")
    return arr


def check_alpha(alpha: float) -> float:
    """The miscoverage level, in ``(0, 1)``."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number in (0, 1); got {alpha!r}") from None
    if math.isnan(a) or not 0.0 < a < 1.0:
        raise ValueError(f"alpha must be in (0, 1); got {alpha!r}")
    return a
