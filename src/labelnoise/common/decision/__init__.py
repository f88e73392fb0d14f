"""Decision rules applied to a trained model's scores (no retraining)."""

from labelnoise.common.decision.prior_matching import (
    PriorMatch,
    apply_offsets,
    class_frequencies,
    fit_prior_offsets,
)

__all__ = ["PriorMatch", "apply_offsets", "class_frequencies", "fit_prior_offsets"]
