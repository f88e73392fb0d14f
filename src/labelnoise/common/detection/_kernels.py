"""Single-pass, cache-blocked kernels over ``pred_probs (N, K)`` shared by the detection API.

Every kernel walks the rows in blocks of about 2 MiB (so a block stays in L2 cache while
several operations run on it) with torch's CPU kernels on a zero-copy view of the numpy
array: torch reduces along a short contiguous row (``K`` = 10 .. 100) with SIMD where
numpy's per-row reductions (``sum`` / ``max`` / ``argmax`` along axis 1) loop row by row.
The results are exact (comparisons, gathers, small-integer BLAS sums) or only feed the
input checks (row sums within a tolerance), so every caller's output stays bit for bit
cleanlab's.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import torch
from scipy.special import xlogy

__all__ = [
    "adjusted_blocks",
    "as_tensor",
    "block_rows",
    "check_pass",
    "confident_code",
    "normalized_entropy",
    "numpy_row_sums",
    "row_max",
    "row_sums_and_min",
    "self_confidence",
]

_BLOCK_BYTES = 1 << 21


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
    """Rows per block so that one block of ``n_cols`` values is about 2 MiB."""
    return max(64, _BLOCK_BYTES // max(1, n_cols * itemsize))


def row_sums_and_min(
    p: np.ndarray, labels: np.ndarray | None = None
) -> tuple[np.ndarray, float, np.ndarray | None]:
    """``(row sums (N,), min of p, p[i, labels[i]] (N,) or None)`` in one blocked pass over
    ``p (N, K)`` (the gather of the self-confidences while the block is in cache; ``labels``
    must already be valid); a NaN anywhere makes its row sum NaN (and the min NaN)."""
    sums, lo, picked, _ = check_pass(p, labels)
    return sums, lo, picked


def check_pass(
    p: np.ndarray, labels: np.ndarray | None = None, argmax: bool = False
) -> tuple[np.ndarray, float, np.ndarray | None, np.ndarray | None]:
    """:func:`row_sums_and_min` and, with ``argmax``, :func:`row_argmax` (meaningful only
    when ``p`` passes the checks) in the same blocked pass."""
    t = as_tensor(p)
    n, k = t.shape
    ones = torch.ones(k, dtype=t.dtype)
    sums = torch.empty(n, dtype=t.dtype)
    picked = None
    r = block_rows(k, p.itemsize)
    am = _ArgmaxBlocks(n, k, r) if argmax else None
    if labels is not None:  # flat indices into a block: row * K + label
        flat_idx = np.arange(0, n * k, k, dtype=np.int64)
        flat_idx += labels
        picked = np.empty(n, dtype=p.dtype)
        pc = t.numpy().reshape(-1)  # contiguous (as_tensor copied a strided p)
    lo = float("inf")
    for s in range(0, n, r):
        b = t[s : s + r]
        if k < 32:  # short rows: BLAS gemv is faster than torch's row sum
            torch.mv(b, ones, out=sums[s : s + r])
        else:
            torch.sum(b, 1, out=sums[s : s + r])
        lo = min(lo, float(b.amin()))
        if picked is not None:  # the block is in cache now
            np.take(pc, flat_idx[s : s + r], out=picked[s : s + r])
        if am is not None:
            am.block(b, s)
    return sums.numpy(), lo, picked, None if am is None else am.result(p)


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
    w = torch.arange(k, 2 * k, dtype=exact).numpy()
    tc = torch.from_numpy(np.ascontiguousarray(cut, dtype=p.dtype))
    v = np.empty(n, dtype=w.dtype)
    r = block_rows(k, 4)
    buf = torch.empty((min(r, n), k), dtype=exact)
    bn = buf.numpy()
    for s in range(0, n, r):
        b = t[s : s + r]
        torch.ge(b, tc, out=buf[: b.shape[0]])
        np.matmul(bn[: b.shape[0]], w, out=v[s : s + r])  # numpy's gemv beats torch.mv
    n_conf = np.where(v >= 2 * k, 2, (v > 0).astype(np.int64))
    return n_conf, v.astype(np.int64) - k


def _pairwise(bt: np.ndarray, lo: int, n: int) -> np.ndarray:
    """numpy's pairwise sum of the rows ``bt[lo : lo + n]`` (``n >= 1``), elementwise across
    the columns: the same additions in the same order as ``pairwise_sum`` of
    ``numpy/_core/src/umath/loops_utils.h.src`` on each column."""
    if n < 8:
        res = bt[lo].copy()
        for i in range(1, n):
            res += bt[lo + i]
        return res
    if n <= 128:
        r = bt[lo : lo + 8].copy()
        stop = n - n % 8
        for i in range(8, stop, 8):
            r += bt[lo + i : lo + i + 8]
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for i in range(stop, n):
            res += bt[lo + i]
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise(bt, lo, n2) + _pairwise(bt, lo + n2, n - n2)


def numpy_row_sums(b: np.ndarray) -> np.ndarray:
    """``b.sum(axis=1)`` of a block ``b (R, K)``, bit for bit numpy's (its pairwise sum of
    each row), vectorised across the rows on the transposed block instead of numpy's per-row
    loop."""
    if b.shape[1] >= 32:  # long rows: numpy's own per-row loop is fast enough
        return b.sum(axis=1)
    bt = np.ascontiguousarray(b.T)
    return _pairwise(bt, 0, bt.shape[0])


def adjusted_blocks(p: np.ndarray, thr: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Blocks ``(start, a (R, K), s (R,))`` of the threshold-adjusted probabilities before
    their row normalisation, ``a = (p - thr) + max(thr)`` (in numpy's result dtype), and
    ``s = a.sum(axis=1)`` (numpy's sum, bit for bit): cleanlab's adjusted row is ``a / s``.
    The block buffer is reused: copy what must outlive the next block."""
    n, k = p.shape
    dt = np.result_type(p.dtype, thr.dtype)
    tmax = thr.max()
    r = block_rows(k, np.dtype(dt).itemsize)
    buf = np.empty((min(r, n), k), dtype=dt)
    for s in range(0, n, r):
        b = p[s : s + r]
        a = buf[: b.shape[0]]
        np.subtract(b, thr, out=a)
        a += tmax
        yield s, a, numpy_row_sums(a)


def row_max(a: np.ndarray) -> np.ndarray:
    """``a.max(axis=1)`` (exact; NaN propagates as in numpy) by torch's SIMD row reduction."""
    return as_tensor(a).amax(1).numpy()


def normalized_entropy(p: np.ndarray) -> np.ndarray:
    """``-xlogy(p, p).sum(axis=1) / log K`` bit for bit (scipy's ``xlogy`` in ``p``'s dtype,
    numpy's row sums), one cache-sized block at a time."""
    n, k = p.shape
    out = np.empty(n, dtype=p.dtype)
    r = block_rows(k, p.itemsize)
    buf = np.empty((min(r, n), k), dtype=p.dtype)
    for s in range(0, n, r):
        b = p[s : s + r]
        e = xlogy(b, b, out=buf[: b.shape[0]])
        out[s : s + r] = numpy_row_sums(e)
    return -out / np.log(k)


class _ArgmaxBlocks:
    """The row argmax block by block: the row max (torch), then the 0/1 matrix ``p >= max``
    times ``w_j = K + j`` (BLAS, exact small integers) is ``K + j`` for a row whose maximum
    is only at ``j``; rows with a tied maximum (``>= 2K``) take numpy's ``argmax``."""

    def __init__(self, n: int, k: int, r: int) -> None:
        exact = torch.float32 if k < 2**11 else torch.float64
        self.k = k
        self.w = torch.arange(k, 2 * k, dtype=exact).numpy()
        self.v = np.empty(n, dtype=self.w.dtype)
        self.buf = torch.empty((min(r, n), k), dtype=exact)
        self.bn = self.buf.numpy()

    def block(self, b: torch.Tensor, s: int) -> None:
        r = b.shape[0]
        torch.ge(b, b.amax(1, keepdim=True), out=self.buf[:r])
        np.matmul(self.bn[:r], self.w, out=self.v[s : s + r])

    def result(self, p: np.ndarray) -> np.ndarray:
        out = self.v.astype(np.int64) - self.k
        ties = np.flatnonzero(self.v >= 2 * self.k)
        if ties.size:
            out[ties] = p[ties].argmax(axis=1)
        return out


def row_argmax(p: np.ndarray) -> np.ndarray:
    """``p.argmax(axis=1)`` (the first maximum; ``p`` finite) blockwise (:class:`_ArgmaxBlocks`)."""
    t = as_tensor(p)
    n, k = t.shape
    r = block_rows(k, 4)
    am = _ArgmaxBlocks(n, k, r)
    for s in range(0, n, r):
        am.block(t[s : s + r], s)
    return am.result(p)
