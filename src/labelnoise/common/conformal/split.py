"""Split conformal prediction for classification (Vovk et al., 2005; Angelopoulos & Bates,
"A Gentle Introduction to Conformal Prediction", 2021).

Given calibration scores ``s_i = S(x_i, y_i)`` of ``n`` examples exchangeable with the test
example, the threshold ``q`` is the ``ceil((n + 1)(1 - alpha))``-th smallest ``s_i`` (``+inf``
when that rank exceeds ``n``) and the set ``C(x) = {y : S(x, y) <= q}`` covers the true label
with probability at least ``1 - alpha`` (and below ``1 - alpha + 1 / (n + 1)`` with
continuous, distinct scores). :func:`calibrate` also takes a noise model of the calibration
labels: then it is Noise-Aware Conformal Prediction (:mod:`.noise_aware`).
"""

from __future__ import annotations

import math

import numpy as np

from labelnoise.common.conformal._validate import as_labels, as_matrix, check_alpha, check_vector

__all__ = [
    "calibrate",
    "conformal_quantile",
    "coverage",
    "mean_set_size",
    "predict_sets",
    "quantile_rank",
]


def quantile_rank(n: int, alpha: float) -> int:
    """``ceil((n + 1)(1 - alpha))``: the rank (1-based) of the conformal quantile among ``n``
    calibration scores; ``> n`` means the threshold is ``+inf``."""
    if int(n) != n or n < 1:
        raise ValueError(f"n must be an integer >= 1; got {n!r}")
    a = check_alpha(alpha)
    # round first so that e.g. (9 + 1) * 0.9 = 9.000000000000002 gives 9, not 10
    return int(math.ceil(round((int(n) + 1) * (1.0 - a), 9)))


def conformal_quantile(scores: object, alpha: float) -> float:
    """The ``ceil((n + 1)(1 - alpha))``-th smallest of ``scores`` ``(n,)`` (``+inf`` when
    that rank exceeds ``n``): the finite-sample conformal quantile at level
    ``ceil((n + 1)(1 - alpha)) / n``."""
    s = check_vector("scores", scores)
    k = quantile_rank(s.size, alpha)
    if k > s.size:
        return math.inf
    return float(np.partition(s, k - 1)[k - 1])


def calibrate(
    scores_cal: object,
    labels_cal: object,
    alpha: float,
    *,
    transition: object | None = None,
    epsilon: float | None = None,
) -> float:
    """The threshold ``q`` of split conformal prediction at miscoverage ``alpha``.

    Args:
        scores_cal: ``(n, K)`` scores of every class for the calibration examples (from
            :mod:`.scores`).
        labels_cal: ``(n,)`` calibration labels in ``[0, K)``.
        alpha: target miscoverage in ``(0, 1)`` (0.1 for 90 % coverage).
        transition: noisy calibration labels with a class-conditional noise model, ``T[i, j] =
            P(noisy = j | clean = i)`` ``(K, K)``, invertible: Noise-Aware Conformal
            Prediction with a general noise matrix (see :func:`.noise_aware.calibrate_nacp`).
        epsilon: noisy calibration labels with uniform noise of level ``epsilon`` (the label is
            replaced, with probability ``epsilon``, by one drawn uniformly from all ``K``
            classes): NACP with uniform noise. At most one of ``transition`` / ``epsilon``.

    Returns:
        ``q`` (``+inf``: every class is in every set); the set is ``{y : S(x, y) <= q}``.
    """
    s = as_matrix("scores_cal", scores_cal)
    y = as_labels("labels_cal", labels_cal, s.shape[0], s.shape[1])
    if transition is not None or epsilon is not None:
        from labelnoise.common.conformal.noise_aware import calibrate_nacp

        return calibrate_nacp(s, y, alpha, transition=transition, epsilon=epsilon)
    return conformal_quantile(s[np.arange(s.shape[0]), y], alpha)


def predict_sets(scores: object, threshold: float) -> np.ndarray:
    """Prediction sets ``scores <= threshold``: bool ``(N, K)`` from scores ``(N, K)``."""
    s = as_matrix("scores", scores)
    try:
        q = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be a number; got {threshold!r}") from None
    if math.isnan(q):
        raise ValueError("threshold must be a number; got NaN")
    return s <= q


def _sets(sets: object) -> np.ndarray:
    arr = np.asarray(sets)
    if arr.dtype != bool or arr.ndim != 2 or arr.shape[0] < 1:
        raise ValueError(
            f"sets must be a bool array of shape (N, K) with N >= 1; got dtype {arr.dtype}, "
            f"shape {arr.shape}"
        )
    return arr


def coverage(sets: object, labels: object) -> float:
    """The fraction of examples whose label is in its set: ``mean(sets[i, labels[i]])``."""
    m = _sets(sets)
    y = as_labels("labels", labels, m.shape[0], m.shape[1])
    return float(m[np.arange(m.shape[0]), y].mean())


def mean_set_size(sets: object) -> float:
    """The mean number of classes per set."""
    return float(_sets(sets).sum(1).mean())
