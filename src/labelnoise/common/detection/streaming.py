"""Streaming confident learning for huge unit counts (pixels, tokens): two passes, bounded memory.

Semantics of cleanlab 2.9's batched detectors (``experimental.label_issues_batched`` and
``segmentation.filter.find_label_issues``), after Northcutt et al. (JAIR 2021):

1. pass one accumulates per-class sums of the self-confidence ``p[y]`` -> thresholds
   ``t_k`` (mean over units labelled ``k``, clipped below at ``2e-6``; a class with no unit
   keeps ``2e-6``, as cleanlab's batched code does);
2. pass two scores every unit (``self_confidence`` by default), counts the confident
   off-diagonal units ``argmax p != y and max p >= t_argmax - 1e-6`` (the number of issues
   ``n``) and accumulates the ``(K, K)`` confident joint;
3. the ``n`` lowest-quality units are issues, except those whose given label is the argmax
   (within 1e-6). Ties at the cut go to the earlier units.

State is ``O(K^2)`` plus ``O(U)`` results: one float32 quality per unit (its sign bit carries
"label is argmax" until the end) and the bool issue mask. Per-example scores reduce the unit
qualities with :func:`labelnoise.common.units.reduce_units` (``softmin`` by default, as
cleanlab's segmentation and token scores).

Chunks are ``(labels, pred_probs)`` or ``(labels, pred_probs, example_id)``:

- ``labels (B, *)`` and ``pred_probs (B, K, *)`` with spatial dims: each of the ``B`` items is
  one example (an image), numbered in stream order; units are its pixels;
- ``labels (U,)``, ``pred_probs (U, K)``: each unit is its own example unless ``example_id
  (U,)`` is given; then an example's units must all lie in one chunk, and ids must increase
  from chunk to chunk.

Units labelled ``ignore_index`` get quality NaN and are never issues.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from labelnoise.common.detection._stream_kernels import (
    BLOCK,
    SIGN,
    class_major,
    first_argmax,
    kth_smallest_bits,
    max_other,
)
from labelnoise.common.detection.confident_joint import _calibrate
from labelnoise.common.units import IGNORE_INDEX, reduce_units

__all__ = ["StreamingConfidentLearning", "StreamingResult", "find_label_issues_streaming"]

Chunk = tuple
_EPS = 1e-6


@dataclass(frozen=True)
class StreamingResult:
    """Output of :func:`find_label_issues_streaming`.

    Attributes:
        is_issue: ``(U,)`` bool, one per unit in stream order (reshape to ``(N, H, W)``).
        unit_quality: ``(U,)`` float32 quality, NaN for ignored units (None if not kept).
        example_ids: ``(E,)`` example ids with at least one labelled unit (empty for flat
            chunks without ``example_id``: then every unit is its own example).
        example_quality: ``(E,)`` reduced per-example quality, higher = cleaner.
        num_issues: the estimated number of issues before un-flagging argmax units.
        thresholds: ``(K,)`` per-class confident thresholds.
        confident_joint: ``(K, K)`` uncalibrated confident joint ``C[given, true]``.
        label_counts: ``(K,)`` labelled units per class.
    """

    is_issue: np.ndarray
    unit_quality: np.ndarray | None
    example_ids: np.ndarray
    example_quality: np.ndarray
    num_issues: int
    thresholds: np.ndarray
    confident_joint: np.ndarray
    label_counts: np.ndarray

    def estimate_joint(self) -> np.ndarray:
        """Calibrated joint ``P(given, true)`` ``(K, K)`` (cleanlab's ``estimate_joint``)."""
        cal = _calibrate(self.confident_joint, self.label_counts)
        return cal / max(float(cal.sum()), 1e-100)


class StreamingConfidentLearning:
    """Two-pass streaming confident learning with ``O(K^2)`` state (see the module docstring).

    Usage: call :meth:`update_thresholds` on every chunk, then :meth:`score` on every chunk in
    the same order, then :meth:`result`.

    Args:
        num_classes: ``K``.
        method: unit quality, ``self_confidence`` (default) or ``normalized_margin``.
        adjust_pred_probs: subtract the thresholds before scoring (Northcutt et al., 2021).
        reduce: per-example reduction of unit quality (``softmin``, ``min``, ``mean``).
        temperature: softmin temperature (default 0.1).
        ignore_index: label of units without a label (default -100).
    """

    def __init__(
        self,
        num_classes: int,
        *,
        method: Literal["self_confidence", "normalized_margin"] = "self_confidence",
        adjust_pred_probs: bool = False,
        reduce: Literal["softmin", "min", "mean"] = "softmin",
        temperature: float = 0.1,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
            raise ValueError(f"num_classes must be an integer >= 2; got {num_classes!r}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2; got {num_classes}")
        if method not in ("self_confidence", "normalized_margin"):
            raise ValueError(
                f"method must be 'self_confidence' or 'normalized_margin'; got {method!r}"
            )
        if reduce not in ("softmin", "min", "mean"):
            raise ValueError(f"reduce must be 'softmin', 'min' or 'mean'; got {reduce!r}")
        self.k = int(num_classes)
        self.method = method
        self.adjust_pred_probs = adjust_pred_probs
        self.reduce = reduce
        self.temperature = float(temperature)
        self.ignore_index = ignore_index
        self._sums = np.zeros(self.k)
        self._counts = np.zeros(self.k, dtype=np.int64)
        self._units = 0
        self._examples = 0
        self._thr: np.ndarray | None = None
        self._q: np.ndarray | None = None
        self._pos = 0
        self._pos_examples = 0
        self._last_id = -1
        self._num_issues = 0
        self._cj = np.zeros((self.k, self.k), dtype=np.int64)
        self._ex_ids = np.zeros(0, dtype=np.int64)
        self._ex_q = np.zeros(0)
        self._n_ex = 0

    def update_thresholds(self, labels: object, pred_probs: object) -> None:
        """Pass one: accumulate per-class self-confidence sums and unit counts."""
        if self._q is not None:
            raise ValueError("update_thresholds must come before score; got it after score")
        x, y, valid, spatial = class_major(labels, pred_probs, self.k, self.ignore_index)
        sc = np.take_along_axis(x, y[:, None, :], axis=1)[:, 0]
        self._sums += np.bincount(y[valid], weights=sc[valid], minlength=self.k)
        self._counts += np.bincount(y[valid], minlength=self.k)
        self._units += y.size
        self._examples += x.shape[0] if spatial else 0

    def thresholds(self) -> np.ndarray:
        """Per-class thresholds ``(K,)`` from pass one."""
        thr = self._sums / np.maximum(self._counts, 1)
        return np.clip(thr, 2 * _EPS, None)

    def score(self, labels: object, pred_probs: object, example_id: object | None = None) -> None:
        """Pass two: score the units of one chunk, count issues, update the confident joint."""
        if self._q is None:
            if self._units == 0:
                raise ValueError("score needs a finished pass one; got no update_thresholds call")
            self._thr = self.thresholds()
            self._q = np.empty(self._units, dtype=np.float32)
            self._ex_ids = np.empty(self._examples, dtype=np.int64)
            self._ex_q = np.empty(self._examples)
        x, y, valid, spatial = class_major(labels, pred_probs, self.k, self.ignore_index)
        n_units = y.size
        if self._pos + n_units > self._q.shape[0]:
            raise ValueError(
                f"score must see the same chunks as update_thresholds; got more than "
                f"{self._q.shape[0]} units"
            )
        thr = self._thr
        assert thr is not None  # set with the unit scores above
        cut = thr - _EPS
        pmax = x.max(axis=1)
        amax = first_argmax(x, pmax)
        conf_amax = pmax >= cut[amax]
        off = conf_amax & (amax != y) & valid
        self._num_issues += int(np.count_nonzero(off))
        n_conf = np.zeros(y.shape, dtype=np.int32)
        only = np.zeros(y.shape, dtype=np.int64)
        is_c = np.empty(y.shape, dtype=bool)
        for c in range(self.k):
            np.greater_equal(x[:, c], cut[c], out=is_c)
            n_conf += is_c
            if c:
                only += is_c * c
        guess = np.where(conf_amax | (n_conf > 1), amax, only)
        confident = (conf_amax | (n_conf > 0)) & valid
        self._cj += np.bincount(
            y[confident] * self.k + guess[confident], minlength=self.k * self.k
        ).reshape(self.k, self.k)
        sc = np.take_along_axis(x, y[:, None, :], axis=1)[:, 0]
        is_argmax = (sc + x.dtype.type(_EPS)) >= pmax
        if self.adjust_pred_probs:
            xa = x - thr[None, :, None] + thr.max()
            xa /= xa.sum(axis=1, keepdims=True)
            x = xa
        q = np.take_along_axis(x, y[:, None, :], axis=1)[:, 0]
        if self.method == "normalized_margin":
            q = (q - max_other(x, y) + 1) / 2
        q = q.astype(np.float32) + np.float32(0.0)
        q[~valid] = np.nan
        bits = q.view(np.uint32)
        bits[is_argmax | ~valid] |= SIGN
        self._q[self._pos : self._pos + n_units] = q.reshape(-1)
        self._pos += n_units
        self._reduce_examples(q, valid, spatial, example_id, n_units)

    def _reduce_examples(
        self, q: np.ndarray, valid: np.ndarray, spatial: bool, example_id: object, n: int
    ) -> None:
        if not spatial and example_id is None:
            return
        if spatial:
            ids = np.repeat(np.arange(q.shape[0]) + self._pos_examples, q.shape[1])
            self._pos_examples += q.shape[0]
        else:
            ids = np.asarray(example_id).astype(np.int64).reshape(-1)
            if ids.shape != (n,):
                raise ValueError(f"example_id must have shape ({n},); got {ids.shape}")
            if n and ids.min() <= self._last_id:
                raise ValueError(
                    "example_id must increase from chunk to chunk (an example's units in one "
                    f"chunk); got id {ids.min()} after {self._last_id}"
                )
            self._last_id = int(ids.max()) if n else self._last_id
        v = valid.reshape(-1)
        if not v.any():
            return
        vals = np.abs(q.reshape(-1)[v]).astype(np.float64)
        e, r = reduce_units(
            torch.from_numpy(vals),
            torch.from_numpy(ids[v]),
            how=self.reduce,
            temperature=self.temperature,
        )
        self._append_examples(e.numpy(), r.numpy())

    def _append_examples(self, ids: np.ndarray, vals: np.ndarray) -> None:
        """Copy into preallocated, doubling buffers: no small long-lived objects per chunk
        (they would pin freed chunk memory in the allocator's heap and grow the RSS)."""
        end = self._n_ex + ids.shape[0]
        if end > self._ex_ids.shape[0]:
            cap = max(end, 2 * self._ex_ids.shape[0], 1024)
            self._ex_ids = np.concatenate(
                [self._ex_ids[: self._n_ex], np.empty(cap - self._n_ex, np.int64)]
            )
            self._ex_q = np.concatenate([self._ex_q[: self._n_ex], np.empty(cap - self._n_ex)])
        self._ex_ids[self._n_ex : end] = ids
        self._ex_q[self._n_ex : end] = vals
        self._n_ex = end

    def result(self, *, keep_unit_quality: bool = True) -> StreamingResult:
        """Select the issues and return everything (consumes the stored unit scores).

        With ``keep_unit_quality=False`` the issue mask is written into the memory of the unit
        scores, which is then shrunk: peak memory ``4 U`` bytes instead of ``5 U``, and
        ``unit_quality`` is None.
        """
        if self._q is None or self._pos != self._q.shape[0]:
            got = 0 if self._q is None else self._pos
            raise ValueError(
                f"result needs every unit scored in pass two; got {got} of {self._units}"
            )
        q, self._q = self._q, None
        bits = q.view(np.uint32)
        n_valid = int(self._counts.sum())
        k = min(self._num_issues, n_valid)
        u = q.shape[0]
        is_issue = np.zeros(u, dtype=bool) if keep_unit_quality else q.view(np.bool_)
        t, take_ties = kth_smallest_bits(bits, k) if k > 0 else (np.uint32(0), 0)
        for s in range(0, u, BLOCK):
            b = bits[s : s + BLOCK]
            m = b & ~SIGN
            sel = m < t
            if take_ties > 0:
                tie = np.flatnonzero(m == t)[:take_ties]
                sel[tie] = True
                take_ties -= tie.size
            is_issue[s : s + b.shape[0]] = sel & ((b & SIGN) == 0)
            if keep_unit_quality:
                b &= ~SIGN
        unit_quality: np.ndarray | None = q
        if not keep_unit_quality:
            del bits, b
            q.resize((u + 3) // 4, refcheck=False)
            is_issue, unit_quality = q.view(np.bool_)[:u], None
        ids, eq = self._ex_ids[: self._n_ex].copy(), self._ex_q[: self._n_ex].copy()
        assert self._thr is not None  # set by the first score call
        return StreamingResult(
            is_issue, unit_quality, ids, eq, k, self._thr, self._cj.copy(), self._counts.copy()
        )


def _passes(chunks: Iterable[Chunk] | Callable[[], Iterable[Chunk]]) -> Callable[[], Iterator]:
    if callable(chunks):
        return lambda: iter(chunks())
    if iter(chunks) is chunks:
        raise ValueError(
            "chunks must be re-iterable (a list) or a callable returning a fresh iterator; "
            "got a one-shot iterator, which cannot be read twice"
        )
    return lambda: iter(chunks)


def find_label_issues_streaming(
    chunks: Iterable[Chunk] | Callable[[], Iterable[Chunk]],
    num_classes: int,
    *,
    method: Literal["self_confidence", "normalized_margin"] = "self_confidence",
    adjust_pred_probs: bool = False,
    reduce: Literal["softmin", "min", "mean"] = "softmin",
    temperature: float = 0.1,
    ignore_index: int = IGNORE_INDEX,
    keep_unit_quality: bool = True,
) -> StreamingResult:
    """Two passes of :class:`StreamingConfidentLearning` over ``chunks``.

    Args:
        chunks: a re-iterable of ``(labels, pred_probs[, example_id])`` chunks, or a callable
            returning a fresh iterator of them (e.g. a generator function); see the module
            docstring for the shapes.
        num_classes: ``K``.
        method: see :class:`StreamingConfidentLearning` (also for the next four).
        adjust_pred_probs: as there.
        reduce: as there.
        temperature: as there.
        ignore_index: as there.
        keep_unit_quality: return per-unit qualities (default True; False saves ``U`` bytes of
            peak memory, see :meth:`StreamingConfidentLearning.result`).

    Returns:
        :class:`StreamingResult` (unit issue mask and qualities, per-example qualities,
        thresholds and the confident joint).
    """
    passes = _passes(chunks)
    scl = StreamingConfidentLearning(
        num_classes,
        method=method,
        adjust_pred_probs=adjust_pred_probs,
        reduce=reduce,
        temperature=temperature,
        ignore_index=ignore_index,
    )
    for chunk in passes():
        scl.update_thresholds(chunk[0], chunk[1])
    for chunk in passes():
        scl.score(chunk[0], chunk[1], chunk[2] if len(chunk) > 2 else None)
    return scl.result(keep_unit_quality=keep_unit_quality)
