"""Per-chunk kernels of streaming confident learning (see :mod:`.streaming`).

Chunks are turned into a class-major view ``(B, K, S)`` so every reduction over classes is an
elementwise operation over contiguous ``S``-long planes, and the final selection of the ``n``
lowest scores runs as an exact two-level radix select over float32 bit patterns, in blocks,
without sorting or copying the ``U`` stored scores.
"""

from __future__ import annotations

import numpy as np
import torch

from labelnoise.common.detection._validate import ROW_SUM_ATOL, as_float_array

SIGN = np.uint32(0x80000000)
BLOCK = 1 << 22


def class_major(
    labels: object, pred_probs: object, k: int, ignore_index: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """``(x (B, K, S), y (B, S) int64 with ignored -> 0, valid (B, S), spatial)``."""
    p = as_float_array("pred_probs", pred_probs)
    y = np.asarray(labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels)
    if p.ndim < 2 or p.shape[1] != k:
        raise ValueError(f"pred_probs chunks must have shape (B, {k}, *); got {p.shape}")
    spatial = p.ndim > 2
    expected = (p.shape[0], *p.shape[2:]) if spatial else (p.shape[0],)
    if y.shape != expected:
        raise ValueError(f"labels chunk must have shape {expected}; got {y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers; got dtype {y.dtype}")
    if spatial:
        x = p.reshape(p.shape[0], k, -1)
        yy = y.reshape(p.shape[0], -1).astype(np.int64)
    else:
        x = p.T[None]
        yy = y.astype(np.int64)[None]
    valid = yy != ignore_index
    if yy.size:
        yv = yy[valid]
        if yv.size and (yv.min() < 0 or yv.max() >= k):
            bad = f"min {yv.min()}" if yv.min() < 0 else f"max {yv.max()}"
            raise ValueError(f"labels must be in [0, {k}) (or {ignore_index}); got {bad}")
        lo, hi = float(p.min()), float(p.max())
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError("pred_probs must be finite; got NaN or inf")
        if lo < 0:
            raise ValueError(f"pred_probs must be non-negative; got min {lo:.4g}")
        err = float(np.abs(x.sum(axis=1) - 1.0).max())
        if err > ROW_SUM_ATOL:
            raise ValueError(
                f"pred_probs must sum to 1 over classes (atol {ROW_SUM_ATOL}); got an error of {err:.4g}"
            )
    return x, np.where(valid, yy, 0), valid, spatial


def first_argmax(x: np.ndarray, pmax: np.ndarray) -> np.ndarray:
    """First index of the maximum along axis 1 of ``x (B, K, S)``."""
    am = np.zeros(pmax.shape, dtype=np.int64)
    for k in range(x.shape[1] - 1, 0, -1):
        am = np.where(x[:, k] == pmax, k, am)
    return np.where(x[:, 0] == pmax, 0, am)


def max_other(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.full(y.shape, -np.inf, dtype=x.dtype)
    for k in range(x.shape[1]):
        np.maximum(out, np.where(y == k, -np.inf, x[:, k]), out=out)
    return out


def kth_smallest_bits(bits: np.ndarray, k: int) -> tuple[np.uint32, int]:
    """Exact ``k``-th smallest (1-based) of the sign-cleared float32 bit patterns, by radix.

    Returns ``(t, n_ties_to_take)``: the value and how many units equal to it fall in the
    first ``k``. Non-negative float32 bit patterns sort like their values (NaN last).
    """
    hist = np.zeros(1 << 16, dtype=np.int64)
    for s in range(0, bits.shape[0], BLOCK):
        hist += np.bincount((bits[s : s + BLOCK] & ~SIGN) >> 16, minlength=1 << 16)
    cum = np.cumsum(hist)
    hi = int(np.searchsorted(cum, k))
    below = int(cum[hi - 1]) if hi else 0
    hist2 = np.zeros(1 << 16, dtype=np.int64)
    for s in range(0, bits.shape[0], BLOCK):
        m = bits[s : s + BLOCK] & ~SIGN
        hist2 += np.bincount(m[(m >> 16) == hi] & 0xFFFF, minlength=1 << 16)
    cum2 = np.cumsum(hist2)
    lo = int(np.searchsorted(cum2, k - below))
    n_less = below + (int(cum2[lo - 1]) if lo else 0)
    return np.uint32((hi << 16) | lo), k - n_less
