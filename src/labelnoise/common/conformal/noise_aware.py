"""Noise-Aware Conformal Prediction (NACP): calibrate on noisy labels, cover the clean ones.

Penso, Goldberger & Fetaya, "Conformal Prediction of Classifiers with Many Classes based on
Noisy Labels" (COPA 2025, PMLR 266; arXiv 2501.12749, first titled "Estimating the Conformal
Prediction Threshold from Noisy Labels"). With class-conditional noise independent of ``x``
given the clean label, ``T[i, j] = P(noisy = j | clean = i)``, the joint frequencies of the
noisy calibration set

    M_q[l, i] = (1 / n) #{j : noisy_j = i and l in C_q(x_j)}      (C_q(x) = {y : S(x, y) <= q})

estimate ``P(noisy = i, l in C_q(x)) = sum_y P(y, l in C_q(x)) T[y, i]``, so ``M_q T^{-1}``
estimates ``P(clean = y, l in C_q(x))`` and its trace the clean-label coverage

    F_c(q) = trace(M_q T^{-1})                                    (the paper's Algorithm 2).

Under uniform noise of level ``epsilon`` (the label is replaced, with probability
``epsilon``, by one drawn uniformly from all ``K`` classes, i.e. ``T = (1 - epsilon) I +
epsilon / K``) this is the paper's Algorithm 1:

    F_c(q) = (F_n(q) - epsilon * F_r(q)) / (1 - epsilon),
    F_n(q) = mean_j 1{noisy_j in C_q(x_j)},   F_r(q) = mean_j |C_q(x_j)| / K.

The threshold is the smallest ``q`` with ``F_c(q') >= ceil((n + 1)(1 - alpha)) / n`` for every
candidate ``q' >= q`` (candidates: the distinct calibration scores of every class, where
``F_n``, ``F_r`` and ``M_q`` change). Without noise (``T = I``, ``epsilon = 0``) this is
exactly split conformal's quantile.

Simplified here: the paper searches ``F_c(q) = 1 - alpha`` on a grid (Algorithm 1 restricted
to ``[q_1, q_2]``); we use the finite-sample level ``ceil((n + 1)(1 - alpha)) / n`` as target
and the monotone envelope above (a non-monotone estimate cannot pick an isolated crossing).
The COPA version's extra finite-sample margin for uniform noise with many classes is not
added: the clean-coverage guarantee holds as ``n`` grows, not at each finite ``n``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from labelnoise.common.conformal._validate import as_labels, as_matrix, check_alpha, check_vector
from labelnoise.common.conformal.split import quantile_rank

__all__ = ["calibrate_nacp", "estimated_clean_coverage"]


def _noise_inverse(
    num_classes: int, transition: object | None, epsilon: float | None
) -> tuple[str, Any]:
    """``("uniform", epsilon)`` or ``("matrix", T^{-1})``, checked."""
    if (transition is None) == (epsilon is None):
        raise ValueError(
            "exactly one of transition or epsilon must be given; got "
            + ("both" if transition is not None else "neither")
        )
    if epsilon is not None:
        e = float(epsilon)
        if math.isnan(e) or not 0.0 <= e < 1.0:
            raise ValueError(f"epsilon must be in [0, 1); got {epsilon!r}")
        return "uniform", e
    from labelnoise.common.transition import TransitionMatrix

    t = (
        transition
        if isinstance(transition, TransitionMatrix)
        else TransitionMatrix(np.asarray(transition, dtype=np.float64))
    )
    m = t.numpy()
    if m.shape != (num_classes, num_classes):
        raise ValueError(
            f"transition must have shape ({num_classes}, {num_classes}) (K of the scores); "
            f"got {m.shape}"
        )
    cond = np.linalg.cond(m)
    if not np.isfinite(cond) or cond > 1e12:
        raise ValueError(f"transition must be invertible; got condition number {cond:.3g}")
    return "matrix", np.linalg.inv(m)


def _clean_coverage(s: np.ndarray, y: np.ndarray, q: np.ndarray, noise: tuple) -> np.ndarray:
    n, k = s.shape
    kind, param = noise
    if kind == "uniform":
        label_scores = np.sort(s[np.arange(n), y])
        f_n = np.searchsorted(label_scores, q, side="right") / n
        f_r = np.searchsorted(np.sort(s.ravel()), q, side="right") / (n * k)
        return (f_n - param * f_r) / (1.0 - param)
    w = param  # T^{-1}: F_c = sum_{l, i} M[l, i] W[i, l]
    out = np.zeros(q.shape)
    for i in range(k):
        rows = s[y == i]
        if rows.shape[0] == 0:
            continue
        for l in range(k):  # noqa: E741 (the paper's letter)
            if w[i, l] != 0.0:
                col = np.sort(rows[:, l])
                out += w[i, l] * np.searchsorted(col, q, side="right") / n
    return out


def estimated_clean_coverage(
    scores_cal: object,
    noisy_labels: object,
    thresholds: object,
    *,
    transition: object | None = None,
    epsilon: float | None = None,
) -> np.ndarray:
    """``F_c(q)`` for each ``q`` in ``thresholds`` ``(Q,)``: the estimated clean-label coverage
    of ``{y : S(x, y) <= q}`` from noisy calibration labels (see the module doc).

    Args:
        scores_cal: ``(n, K)`` scores of every class.
        noisy_labels: ``(n,)`` noisy calibration labels.
        thresholds: ``(Q,)`` candidate thresholds.
        transition: ``(K, K)`` ``T[i, j] = P(noisy = j | clean = i)`` (general noise), or
        epsilon: uniform noise level in ``[0, 1)``. Exactly one of the two.
    """
    s = as_matrix("scores_cal", scores_cal, min_cols=2)
    y = as_labels("noisy_labels", noisy_labels, s.shape[0], s.shape[1])
    q = check_vector("thresholds", thresholds)
    return _clean_coverage(s, y, q, _noise_inverse(s.shape[1], transition, epsilon))


def calibrate_nacp(
    scores_cal: object,
    noisy_labels: object,
    alpha: float,
    *,
    transition: object | None = None,
    epsilon: float | None = None,
) -> float:
    """NACP threshold: the smallest candidate ``q`` from which on the estimated clean coverage
    stays at or above ``ceil((n + 1)(1 - alpha)) / n`` (``+inf`` when that level exceeds 1).

    Args:
        scores_cal: ``(n, K)`` scores of every class for the calibration examples.
        noisy_labels: ``(n,)`` their noisy labels.
        alpha: target miscoverage of the clean labels, in ``(0, 1)``.
        transition / epsilon: the noise model, exactly one (see
            :func:`estimated_clean_coverage`); known, or estimated (e.g. with
            :func:`labelnoise.common.detection.estimate_transition_confident_joint`).
    """
    s = as_matrix("scores_cal", scores_cal, min_cols=2)
    y = as_labels("noisy_labels", noisy_labels, s.shape[0], s.shape[1])
    noise = _noise_inverse(s.shape[1], transition, epsilon)
    n = s.shape[0]
    rank = quantile_rank(n, check_alpha(alpha))
    if rank > n:
        return math.inf
    level = rank / n
    candidates = np.unique(s)
    f_c = _clean_coverage(s, y, candidates, noise)
    envelope = np.minimum.accumulate(f_c[::-1])[::-1]  # min over q' >= q
    ok = np.flatnonzero(envelope >= level - 1e-12)
    # at the largest score every set holds every class and F_c = 1 exactly (up to rounding)
    return float(candidates[ok[0]]) if ok.size else float(candidates[-1])
