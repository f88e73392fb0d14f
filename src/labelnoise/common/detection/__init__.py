"""Label-issue detection: confident learning and friends, with cleanlab 2.9's semantics.

Functional API on numpy arrays: ``labels (N,)`` and ``pred_probs (N, K)`` in, masks, scores
and matrices out. Quality scores are in ``[0, 1]``, higher = cleaner (cleanlab's convention).
"""

from labelnoise.common.detection.confident_joint import (
    calibrate_confident_joint,
    compute_confident_joint,
    estimate_joint,
    estimate_latent,
    get_confident_thresholds,
    num_label_issues,
)
from labelnoise.common.detection.filter import (
    FILTER_BY,
    find_label_issues,
    find_predicted_neq_given,
)
from labelnoise.common.detection.multilabel import get_multilabel_quality_scores
from labelnoise.common.detection.quality import (
    get_label_quality_ensemble_scores,
    get_label_quality_scores,
    order_label_issues,
)
from labelnoise.common.detection.streaming import (
    StreamingConfidentLearning,
    StreamingResult,
    find_label_issues_streaming,
)

__all__ = [
    "StreamingConfidentLearning",
    "StreamingResult",
    "find_label_issues_streaming",
    "FILTER_BY",
    "calibrate_confident_joint",
    "compute_confident_joint",
    "estimate_joint",
    "estimate_latent",
    "find_label_issues",
    "find_predicted_neq_given",
    "get_confident_thresholds",
    "get_label_quality_ensemble_scores",
    "get_label_quality_scores",
    "get_multilabel_quality_scores",
    "num_label_issues",
    "order_label_issues",
]
