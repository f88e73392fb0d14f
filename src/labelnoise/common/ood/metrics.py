"""OOD detection metrics; in-distribution examples are the positives, scores are higher for
more in-distribution examples (as every detector of :mod:`labelnoise.common.ood`)."""

from __future__ import annotations

import math

import numpy as np

from labelnoise.common.conformal._validate import check_vector
from labelnoise.common.metrics import auroc

__all__ = ["fpr_at_tpr", "ood_auroc"]


def ood_auroc(id_scores: object, ood_scores: object) -> float:
    """Area under the ROC curve of telling in-distribution (positive) from OOD examples by
    score (ties count 1/2); equals ``sklearn.metrics.roc_auc_score(is_id, scores)``."""
    a = check_vector("id_scores", id_scores)
    b = check_vector("ood_scores", ood_scores)
    is_id = np.r_[np.ones(a.size, dtype=bool), np.zeros(b.size, dtype=bool)]
    # labelnoise.common.metrics.auroc ranks positives by *low* quality: negate the scores
    return auroc(is_id, -np.r_[a, b])


def fpr_at_tpr(id_scores: object, ood_scores: object, *, tpr: float = 0.95) -> float:
    """FPR at ``tpr`` TPR (FPR@95TPR by default): the fraction of OOD examples scoring at
    least ``t``, the largest threshold that keeps ``ceil(tpr * n_id)`` in-distribution examples
    (``score >= t``); the first point of ``sklearn.metrics.roc_curve`` with TPR >= ``tpr``."""
    a = check_vector("id_scores", id_scores)
    b = check_vector("ood_scores", ood_scores)
    r = float(tpr)
    if math.isnan(r) or not 0.0 < r <= 1.0:
        raise ValueError(f"tpr must be in (0, 1]; got {tpr!r}")
    need = int(math.ceil(round(r * a.size, 9)))
    t = np.sort(a)[::-1][need - 1]
    return float((b >= t).mean())
