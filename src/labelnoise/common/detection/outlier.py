"""Outlier (out-of-distribution) scores from features or predicted probabilities.

cleanlab 2.9's ``cleanlab.outlier.OutOfDistribution`` (Kuan & Mueller, "Back to the Basics:
Revisiting Out-of-Distribution Detection Baselines", ICML 2022 PODS workshop). Scores lie in
``[0, 1]``, lower = more atypical.

* From features ``(N, M)``: the mean distance ``d_i`` to the ``k`` nearest other examples
  (``k = min(10, N - 1)``; cosine distance when ``M > 3``, else Euclidean), exact duplicates
  at distance 0, turned into ``exp(-t d_i / s)`` with ``s`` the median of the fitted
  ``d`` (at least ``100 eps``); a ``d_i`` below the metric's rounding tolerance
  (cosine ``100 epsneg``, Euclidean ``sqrt(100 eps)``) scores 1.
* From ``pred_probs`` ``(N, K)``: ``entropy`` ``1 - H(p) / log K``, ``least_confidence``
  ``max_k p``, or ``gen`` (Liu, Lochman & Zach, CVPR 2023: ``1 - sum_top-M (q^g (1-q)^g) / M``
  with ``q = softmax(p)``, as cleanlab computes it); by default the probabilities are first
  adjusted by the per-class confident thresholds of the given labels (Northcutt et al., JAIR
  2021): ``p - t + max t``, renormalised.

Simplified: the neighbour search is exact (a k-d tree for Euclidean, blockwise matrix products
for cosine); cleanlab's option of a user-supplied (approximate) ``NearestNeighbors`` is not
offered, and ``params`` are keyword arguments.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from labelnoise.common.detection._kernels import adjusted_blocks, normalized_entropy, row_max
from labelnoise.common.detection._knn_distances import Metric, knn_distances
from labelnoise.common.detection._validate import as_float_array, check_inputs, check_inputs_sc
from labelnoise.common.detection.confident_joint import _thresholds
from labelnoise.common.detection.quality import _normalized_entropy

__all__ = [
    "OOD_METHODS",
    "OutOfDistribution",
    "distances_to_scores",
    "outlier_scores_from_features",
    "outlier_scores_from_pred_probs",
]

OODMethod = Literal["entropy", "least_confidence", "gen"]
OOD_METHODS: tuple[str, ...] = ("entropy", "least_confidence", "gen")
_DEFAULT_K = 10
_EPSILON = 1e-6  # cleanlab's EPSILON: floor of the scaling factor in the transform


def _tolerance(metric: Metric) -> float:
    if metric == "cosine":
        return 100 * float(np.finfo(np.float64).epsneg)
    return float(np.sqrt(100 * np.finfo(np.float64).eps))


def distances_to_scores(
    avg_distances: np.ndarray, *, t: float, scaling_factor: float, metric: Metric
) -> np.ndarray:
    """``exp(-t d / max(s, 1e-6))``, 1 where ``d`` is below the metric's rounding tolerance."""
    scores = np.exp(-t * avg_distances / max(scaling_factor, _EPSILON))
    scores[avg_distances < _tolerance(metric)] = 1.0
    return scores


def _features(name: str, x: object) -> np.ndarray:
    f = as_float_array(name, x).astype(np.float64, copy=False)
    if f.ndim != 2 or f.shape[0] == 0 or f.shape[1] == 0:
        raise ValueError(f"{name} must have shape (N, M) with N, M >= 1; got {f.shape}")
    if not np.isfinite(f).all():
        raise ValueError(f"{name} must be finite; got NaN or inf")
    return f


class OutOfDistribution:
    """Fit on one dataset, score it or new data (cleanlab's ``OutOfDistribution``).

    Args:
        k: neighbours for feature scores (default ``min(10, N - 1)``; must be ``< N``).
        t: sharpness of ``exp(-t d / s)`` (default 1).
        metric: ``euclidean`` or ``cosine``; default cosine for ``M > 3`` features.
        method: ``entropy`` (default), ``least_confidence`` or ``gen`` for ``pred_probs``.
        adjust_pred_probs: subtract the confident thresholds first (default True; needs
            ``labels`` at fit, or ``confident_thresholds``).
        confident_thresholds: ``(K,)`` precomputed thresholds (then no fit is needed).
        M: classes kept by ``gen`` (default 100); gamma: its exponent (default 0.1).
    """

    def __init__(
        self,
        *,
        k: int | None = None,
        t: float = 1.0,
        metric: Metric | None = None,
        method: OODMethod = "entropy",
        adjust_pred_probs: bool = True,
        confident_thresholds: np.ndarray | None = None,
        M: int = 100,
        gamma: float = 0.1,
    ) -> None:
        if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
            raise ValueError(f"k must be a positive integer or None; got {k!r}")
        if not np.isfinite(t) or t <= 0:
            raise ValueError(f"t must be a positive finite number; got {t!r}")
        if metric not in (None, "euclidean", "cosine"):
            raise ValueError(f"metric must be 'euclidean', 'cosine' or None; got {metric!r}")
        if method not in OOD_METHODS:
            raise ValueError(f"method must be one of {', '.join(OOD_METHODS)}; got {method!r}")
        if int(M) < 1:
            raise ValueError(f"M must be >= 1; got {M!r}")
        if not gamma > 0:
            raise ValueError(f"gamma must be > 0; got {gamma!r}")
        self.k, self.t, self.metric, self.method = k, float(t), metric, method
        self.adjust_pred_probs, self.M, self.gamma = bool(adjust_pred_probs), int(M), float(gamma)
        self.confident_thresholds = (
            None if confident_thresholds is None else np.asarray(confident_thresholds, float)
        )
        self.train_features: np.ndarray | None = None
        self.scaling_factor: float | None = None

    @staticmethod
    def _one_of(features: object, pred_probs: object) -> None:
        if (features is None) == (pred_probs is None):
            raise ValueError("pass exactly one of features or pred_probs; got both or neither")

    def fit_score(
        self,
        *,
        features: np.ndarray | None = None,
        pred_probs: np.ndarray | None = None,
        labels: np.ndarray | None = None,
    ) -> np.ndarray:
        """Fit on ``features (N, M)`` or ``pred_probs (N, K)`` (+ ``labels (N,)``) and return
        the ``(N,)`` scores of the same examples (each example's neighbours exclude itself)."""
        self._one_of(features, pred_probs)
        if features is not None:
            f = _features("features", features)
            n = f.shape[0]
            if self.k is not None and self.k >= n:
                raise ValueError(f"k must be < N = {n}; got {self.k}")
            if n < 2:
                raise ValueError(f"features must have N >= 2 rows; got {n}")
            self.k = self.k or min(_DEFAULT_K, n - 1)
            self.metric = self.metric or ("cosine" if f.shape[1] > 3 else "euclidean")
            self.train_features = f
            avg = knn_distances(f, self.k, self.metric).mean(axis=1)
            self.scaling_factor = float(max(np.median(avg), 100 * np.finfo(np.float64).eps))
            return distances_to_scores(
                avg, t=self.t, scaling_factor=self.scaling_factor, metric=self.metric
            )
        if self.adjust_pred_probs and self.confident_thresholds is None:
            if labels is None:
                raise ValueError("labels are needed to fit with adjust_pred_probs=True; got None")
            y, p, sc = check_inputs_sc(labels, pred_probs)
            self.confident_thresholds = _thresholds(y, p, sc=sc)
            return self._score_probs(p)  # validated already
        return self.score(pred_probs=pred_probs)

    def fit(
        self,
        *,
        features: np.ndarray | None = None,
        pred_probs: np.ndarray | None = None,
        labels: np.ndarray | None = None,
    ) -> OutOfDistribution:
        """:meth:`fit_score` without the scores; returns ``self``."""
        self.fit_score(features=features, pred_probs=pred_probs, labels=labels)
        return self

    def score(
        self, *, features: np.ndarray | None = None, pred_probs: np.ndarray | None = None
    ) -> np.ndarray:
        """``(Nq,)`` scores of new ``features (Nq, M)`` against the fitted ones (the ``k``
        nearest fitted rows, a row equal to one of them included) or of ``pred_probs``."""
        self._one_of(features, pred_probs)
        if features is not None:
            if self.train_features is None or self.scaling_factor is None:
                raise ValueError("fit on features first (fit or fit_score); got no fitted data")
            f = _features("features", features)
            if f.shape[1] != self.train_features.shape[1]:
                m = self.train_features.shape[1]
                raise ValueError(f"features must have {m} columns as fitted; got {f.shape[1]}")
            assert self.k is not None and self.metric is not None
            avg = knn_distances(self.train_features, self.k, self.metric, query=f).mean(axis=1)
            return distances_to_scores(
                avg, t=self.t, scaling_factor=self.scaling_factor, metric=self.metric
            )
        arr = as_float_array("pred_probs", pred_probs)
        n = arr.shape[0] if arr.ndim == 2 else 0
        return self._score_probs(check_inputs(np.zeros(n, dtype=np.int64), arr)[1])

    def _score_probs(self, p: np.ndarray) -> np.ndarray:
        if self.adjust_pred_probs:
            thr = self.confident_thresholds
            if thr is None:
                raise ValueError("fit on pred_probs and labels first (adjust_pred_probs=True)")
            if thr.shape != (p.shape[1],):
                raise ValueError(f"confident_thresholds must have shape ({p.shape[1]},)")
            if self.method in ("entropy", "least_confidence"):
                return _adjusted_scores(p, thr, self.method)
            p = p - thr
            p += thr.max()
            p /= p.sum(axis=1, keepdims=True)
        return _prob_scores(p, self.method, self.M, self.gamma)


def _adjusted_scores(p: np.ndarray, thr: np.ndarray, method: str) -> np.ndarray:
    """:func:`_prob_scores` of cleanlab's adjusted ``(p - thr + max thr) / row sum``, one
    cache-sized block at a time (the adjusted matrix is never held whole). ``least_confidence``
    divides the row max once: division by a positive sum is monotonic and so is rounding,
    so ``max(a / s) == max(a) / s`` exactly."""
    dt = np.result_type(p.dtype, thr.dtype) if method == "least_confidence" else np.float64
    out = np.empty(p.shape[0], dtype=dt)
    for s, a, rs in adjusted_blocks(p, thr):
        if method == "least_confidence":
            out[s : s + a.shape[0]] = row_max(a) / rs
        else:
            a /= rs[:, None]
            out[s : s + a.shape[0]] = 1.0 - normalized_entropy(a)
    return out


def _prob_scores(p: np.ndarray, method: str, m: int, gamma: float) -> np.ndarray:
    if method == "entropy":
        return 1.0 - _normalized_entropy(p)
    if method == "least_confidence":
        return row_max(p)
    q = np.exp(p - p.max(axis=1, keepdims=True))  # scipy.special.softmax, as cleanlab does
    q /= q.sum(axis=1, keepdims=True)
    top = np.sort(q, axis=1)[:, -m:]
    return 1 - np.sum(top**gamma * (1 - top) ** gamma, axis=1) / m


def outlier_scores_from_features(
    features: np.ndarray, *, k: int | None = None, t: float = 1.0, metric: Metric | None = None
) -> np.ndarray:
    """``(N,)`` kNN outlier scores of ``features (N, M)`` (see the module docstring)."""
    return OutOfDistribution(k=k, t=t, metric=metric).fit_score(features=features)


def outlier_scores_from_pred_probs(
    pred_probs: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    method: OODMethod = "entropy",
    adjust_pred_probs: bool = True,
    confident_thresholds: np.ndarray | None = None,
) -> np.ndarray:
    """``(N,)`` outlier scores of ``pred_probs (N, K)``; ``labels (N,)`` for the adjustment."""
    ood = OutOfDistribution(
        method=method,
        adjust_pred_probs=adjust_pred_probs,
        confident_thresholds=confident_thresholds,
    )
    return ood.fit_score(pred_probs=pred_probs, labels=labels)
