"""Label-issue detection: confident learning and friends, with cleanlab 2.9's semantics.

Functional API on numpy arrays: ``labels (N,)`` and ``pred_probs (N, K)`` in, masks, scores
and matrices out. Quality scores are in ``[0, 1]``, higher = cleaner (cleanlab's convention).
"""

from labelnoise.common.detection.clean_learning import CleanLearning, cv_pred_probs
from labelnoise.common.detection.clusterability import knn_label_clusterability, knn_neighbors
from labelnoise.common.detection.confident_joint import (
    calibrate_confident_joint,
    compute_confident_joint,
    estimate_joint,
    get_confident_thresholds,
    num_label_issues,
)
from labelnoise.common.detection.cross_validation import (
    RecovResult,
    cross_val_pred_probs,
    recov_noise_histogram,
)
from labelnoise.common.detection.dataset import (
    find_overlapping_classes,
    health_summary,
    overall_label_health_score,
    rank_classes_by_label_quality,
)
from labelnoise.common.detection.filter import (
    FILTER_BY,
    find_label_issues,
    find_label_issues_using_argmax_confusion_matrix,
    find_predicted_neq_given,
)
from labelnoise.common.detection.latent import (
    estimate_latent,
    estimate_py_and_noise_matrices_from_probabilities,
)
from labelnoise.common.detection.multilabel import (
    get_multilabel_quality_scores,
    get_multilabel_quality_scores_per_class,
)
from labelnoise.common.detection.multilabel_dataset import (
    common_multilabel_issues,
    multilabel_health_summary,
    overall_multilabel_health_score,
    rank_classes_by_multilabel_quality,
)
from labelnoise.common.detection.outlier import (
    OutOfDistribution,
    outlier_scores_from_features,
    outlier_scores_from_pred_probs,
)
from labelnoise.common.detection.quality import (
    find_top_issues,
    get_label_quality_ensemble_scores,
    get_label_quality_scores,
    order_label_issues,
)
from labelnoise.common.detection.regression import (
    UniformMixtureFit,
    combined_quality,
    fit_linear_uniform_mixture,
    fit_uniform_mixture,
    mixture_quality,
    neighbor_agreement_quality,
    residual_quality,
)
from labelnoise.common.detection.regression_rank import (
    get_regression_label_quality_scores,
    outre_scores,
)
from labelnoise.common.detection.segmentation import (
    find_segmentation_issues,
    get_segmentation_quality_scores,
    segmentation_issues_from_scores,
)
from labelnoise.common.detection.streaming import (
    StreamingConfidentLearning,
    StreamingResult,
    find_label_issues_streaming,
)
from labelnoise.common.detection.token_classification import (
    find_token_issues,
    get_token_quality_scores,
    token_issues_from_scores,
)
from labelnoise.common.detection.transition_estimation import (
    estimate_transition_anchor,
    estimate_transition_confident_joint,
)
from labelnoise.common.metrics.transition import transition_error

__all__ = [
    "CleanLearning",
    "cv_pred_probs",
    "OutOfDistribution",
    "outlier_scores_from_features",
    "outlier_scores_from_pred_probs",
    "get_regression_label_quality_scores",
    "outre_scores",
    "rank_classes_by_multilabel_quality",
    "overall_multilabel_health_score",
    "multilabel_health_summary",
    "common_multilabel_issues",
    "get_multilabel_quality_scores_per_class",
    "token_issues_from_scores",
    "get_token_quality_scores",
    "find_token_issues",
    "segmentation_issues_from_scores",
    "get_segmentation_quality_scores",
    "find_segmentation_issues",
    "find_top_issues",
    "rank_classes_by_label_quality",
    "overall_label_health_score",
    "health_summary",
    "find_overlapping_classes",
    "FILTER_BY",
    "RecovResult",
    "StreamingConfidentLearning",
    "StreamingResult",
    "UniformMixtureFit",
    "calibrate_confident_joint",
    "combined_quality",
    "compute_confident_joint",
    "cross_val_pred_probs",
    "estimate_joint",
    "estimate_latent",
    "estimate_py_and_noise_matrices_from_probabilities",
    "estimate_transition_anchor",
    "estimate_transition_confident_joint",
    "fit_linear_uniform_mixture",
    "fit_uniform_mixture",
    "find_label_issues",
    "find_label_issues_streaming",
    "find_label_issues_using_argmax_confusion_matrix",
    "find_predicted_neq_given",
    "get_confident_thresholds",
    "get_label_quality_ensemble_scores",
    "get_label_quality_scores",
    "get_multilabel_quality_scores",
    "knn_label_clusterability",
    "knn_neighbors",
    "mixture_quality",
    "neighbor_agreement_quality",
    "num_label_issues",
    "order_label_issues",
    "recov_noise_histogram",
    "residual_quality",
    "transition_error",
]
