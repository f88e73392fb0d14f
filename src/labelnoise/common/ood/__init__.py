"""Out-of-distribution detection on a trained classifier's outputs, and its metrics.

Scores are higher for more in-distribution inputs:

- from logits ``(N, K)``: :func:`msp_score`, :func:`max_logit_score`, :func:`energy_score`;
- from penultimate features ``(N, D)``, fitted on the training features:
  :class:`MahalanobisDetector` (class means + tied covariance, with the training labels) and
  :class:`KNNDetector` (k-th nearest normalised training feature).

Metrics: :func:`ood_auroc` and :func:`fpr_at_tpr` (FPR at 95 % TPR), in-distribution =
positive. With noisy training labels the label-dependent detectors (Mahalanobis) and the
model itself see the noise; see "A noisy elephant in the room: Is your out-of-distribution
detector robust to label noise?" (Humblot-Renaux, Escalera & Moeslund, CVPR 2024).
Pure numpy/scipy; no task library is imported.
"""

from labelnoise.common.ood.feature_based import KNNDetector, MahalanobisDetector
from labelnoise.common.ood.metrics import fpr_at_tpr, ood_auroc
from labelnoise.common.ood.scores import energy_score, max_logit_score, msp_score

__all__ = [
    "KNNDetector",
    "MahalanobisDetector",
    "energy_score",
    "fpr_at_tpr",
    "max_logit_score",
    "msp_score",
    "ood_auroc",
]
