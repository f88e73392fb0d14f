"""Single-pass, cache-blocked kernels over ``pred_probs (N, K)`` shared by the detection API.

Every kernel walks the rows in blocks of about 1 MiB (so a block stays in L2 cache while
several operations run on it) with torch's CPU kernels on a zero-copy view of the numpy
array: torch reduces along a short contiguous row (``K`` = 10 .. 100) with SIMD where
numpy's per-row reductions (``sum`` / ``max`` / ``argmax`` along axis 1) loop row by row.
The results are exact (comparisons, gathers, small-integer BLAS sums) or only feed the
input checks (row sums within a tolerance), so every caller's output stays bit for bit
cleanlab's.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

__all__ = ["as_tensor", "block_rows", "confident_code", "row_sums_and_min", "self_confidence"]

_BLOCK_BYTES = 1 << 20


def as_tensor(a: np.ndarray) -> torch.Tensor:
    """A torch view of ``a`` (a C-contiguous copy first when ``a`` is not contiguous);
    read-only arrays are viewed too (the kernels never write to their inputs)."""
    a = np.ascontiguousarray(a)
    if a.flags.writeable:
        return torch.from_numpy(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(a)


def block_rows(n_cols: int, itemsize: int) -> int:
    """Rows per block so that one block of ``n_cols`` values is about 1 MiB."""
    return max(64, _BLOCK_BYTES // max(1, n_cols * itemsize))


def row_sums_and_min(p: np.ndarray) -> tuple[np.ndarray, float]:
    """``(row sums (N,), min of p)`` in one blocked pass over ``p (N, K)``; a NaN anywhere
    makes its row sum NaN (and the min NaN)."""
    t = as_tensor(p)
    n, k = t.shape
    ones = torch.ones(k, dtype=t.dtype)
    sums = torch.empty(n, dtype=t.dtype)
    r = block_rows(k, p.itemsize)
    lo = float("inf")
    for s in range(0, n, r):
        b = t[s : s + r]
        if k < 32:  # short rows: BLAS gemv is faster than torch's row sum
            torch.mv(b, ones, out=sums[s : s + r])
        else:
            torch.sum(b, 1, out=sums[s : s + r])
        lo = min(lo, float(b.amin()))
    return sums.numpy(), lo


def self_confidence(labels: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``p[i, labels[i]]`` ``(N,)`` (a gather; ``labels`` int64 in ``[0, K)``)."""
    idx = torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64))[:, None]
    return as_tensor(p).gather(1, idx)[:, 0].numpy()


def confident_code(p: np.ndarray, cut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(n_confident (N,) in {0, 1, 2 (= 2 or more)}, the class of a row with exactly one)``
    of the rule ``p[i, j] >= cut[j]`` (``cut`` in ``p``'s dtype).

    Per block: the 0/1 matrix ``p >= cut`` (written as floats) times ``w_j = K + j`` (BLAS,
    exact small integers) is 0 for no confident class, ``K + j`` for exactly class ``j``,
    and ``>= 2K`` for several.
    """
    t = as_tensor(p)
    n, k = t.shape
    exact = torch.float32 if k < 2**11 else torch.float64  # 2 K^2 < 2^24 stays exact
    w = torch.arange(k, 2 * k, dtype=exact)
    tc = torch.from_numpy(np.ascontiguousarray(cut, dtype=p.dtype))
    code = torch.empty(n, dtype=exact)
    r = block_rows(k, 4)
    buf = torch.empty((min(r, n), k), dtype=exact)
    for s in range(0, n, r):
        b = t[s : s + r]
        m = buf[: b.shape[0]]
        torch.ge(b, tc, out=m)
        torch.mv(m, w, out=code[s : s + r])
    v = code.numpy()
    n_conf = np.where(v >= 2 * k, 2, (v > 0).astype(np.int64))
    return n_conf, v.astype(np.int64) - k
