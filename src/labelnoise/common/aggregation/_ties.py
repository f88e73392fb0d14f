"""Exact ties out of floating-point noise, so that ``labels_`` follows the tie rule.

Two classes with mathematically equal posteriors (a symmetric item: one annotator says 0, an
equally trusted one says 1) come out of sums taken in different orders a few ulps apart, and
the argmax then picks whichever came out larger. :func:`snap_ties` sets every entry of a row
within ``atol`` of the row's maximum to their mean, so the tied classes are exactly equal and
the argmax takes the smallest of them (the base class's tie rule).
"""

from __future__ import annotations

import numpy as np

__all__ = ["snap_ties"]


def snap_ties(probas: np.ndarray, atol: float = 1e-12) -> np.ndarray:
    """``(N, C)`` probabilities with near-ties (``>= row max - atol``) replaced by their mean.

    Rows still sum to 1 (the mean of the tied entries keeps their total). ``atol`` must be
    ``>= 0``; 0 leaves ``probas`` unchanged.
    """
    if not float(atol) >= 0:
        raise ValueError(f"atol must be >= 0; got {atol}")
    probas = np.asarray(probas, dtype=np.float64)
    tied = probas >= probas.max(1, keepdims=True) - atol
    if not (tied.sum(1) > 1).any():
        return probas
    mean = (probas * tied).sum(1, keepdims=True) / tied.sum(1, keepdims=True)
    return np.where(tied, mean, probas)
