"""Per-example label-quality scores in ``[0, 1]``, higher = cleaner.

Kuan & Mueller, "Model-Agnostic Label Quality Scoring to Detect Real-World Label Errors"
(ICML DataPerf workshop, 2022); semantics of cleanlab 2.9 ``rank.get_label_quality_scores``:

- ``self_confidence``: ``p[i, y_i]``;
- ``normalized_margin``: ``(p[i, y_i] - max_{j != y_i} p[i, j] + 1) / 2``;
- ``confidence_weighted_entropy``: ``log(1 + H/sc) / max(H/sc, 1e-6)`` with the normalised
  entropy ``H = -sum p log p / log K`` and ``sc = max(p[i, y_i], 1e-6)``.

``adjust_pred_probs`` subtracts the per-class confident thresholds first (Northcutt et al.,
2021), shifts by the largest threshold and renormalises rows.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from labelnoise.common.detection._kernels import (
    adjusted_blocks,
    normalized_entropy,
    row_argmax,
    row_max,
    self_confidence,
)
from labelnoise.common.detection._validate import check_inputs, check_inputs_sc
from labelnoise.common.detection.confident_joint import _thresholds

__all__ = [
    "QualityMethod",
    "find_top_issues",
    "get_label_quality_ensemble_scores",
    "get_label_quality_scores",
    "order_label_issues",
]

QualityMethod = Literal["self_confidence", "normalized_margin", "confidence_weighted_entropy"]
_METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
_CLIP = 1e-6
_LOG_LOSS_T = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 200.0)


def _adjust(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    thresholds: np.ndarray | None,
    sc: np.ndarray | None = None,
) -> np.ndarray:
    thr = _thresholds(labels, pred_probs, sc=sc) if thresholds is None else thresholds
    adj = pred_probs - thr
    adj += thr.max()
    adj /= adj.sum(axis=1, keepdims=True)
    return adj


def _max_other(
    labels: np.ndarray, pred_probs: np.ndarray, sc: np.ndarray, block: int = 1 << 13
) -> np.ndarray:
    """``max_{j != y_i} p[i, j]`` (exact), blockwise: each block of rows is transposed to
    ``(K, B)`` (cache-sized), the given labels set to ``-inf`` and reduced over axis 0,
    which numpy vectorises across the ``B`` rows (``max(axis=1)`` loops per row); for
    ``K >= 32`` a masked copy of the block reduced by :func:`._kernels.row_max`."""
    n, k = pred_probs.shape
    out = np.empty(n, dtype=pred_probs.dtype)
    for s in range(0, n, block):
        b = pred_probs[s : s + block]
        rows = np.arange(b.shape[0])
        if k >= 32:  # long rows: a masked copy reduced by torch's SIMD row max
            b = b.copy()
            b[rows, labels[s : s + block]] = -np.inf
            out[s : s + block] = row_max(b)
            continue
        bt = np.ascontiguousarray(b.T)
        bt[labels[s : s + block], rows] = -np.inf
        np.max(bt, axis=0, out=out[s : s + block])
    return out


def _normalized_entropy(pred_probs: np.ndarray) -> np.ndarray:
    """``-sum p log p / log K`` with ``scipy.special.xlogy`` in ``p``'s dtype (cleanlab's),
    blockwise (:func:`._kernels.normalized_entropy`)."""
    return normalized_entropy(pred_probs)


def _adjusted_self_confidence(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    thresholds: np.ndarray | None,
    sc: np.ndarray | None = None,
) -> np.ndarray:
    """``_adjust(labels, pred_probs, thresholds)[i, labels[i]]`` without the adjusted
    matrix: the row sums blockwise, then the same elementwise operations on the gathered
    entries only."""
    if sc is None:
        sc = self_confidence(labels, pred_probs)
    thr = _thresholds(labels, pred_probs, sc=sc) if thresholds is None else thresholds
    sums = np.empty(pred_probs.shape[0], dtype=np.result_type(pred_probs.dtype, thr.dtype))
    for s, a, rs in adjusted_blocks(pred_probs, thr):
        sums[s : s + a.shape[0]] = rs
    out = sc - thr[labels]
    out += thr.max()
    out /= sums
    return out


def _compute_quality(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
    thresholds: np.ndarray | None = None,
    sc: np.ndarray | None = None,
) -> np.ndarray:
    """Scores on validated inputs (``sc``: the self-confidences, when the caller has them)."""
    if method not in _METHODS:
        raise ValueError(f"method must be one of {', '.join(_METHODS)}; got {method!r}")
    if adjust_pred_probs:
        if method == "confidence_weighted_entropy":
            raise ValueError(
                "adjust_pred_probs must be False for method 'confidence_weighted_entropy'; got True"
            )
        if method == "self_confidence":
            return _adjusted_self_confidence(labels, pred_probs, thresholds, sc)
        pred_probs = _adjust(labels, pred_probs, thresholds, sc)
        sc = None  # of the adjusted probabilities
    sc = self_confidence(labels, pred_probs) if sc is None else sc
    if method == "self_confidence":
        return sc
    if method == "normalized_margin":
        return (sc - _max_other(labels, pred_probs, sc) + 1) / 2
    ratio = _normalized_entropy(pred_probs) / np.clip(sc, _CLIP, None)
    return np.log(ratio + 1) / np.clip(ratio, _CLIP, None)


def get_label_quality_scores(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    method: QualityMethod = "self_confidence",
    adjust_pred_probs: bool = False,
) -> np.ndarray:
    """Label-quality score of every example, ``(N,)`` in ``[0, 1]``, higher = cleaner.

    Args:
        labels: ``(N,)`` given labels in ``[0, K)``.
        pred_probs: ``(N, K)`` out-of-sample predicted probabilities (rows sum to 1).
        method: ``self_confidence`` (default), ``normalized_margin`` or
            ``confidence_weighted_entropy``.
        adjust_pred_probs: subtract per-class confident thresholds first (not for the entropy).
    """
    y, p, sc = check_inputs_sc(labels, pred_probs)
    return _compute_quality(y, p, method, adjust_pred_probs, sc=sc)


def get_label_quality_ensemble_scores(
    labels: np.ndarray,
    pred_probs_list: list[np.ndarray],
    *,
    method: QualityMethod = "self_confidence",
    adjust_pred_probs: bool = False,
    weight_ensemble_members_by: Literal[
        "accuracy", "uniform", "custom", "log_loss_search"
    ] = "accuracy",
    custom_weights: np.ndarray | None = None,
    log_loss_search_T_values: tuple[float, ...] = _LOG_LOSS_T,
) -> np.ndarray:
    """Weighted average of the scores of several models' ``pred_probs`` (cleanlab's ensemble).

    ``accuracy`` weights each member by its accuracy against ``labels`` (normalised to sum 1);
    ``uniform`` averages; ``custom`` uses ``custom_weights`` ``(M,)`` as given;
    ``log_loss_search`` weights member ``m`` by ``exp(-T L_m)`` (normalised; ``L_m`` the log
    loss of its probabilities clipped at 1e-6 and renormalised) with the ``T`` of
    ``log_loss_search_T_values`` whose weighted average of the probabilities has the lowest
    log loss (sklearn's, probabilities clipped to ``[eps, 1 - eps]``), as cleanlab does.
    Differs from cleanlab: the log loss needs no label of every class (sklearn refuses).
    """
    if not isinstance(pred_probs_list, (list, tuple)) or len(pred_probs_list) == 0:
        raise ValueError("pred_probs_list must be a non-empty list of (N, K) arrays; got none")
    if custom_weights is not None and weight_ensemble_members_by != "custom":
        raise ValueError(
            "custom_weights must be None unless weight_ensemble_members_by is 'custom'; "
            f"got {weight_ensemble_members_by!r}"
        )
    checked = [check_inputs_sc(labels, p) for p in pred_probs_list]
    y = checked[0][0]
    if weight_ensemble_members_by == "log_loss_search":
        weights = _log_loss_search_weights(y, [p for _, p, _ in checked], log_loss_search_T_values)
        member = [_compute_quality(y, p, method, adjust_pred_probs, sc=c) for _, p, c in checked]
        return (np.stack(member, 1) * weights).sum(axis=1)
    scores = np.stack(
        [_compute_quality(y, p, method, adjust_pred_probs, sc=c) for _, p, c in checked], 1
    )
    if weight_ensemble_members_by == "uniform":
        return scores.mean(axis=1)
    if weight_ensemble_members_by == "accuracy":
        acc = np.array([(row_argmax(p) == y).mean() for _, p, _ in checked])
        return (scores * (acc / acc.sum())).sum(axis=1)
    if weight_ensemble_members_by == "custom":
        w = None if custom_weights is None else np.asarray(custom_weights, dtype=np.float64)
        if w is None or w.shape != (len(checked),):
            got = None if w is None else w.shape
            raise ValueError(f"custom_weights must have shape ({len(checked)},); got {got}")
        return (scores * w).sum(axis=1)
    raise ValueError(
        "weight_ensemble_members_by must be 'accuracy', 'uniform', 'custom' or "
        "'log_loss_search'; "
        f"got {weight_ensemble_members_by!r}"
    )


def _log_loss(labels: np.ndarray, p: np.ndarray) -> float:
    """sklearn's ``log_loss``: ``-mean log clip(p[i, y_i], eps, 1 - eps)`` (eps of p's dtype)."""
    eps = np.finfo(p.dtype).eps
    picked = np.clip(p[np.arange(labels.shape[0]), labels], eps, 1 - eps)
    return float(-np.log(picked).mean())


def _log_loss_search_weights(
    labels: np.ndarray, members: list[np.ndarray], t_values: tuple[float, ...]
) -> np.ndarray:
    if len(t_values) == 0 or not all(np.isfinite(t) and t >= 0 for t in t_values):
        raise ValueError(f"log_loss_search_T_values must be finite values >= 0; got {t_values!r}")
    losses = []
    for p in members:
        c = np.clip(p, _CLIP, None)
        c /= c.sum(axis=1)[:, None]
        losses.append(_log_loss(labels, c))
    best, best_w = float("inf"), None
    for t in t_values:
        e = [np.exp(-t * ll) for ll in losses]
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.array(e) / sum(e)
        if not np.isfinite(w).all():
            continue  # every exp(-T L) underflowed: cleanlab's NaN loss never wins either
        avg = sum(w[i] * p for i, p in enumerate(members))
        ll = _log_loss(labels, np.asarray(avg))
        if best > ll:
            best, best_w = ll, w
    if best_w is None:
        raise ValueError("log_loss_search found no finite weighting; use smaller T values")
    return best_w


def _order(
    mask: np.ndarray,
    labels: np.ndarray,
    pred_probs: np.ndarray,
    rank_by: str,
    adjust_pred_probs: bool = False,
) -> np.ndarray:
    idx = np.flatnonzero(mask)
    thr = _thresholds(labels, pred_probs) if adjust_pred_probs else None
    q = _compute_quality(labels[idx], pred_probs[idx], rank_by, adjust_pred_probs, thr)
    return idx[np.argsort(q)]


def order_label_issues(
    label_issues_mask: np.ndarray,
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    rank_by: QualityMethod = "self_confidence",
    adjust_pred_probs: bool = False,
) -> np.ndarray:
    """Indices of the flagged examples, most likely mislabelled first (lowest quality)."""
    y, p = check_inputs(labels, pred_probs)
    mask = np.asarray(label_issues_mask, dtype=bool)
    if mask.shape != y.shape:
        raise ValueError(f"label_issues_mask must have shape {y.shape}; got {mask.shape}")
    return _order(mask, y, p, rank_by, adjust_pred_probs)


def find_top_issues(quality_scores: np.ndarray, *, top: int | None = 10) -> np.ndarray:
    """Indices of the ``top`` lowest ``quality_scores (N,)``, lowest first (all if None).

    The same order as cleanlab's ``rank.find_top_issues`` (``argsort`` of the scores); only
    the ``top`` smallest are sorted.
    """
    q = np.asarray(quality_scores)
    if q.ndim != 1 or q.dtype.kind not in "iuf":
        raise ValueError(f"quality_scores must be a 1-D numeric array; got {q.dtype} {q.shape}")
    if top is not None and (isinstance(top, bool) or int(top) != top or top < 0):
        raise ValueError(f"top must be a non-negative integer or None; got {top!r}")
    n = q.shape[0] if top is None else min(int(top), q.shape[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n * 8 >= q.shape[0] or np.isnan(q).any():
        return np.argsort(q)[:n]
    cand = _smallest_with_ties(q, n)
    order = np.argsort(q[cand])
    if np.any(np.diff(q[cand][order]) == 0):
        return np.argsort(q)[:n]  # tie order: exactly argsort's on the whole array
    return cand[order][:n]


def _smallest_with_ties(q: np.ndarray, n: int) -> np.ndarray:
    """Indices (increasing) of every entry ``<=`` the ``n``-th smallest ``q`` (ties included)."""
    bound = np.partition(q, n - 1)[n - 1]
    return np.flatnonzero(q <= bound)
