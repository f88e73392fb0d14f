"""The confident-learning filter's core, shared by the single-label filter
(:mod:`~labelnoise.common.detection.filter`) and the multi-label one
(:mod:`~labelnoise.common.detection.multilabel`): pruning counts from the confident joint,
per-class pruning, and :func:`_compute_find_label_issues` on already validated inputs."""

from __future__ import annotations

import numpy as np

from labelnoise.common.detection._kernels import row_argmax
from labelnoise.common.detection.confident_joint import (
    _class_counts,
    _compute_confident_joint,
    _label_order,
    _num_label_issues,
    _reduce_issues,
    _round_preserving_row_totals,
)
from labelnoise.common.detection.quality import _compute_quality

_PRUNING = ("prune_by_noise_rate", "prune_by_class", "both")


def _smallest(v: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` smallest ``v``: the same set as ``np.argsort(v)[:n]``."""
    m = v.shape[0]
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if n >= m:
        return np.arange(m)
    part = np.argpartition(v, n - 1)
    b = v[part[n - 1]]
    if np.count_nonzero(v < b) + np.count_nonzero(v == b) > n:
        return np.argsort(v)[:n]
    return part[:n]


def _prune_count_matrix(
    cj: np.ndarray,
    label_counts: np.ndarray,
    min_examples_per_class: int,
    frac_noise: float,
    num_to_remove_per_class: np.ndarray | None,
) -> np.ndarray:
    """``m[true, given]``: how many examples of each given class to prune towards each class."""
    pcm = cj.T.astype(np.float64)
    d = pcm.diagonal().copy()
    new_d = np.maximum(d, min_examples_per_class)
    per_col = np.maximum(np.count_nonzero(pcm, axis=0) - 1.0, 1.0)
    m = pcm - (new_d - d) / per_col
    m[m < 0] = 0
    np.fill_diagonal(m, new_d)
    reduced = m * frac_noise
    np.fill_diagonal(reduced, m.diagonal())
    np.fill_diagonal(reduced, m.diagonal() + np.sum(m - reduced, axis=0))
    out = reduced.astype(np.int64)
    if num_to_remove_per_class is None:
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        psy = out / np.sum(out, axis=1)
        noise_per_s = psy.sum(axis=1) - psy.diagonal()
        tmp = (psy.T * num_to_remove_per_class / noise_per_s).T
    np.fill_diagonal(tmp, label_counts - num_to_remove_per_class)
    return _round_preserving_row_totals(tmp)


def _union_of_smallest(d: np.ndarray, counts: np.ndarray, out: np.ndarray) -> None:
    """Set ``out[i] = True`` for the ``counts[r]`` smallest entries of every row ``d[r]``.

    ``d``: ``(R, m)``; ``counts``: ``(R,)`` in ``[1, m]``. Vectorised over rows: one
    ``np.partition`` (values only) finds each row's cut value ``b``; entries below ``b`` and,
    when all of them fit, those equal to ``b`` are taken. A row whose cut falls inside a run
    of ties uses ``np.argsort``'s order (cleanlab's).
    """
    r, m = d.shape
    kmax = int(counts.max())
    head = np.partition(d, kmax - 1, axis=1)[:, :kmax] if kmax < m else d
    head = np.sort(head, axis=1)
    bound = head[np.arange(r), counts - 1][:, None]
    take = d < bound
    eq = d == bound
    need = counts - np.count_nonzero(take, axis=1)
    full = np.count_nonzero(eq, axis=1) == need
    take |= eq & full[:, None]
    ambiguous = np.flatnonzero(~full)
    take[ambiguous] = False
    out |= take.any(axis=0) if r > 1 else take[0]
    for i in ambiguous:
        out[np.argsort(d[i])[: counts[i]]] = True


def _prune(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    pcm: np.ndarray,
    by_class: bool,
    by_rate: bool,
    min_examples_per_class: int,
    order: np.ndarray | None = None,
) -> np.ndarray:
    k = pred_probs.shape[1]
    order = _label_order(labels, k) if order is None else order
    bounds = np.concatenate([[0], np.cumsum(_class_counts(labels, k))])
    mask = np.zeros(labels.shape[0], dtype=bool)
    for c in range(k):
        idx = order[bounds[c] : bounds[c + 1]]
        n_c = idx.size
        if n_c <= max(min_examples_per_class, 1):
            continue
        p_k = np.take(pred_probs, idx, axis=0)
        p_c = np.ascontiguousarray(p_k[:, c])
        flag_class = flag_rate = None
        if by_class:
            flag_class = np.zeros(n_c, dtype=bool)
            n_issues = int(n_c - pcm[c, c])
            if n_issues >= 1:
                _union_of_smallest(p_c[None, :], np.array([min(n_issues, n_c)]), flag_class)
        if by_rate:
            flag_rate = np.zeros(n_c, dtype=bool)
            cols = np.flatnonzero(pcm[:, c] > 0)
            cols = cols[cols != c]
            if cols.size:
                d = p_k.T[cols]  # (len(cols), n_c) gathered, then p_c - p_j in place
                np.subtract(p_c, d, out=d)
                _union_of_smallest(d, np.minimum(pcm[cols, c], n_c), flag_rate)
        if flag_class is not None and flag_rate is not None:
            mask[idx] = flag_class & flag_rate
        else:
            mask[idx] = flag_class if flag_rate is None else flag_rate
    return mask


def _compute_find_label_issues(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: np.ndarray | None = None,
    min_examples_per_class: int = 1,
    confident_joint: np.ndarray | None = None,
) -> np.ndarray:
    order = None
    if filter_by in ("low_self_confidence", "low_normalized_margin"):
        scores = _compute_quality(labels, pred_probs, filter_by[4:])
        mask = np.zeros(labels.shape[0], dtype=bool)
        mask[_smallest(scores, _num_label_issues(labels, pred_probs))] = True
        return mask
    if filter_by == "predicted_neq_given":
        mask = row_argmax(pred_probs) != labels
    elif filter_by == "confident_learning" or confident_joint is None:
        order = _label_order(labels, pred_probs.shape[1])
        cj, off = _compute_confident_joint(labels, pred_probs, order=order)
        if filter_by == "confident_learning":
            mask = np.zeros(labels.shape[0], dtype=bool)
            mask[off] = True
    else:
        cj = confident_joint
    if filter_by in _PRUNING:
        counts = _class_counts(labels, pred_probs.shape[1])
        pcm = _prune_count_matrix(
            cj, counts, min_examples_per_class, frac_noise, num_to_remove_per_class
        )
        by_class = filter_by in ("prune_by_class", "both")
        by_rate = filter_by in ("prune_by_noise_rate", "both")
        mask = _prune(labels, pred_probs, pcm, by_class, by_rate, min_examples_per_class, order)
    flagged = np.flatnonzero(mask)
    mask[flagged[_reduce_issues(labels, pred_probs, flagged)]] = False
    return mask
