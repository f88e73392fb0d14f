"""Output-based OOD scores from a classifier's logits (higher = more in-distribution).

- MSP, the maximum softmax probability (Hendrycks & Gimpel, ICLR 2017);
- max-logit, the largest logit (Hendrycks et al., "Scaling Out-of-Distribution Detection for
  Real-World Settings", ICML 2022);
- energy (Liu, Wang, Owens & Li, "Energy-based Out-of-distribution Detection", NeurIPS
  2020): the negative free energy ``T * logsumexp(logits / T)``, temperature ``T = 1`` by
  default as in the paper.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp, softmax

from labelnoise.common.conformal._validate import as_matrix

__all__ = ["energy_score", "max_logit_score", "msp_score"]


def msp_score(logits: object) -> np.ndarray:
    """``max_k softmax(logits)_k``: ``(N, K)`` -> ``(N,)``."""
    z = as_matrix("logits", logits, min_cols=2)
    return softmax(z, axis=1).max(axis=1)


def max_logit_score(logits: object) -> np.ndarray:
    """``max_k logits_k``: ``(N, K)`` -> ``(N,)``."""
    return as_matrix("logits", logits, min_cols=2).max(axis=1)


def energy_score(logits: object, *, temperature: float = 1.0) -> np.ndarray:
    """Negative energy ``T * logsumexp(logits / T)``: ``(N, K)`` -> ``(N,)`` (default
    ``T = 1``)."""
    z = as_matrix("logits", logits, min_cols=2)
    t = float(temperature)
    if math.isnan(t) or not math.isfinite(t) or t <= 0:
        raise ValueError(f"temperature must be a finite number > 0; got {temperature!r}")
    return t * logsumexp(z / t, axis=1)
