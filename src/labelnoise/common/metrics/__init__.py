"""Detection, transition-estimation and calibration metrics.

Convention: ground-truth mask first, quality score (higher = cleaner) second.
"""

from labelnoise.common.metrics.calibration import expected_calibration_error
from labelnoise.common.metrics.detection import (
    auprc,
    auroc,
    detection_report,
    noise_rate_error,
    precision_at_k,
    precision_recall_f1,
)
from labelnoise.common.metrics.transition import transition_error

__all__ = [
    "auprc",
    "auroc",
    "detection_report",
    "expected_calibration_error",
    "noise_rate_error",
    "precision_at_k",
    "precision_recall_f1",
    "transition_error",
]
