"""Out-of-sample predicted probabilities by K-fold cross-validation, and ReCoV.

Confident learning needs out-of-sample ``pred_probs`` (Northcutt et al., JAIR 2021):
:func:`cross_val_pred_probs` fits a model on ``K - 1`` stratified folds and predicts the
held-out one, for any ``fit_predict_proba(X_train, y_train, X_test) -> (n_test, K)`` callable
or any object with ``fit`` / ``predict_proba`` (sklearn-style; deep-copied per fold).

ReCoV (Chen, Zhu & Liu, "Cross-Validation Is All You Need: A Statistical Approach To Label
Noise Estimation", 2023) repeats cross-validation with fresh random splits and counts, for
every example, how often its held-out prediction misses its label. Clean examples are rarely
missed, mislabelled ones nearly always: the histogram of miss counts is bimodal, and the
mass of the upper mode estimates the noise rate.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelnoise.common._random import Seed, numpy_rng
from labelnoise.common.detection._validate import _as_labels

__all__ = ["RecovResult", "cross_val_pred_probs", "recov_noise_histogram", "stratified_folds"]


def stratified_folds(labels: np.ndarray, n_splits: int, rng: np.random.Generator) -> np.ndarray:
    """Fold id ``(N,)`` per example: each class shuffled and dealt round-robin."""
    folds = np.empty(labels.shape[0], dtype=np.int64)
    offset = 0
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        folds[idx] = (np.arange(idx.size) + offset) % n_splits
        offset += idx.size
    return folds


def _fit_predict(model: Any, x_tr: Any, y_tr: np.ndarray, x_te: Any, k: int) -> np.ndarray:
    if hasattr(model, "fit") and hasattr(model, "predict_proba"):
        m = copy.deepcopy(model)
        m.fit(x_tr, y_tr)
        p = np.asarray(m.predict_proba(x_te), dtype=np.float64)
        classes = np.asarray(getattr(m, "classes_", np.arange(p.shape[1])))
        out = np.zeros((p.shape[0], k))
        out[:, classes.astype(np.int64)] = p
        return out
    if callable(model):
        p = np.asarray(model(x_tr, y_tr, x_te), dtype=np.float64)
        if p.shape != (_n(x_te), k):
            raise ValueError(
                f"fit_predict_proba must return shape ({_n(x_te)}, {k}); got {p.shape}"
            )
        return p
    raise ValueError(
        "fit_predict_proba must be a callable (X_train, y_train, X_test) -> probs or an object "
        f"with fit and predict_proba; got {type(model).__name__}"
    )


def _n(x: Any) -> int:
    return int(x.shape[0]) if hasattr(x, "shape") else len(x)


def _take(x: Any, idx: np.ndarray) -> Any:
    return x[idx] if hasattr(x, "shape") else [x[i] for i in idx]


def cross_val_pred_probs(
    fit_predict_proba: Callable[..., np.ndarray] | Any,
    X: Any,
    labels: np.ndarray,
    *,
    n_splits: int = 5,
    seed: Seed = 0,
    num_classes: int | None = None,
) -> np.ndarray:
    """Out-of-sample ``pred_probs`` ``(N, K)`` by stratified K-fold cross-validation.

    Args:
        fit_predict_proba: ``(X_train, y_train, X_test) -> (n_test, K)`` or an estimator with
            ``fit`` / ``predict_proba`` (columns mapped through ``classes_`` if present).
        X: ``(N, ...)`` array (or a sequence) of inputs.
        labels: ``(N,)`` given labels in ``[0, K)``.
        n_splits: folds (default 5); every example is predicted by the one model that did not
            see it.
        seed: seed of the fold assignment.
        num_classes: ``K`` (default ``max(labels) + 1``).
    """
    y = _as_labels("labels", labels)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"labels must have shape (N,) with N > 0; got {y.shape}")
    if _n(X) != y.shape[0]:
        raise ValueError(f"X must have {y.shape[0]} rows to match labels; got {_n(X)}")
    if not 2 <= int(n_splits) <= y.shape[0]:
        raise ValueError(f"n_splits must be in [2, {y.shape[0]}]; got {n_splits}")
    k = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"labels must be in [0, {k}); got max {y.max()}")
    folds = stratified_folds(y, int(n_splits), numpy_rng(seed))
    out = np.zeros((y.shape[0], k))
    for f in range(int(n_splits)):
        te, tr = np.flatnonzero(folds == f), np.flatnonzero(folds != f)
        out[te] = _fit_predict(fit_predict_proba, _take(X, tr), y[tr], _take(X, te), k)
    return out


@dataclass(frozen=True)
class RecovResult:
    """ReCoV output.

    Attributes:
        miss_counts: ``(N,)`` how often each held-out prediction missed the label.
        histogram: ``(n_repeats + 1,)`` number of examples with each miss count.
        is_issue: ``(N,)`` ``miss_counts > threshold``.
        noise_rate: estimated noise rate ``mean(is_issue)``.
    """

    miss_counts: np.ndarray
    histogram: np.ndarray
    is_issue: np.ndarray
    noise_rate: float


def recov_noise_histogram(
    fit_predict_proba: Callable[..., np.ndarray] | Any,
    X: Any,
    labels: np.ndarray,
    *,
    n_repeats: int = 10,
    n_splits: int = 5,
    threshold: float | None = None,
    seed: Seed = 0,
    num_classes: int | None = None,
) -> RecovResult:
    """ReCoV: repeated cross-validation miss counts, their histogram and the noise estimate.

    ``threshold`` defaults to ``n_repeats / 2`` (missed in most repeats).
    """
    if int(n_repeats) < 1:
        raise ValueError(f"n_repeats must be >= 1; got {n_repeats}")
    y = _as_labels("labels", labels)
    rng = numpy_rng(seed)
    misses = np.zeros(y.shape[0], dtype=np.int64)
    for _ in range(int(n_repeats)):
        p = cross_val_pred_probs(
            fit_predict_proba,
            X,
            y,
            n_splits=n_splits,
            seed=int(rng.integers(2**31)),
            num_classes=num_classes,
        )
        misses += p.argmax(axis=1) != y
    thr = n_repeats / 2 if threshold is None else float(threshold)
    is_issue = misses > thr
    hist = np.bincount(misses, minlength=int(n_repeats) + 1)
    return RecovResult(misses, hist, is_issue, float(is_issue.mean()))
