"""Error of an estimated transition matrix."""

from __future__ import annotations

from typing import Literal

import numpy as np

from labelnoise.common.metrics._arrays import to_numpy
from labelnoise.common.transition import TransitionMatrix

__all__ = ["transition_error"]


def _as_matrix(name: str, x: object) -> np.ndarray:
    m = to_numpy(x.matrix) if isinstance(x, TransitionMatrix) else to_numpy(x)
    m = m.astype(np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{name} must be a (C, C) matrix; got shape {m.shape}")
    return m


def transition_error(
    estimate: object,
    truth: object,
    *,
    norm: Literal["relative_l1", "l1", "frobenius", "max"] = "relative_l1",
) -> float:
    """Distance between an estimated and the true transition matrix (row convention).

    ``relative_l1`` (default): ``sum |T_hat - T| / sum |T|``, the estimation error of
    Xia et al. (NeurIPS 2019); ``l1``: mean absolute entry error; ``frobenius``;
    ``max``: the largest absolute entry error. Accepts :class:`TransitionMatrix` or arrays.
    """
    e, t = _as_matrix("estimate", estimate), _as_matrix("truth", truth)
    if e.shape != t.shape:
        raise ValueError(f"estimate must have the shape of truth {t.shape}; got {e.shape}")
    d = np.abs(e - t)
    if norm == "relative_l1":
        return float(d.sum() / np.abs(t).sum())
    if norm == "l1":
        return float(d.mean())
    if norm == "frobenius":
        return float(np.sqrt((d**2).sum()))
    if norm == "max":
        return float(d.max())
    raise ValueError(f"norm must be relative_l1, l1, frobenius or max; got {norm!r}")
