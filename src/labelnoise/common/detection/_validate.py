"""Boundary checks for the detection API: labels ``(N,)`` and pred_probs ``(N, K)``.

Each check raises ``ValueError`` naming the argument, the expected and the received value.
The private ``_compute_*`` paths behind the public functions assume inputs that passed here.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from labelnoise.common._checks import as_long_tensor, check_labels
from labelnoise.common.detection._kernels import check_pass, row_sums_and_min

__all__ = [
    "ROW_SUM_ATOL",
    "as_float_array",
    "check_inputs",
    "check_inputs_fused",
    "check_inputs_sc",
    "check_multilabel_inputs",
]

#: How far a row of ``pred_probs`` may sum from 1 before it is rejected.
ROW_SUM_ATOL = 1e-3


def as_float_array(name: str, x: object) -> np.ndarray:
    """A float32/float64 numpy view of ``x`` (tensors are detached and moved to CPU)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise ValueError(f"{name} must be a numeric array; got dtype {arr.dtype}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return arr


def _check_prob_values(name: str, p: np.ndarray) -> None:
    lo, hi = float(p.min()), float(p.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        bad = "NaN" if np.isnan(lo) or np.isnan(hi) else "inf"
        raise ValueError(f"{name} must be finite; got {bad}")
    if lo < 0:
        raise ValueError(f"{name} must be non-negative; got min {lo:.4g}")


def _as_labels(name: str, labels: object) -> np.ndarray:
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    arr = np.asarray(labels)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    return as_long_tensor(name, np.array(arr)).numpy()


def check_inputs(
    labels: object, pred_probs: object, *, check_row_sums: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Validate single-label inputs; return ``(labels int64 (N,), pred_probs float (N, K))``.

    Raises ``ValueError`` for: ``pred_probs`` not 2-D, ``N = 0``, ``K < 2``, NaN/inf or
    negative probabilities, rows not summing to 1 within :data:`ROW_SUM_ATOL`, ``labels`` not
    1-D of length ``N``, non-integral labels, or labels outside ``[0, K)``.
    """
    p = _probs_matrix(pred_probs)
    n, k = p.shape
    if check_row_sums:
        # NaN or inf makes its row sum non-finite, so one pass (min) checks the rest
        sums, lo, _ = row_sums_and_min(p)  # one cache-blocked pass
        _check_row_sums(p, sums, lo)
    else:
        _check_prob_values("pred_probs", p)
    y = _as_labels("labels", labels)
    if y.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) to match pred_probs; got {y.shape}")
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= k:
        raise ValueError(
            f"labels must be in [0, {k}); got {'min ' + str(lo) if lo < 0 else 'max ' + str(hi)}"
        )
    return y, p


def check_multilabel_inputs(labels: object, pred_probs: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate multi-label inputs; return ``(labels uint8 (N, K), pred_probs float (N, K))``.

    ``labels`` is a list of lists of class ids or an ``(N, K)`` 0/1 array; every entry of
    ``pred_probs`` is an independent probability in ``[0, 1]`` (rows need not sum to 1).
    """
    p = _probs_matrix(pred_probs, min_k=1)
    n, k = p.shape
    _check_prob_values("pred_probs", p)
    if float(p.max()) > 1.0:
        raise ValueError(f"pred_probs must be in [0, 1] for multi_label; got max {p.max():.4g}")
    if isinstance(labels, (list, tuple)) and set(map(type, labels)) <= {list, tuple}:
        if len(labels) != n:
            raise ValueError(f"labels must have {n} rows to match pred_probs; got {len(labels)}")
        y = np.zeros((n, k), dtype=np.uint8)
        lengths = np.fromiter(map(len, labels), dtype=np.int64, count=n)
        flat = np.asarray(list(itertools.chain.from_iterable(labels)))
        if flat.size == 0 or flat.dtype.kind in "iu":  # all at once; else row by row below
            if flat.size:
                check_labels("labels", torch.from_numpy(flat.astype(np.int64)), k)
                y[np.repeat(np.arange(n), lengths), flat] = 1
            return y, p
        for i, row in enumerate(labels):
            ids = _as_labels("labels", list(row)) if len(row) else np.zeros(0, dtype=np.int64)
            check_labels("labels", torch.from_numpy(ids), k)
            y[i, ids] = 1
        return y, p
    arr = np.asarray(labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels)
    if arr.shape != (n, k):
        raise ValueError(
            f"labels must be a list of lists or a ({n}, {k}) 0/1 array; got shape {arr.shape}"
        )
    if not np.isin(arr, (0, 1)).all():
        raise ValueError("labels must be a 0/1 indicator array for multi_label; got other values")
    return arr.astype(np.uint8), p


def check_inputs_sc(
    labels: object, pred_probs: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`check_inputs` plus the self-confidences ``p[i, labels[i]]`` ``(N,)`` gathered in
    the same pass over ``pred_probs`` as the row-sum check. The labels are checked before the
    probability values here (the gather needs valid labels); the same errors otherwise."""
    y, p, sc, _ = check_inputs_fused(labels, pred_probs)
    assert sc is not None
    return y, p, sc


def check_inputs_fused(
    labels: object, pred_probs: object, *, argmax: bool = False, pick: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """:func:`check_inputs_sc` and, with ``argmax``, ``pred_probs.argmax(axis=1)`` from the
    same pass: ``(labels, pred_probs, self_confidence or None (pick=False), argmax or
    None)``."""
    p = _probs_matrix(pred_probs)
    n, k = p.shape
    y = _as_labels("labels", labels)
    if y.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) to match pred_probs; got {y.shape}")
    lo_y, hi_y = int(y.min()), int(y.max())
    if lo_y < 0 or hi_y >= k:
        bad = "min " + str(lo_y) if lo_y < 0 else "max " + str(hi_y)
        raise ValueError(f"labels must be in [0, {k}); got {bad}")
    sums, lo, sc, am = check_pass(p, y if pick else None, argmax)
    _check_row_sums(p, sums, lo)
    return y, p, sc, am


def _probs_matrix(pred_probs: object, min_k: int = 2) -> np.ndarray:
    """``pred_probs`` as a float ``(N, K)`` array with ``N >= 1`` and ``K >= min_k``."""
    p = as_float_array("pred_probs", pred_probs)
    if p.ndim != 2:
        raise ValueError(f"pred_probs must have shape (N, K); got shape {p.shape}")
    n, k = p.shape
    if n == 0:
        raise ValueError("pred_probs must not be empty; got N = 0 rows")
    if k < min_k:
        raise ValueError(f"pred_probs must have K >= {min_k} columns; got K = {k}")
    return p


def _check_row_sums(p: np.ndarray, sums: np.ndarray, lo: float) -> None:
    """Errors for non-finite or negative entries and rows not summing to 1, from one pass's
    row ``sums (N,)`` and minimum ``lo`` (NaN / inf make their row sum non-finite)."""
    if not np.isfinite(sums).all():
        _check_prob_values("pred_probs", p)
    if lo < 0:
        raise ValueError(f"pred_probs must be non-negative; got min {lo:.4g}")
    err = np.abs(sums - 1.0)
    i = int(err.argmax())
    if err[i] > ROW_SUM_ATOL:
        raise ValueError(
            f"pred_probs rows must sum to 1 (atol {ROW_SUM_ATOL}); got {sums[i]:.6g} at row {i}"
        )
