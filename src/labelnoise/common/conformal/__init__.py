"""Conformal prediction sets for classifiers, with noisy calibration labels.

- :mod:`.scores`: LAC, APS and RAPS scores of every class, ``(N, K)``;
- :mod:`.split`: split conformal calibration (the ``ceil((n + 1)(1 - alpha))``-th smallest
  score), prediction sets, coverage and mean set size;
- :mod:`.noise_aware`: Noise-Aware Conformal Prediction (Penso, Goldberger & Fetaya, COPA
  2025): a threshold from noisy calibration labels that targets clean-label coverage, under a
  uniform or a general (known or estimated) noise matrix.

Typical use::

    s_cal = aps_scores(probs_cal, seed=0)
    q = calibrate(s_cal, noisy_cal, 0.1, transition=T)   # or no noise model: plain split CP
    sets = predict_sets(aps_scores(probs_test, seed=1), q)
    coverage(sets, clean_test), mean_set_size(sets)

Pure numpy; no task library is imported.
"""

from labelnoise.common.conformal.noise_aware import calibrate_nacp, estimated_clean_coverage
from labelnoise.common.conformal.scores import aps_scores, lac_scores, raps_scores
from labelnoise.common.conformal.split import (
    calibrate,
    conformal_quantile,
    coverage,
    mean_set_size,
    predict_sets,
    quantile_rank,
)

__all__ = [
    "aps_scores",
    "calibrate",
    "calibrate_nacp",
    "conformal_quantile",
    "coverage",
    "estimated_clean_coverage",
    "lac_scores",
    "mean_set_size",
    "predict_sets",
    "quantile_rank",
    "raps_scores",
]
