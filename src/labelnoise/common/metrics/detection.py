"""Detection metrics against a known corruption mask.

One convention everywhere: the ground-truth mask comes first (``is_corrupted``, True = the
label was corrupted), the label-quality score second (higher = cleaner, as every detector in
:mod:`labelnoise.common.detection` returns). Ranking metrics treat *low* quality as a positive
detection. Inputs are numpy arrays or torch tensors; outputs are Python floats.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

from labelnoise.common.metrics._arrays import both_classes, mask_and_scores, to_numpy

__all__ = [
    "auprc",
    "auroc",
    "detection_report",
    "noise_rate_error",
    "precision_at_k",
    "precision_recall_f1",
]


def auroc(is_corrupted: object, quality: object) -> float:
    """Area under the ROC curve of detecting corrupted items by low quality (ties count 1/2).

    Equals ``sklearn.metrics.roc_auc_score(is_corrupted, -quality)`` (Mann-Whitney U).
    """
    m, q = mask_and_scores(is_corrupted, quality)
    both_classes(m, "auroc")
    ranks = rankdata(-q)
    n_pos = int(m.sum())
    n_neg = m.size - n_pos
    return float((ranks[m].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(is_corrupted: object, quality: object) -> float:
    """Average precision of detecting corrupted items by low quality.

    ``sum_t (R_t - R_{t-1}) P_t`` over distinct score thresholds, as
    ``sklearn.metrics.average_precision_score(is_corrupted, -quality)``.
    """
    m, q = mask_and_scores(is_corrupted, quality)
    both_classes(m, "auprc")
    order = np.argsort(q, kind="mergesort")
    s, y = q[order], m[order]
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tps = np.cumsum(y)[last]
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def precision_at_k(is_corrupted: object, quality: object, k: int | None = None) -> float:
    """Fraction of corrupted items among the ``k`` lowest-quality ones.

    ``k`` defaults to the true number of corrupted items (then it equals recall at k too).
    Ties at the cut are broken by index (stable sort).
    """
    m, q = mask_and_scores(is_corrupted, quality)
    kk = int(m.sum()) if k is None else int(k)
    if not 1 <= kk <= m.size:
        raise ValueError(f"k must be in [1, {m.size}]; got {kk}")
    top = np.argsort(q, kind="stable")[:kk]
    return float(m[top].mean())


def precision_recall_f1(is_corrupted: object, is_issue: object) -> tuple[float, float, float]:
    """``(precision, recall, F1)`` of a binary issue mask; 0.0 where undefined (no positives)."""
    m, f = mask_and_scores(is_corrupted, to_numpy(is_issue).astype(np.float64))
    flagged = f.astype(bool)
    tp = int(np.count_nonzero(m & flagged))
    n_flag, n_true = int(flagged.sum()), int(m.sum())
    precision = tp / n_flag if n_flag else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return float(precision), float(recall), float(f1)


def noise_rate_error(estimated: object, true: object) -> float:
    """Absolute error of an estimated noise rate; mean absolute error for per-class rates."""
    e = to_numpy(estimated).astype(np.float64)
    t = to_numpy(true).astype(np.float64)
    if e.shape != t.shape:
        raise ValueError(
            f"estimated and true must have the same shape; got {e.shape} and {t.shape}"
        )
    return float(np.mean(np.abs(e - t)))


def detection_report(
    is_corrupted: object, quality: object, is_issue: object | None = None
) -> dict[str, Any]:
    """All detection metrics in one dict.

    Keys: ``n``, ``num_corrupted``, ``true_noise_rate``, ``auroc``, ``auprc``,
    ``precision_at_k`` (k = true noise count); with ``is_issue`` also ``num_issues``,
    ``estimated_noise_rate``, ``noise_rate_error``, ``precision``, ``recall``, ``f1``.
    """
    m, q = mask_and_scores(is_corrupted, quality)
    out: dict[str, Any] = {
        "n": int(m.size),
        "num_corrupted": int(m.sum()),
        "true_noise_rate": float(m.mean()),
        "auroc": auroc(m, q),
        "auprc": auprc(m, q),
        "precision_at_k": precision_at_k(m, q),
    }
    if is_issue is not None:
        flagged = to_numpy(is_issue).astype(bool)
        p, r, f1 = precision_recall_f1(m, flagged)
        out |= {
            "num_issues": int(flagged.sum()),
            "estimated_noise_rate": float(flagged.mean()),
            "noise_rate_error": noise_rate_error(flagged.mean(), m.mean()),
            "precision": p,
            "recall": r,
            "f1": f1,
        }
    return out
