"""Confident learning's counting step: thresholds, the confident joint and what follows from it.

Northcutt, Jiang & Chuang, "Confident Learning: Estimating Uncertainty in Dataset Labels"
(JAIR 2021). Semantics follow cleanlab 2.9 (``cleanlab.count``), vectorised:

- the threshold of class ``k`` is the mean self-confidence ``p[i, k]`` over examples labelled
  ``k``, clipped below at ``2e-6``; a class with no labelled example gets threshold 2 (it is
  never "confident", so nothing is counted as truly belonging to it);
- an example is confident for every class with ``p >= threshold - 1e-6``; its guessed true
  label is that class, or the argmax of ``p`` when several are confident;
- the confident joint ``C[given, true]`` counts confident examples; its diagonal is clipped to
  at least 1; calibration rescales rows to the given-label counts and the total to ``N`` and
  rounds preserving row totals.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

from labelnoise.common.detection._kernels import confident_code, self_confidence
from labelnoise.common.detection._validate import check_inputs_sc

__all__ = [
    "calibrate_confident_joint",
    "compute_confident_joint",
    "estimate_joint",
    "get_confident_thresholds",
    "num_label_issues",
]

_EPS = 1e-6
_TINY = 1e-100


def _class_counts(labels: np.ndarray, k: int) -> np.ndarray:
    """Examples per class ``(K,)`` of validated ``labels`` in ``[0, K)``; for few classes and
    many labels one SIMD compare-and-count per class on a uint8 copy beats ``np.bincount``."""
    if k <= 16 and labels.shape[0] >= 1 << 16:
        small = labels.astype(np.uint8)
        return np.array([np.count_nonzero(small == c) for c in range(k)], dtype=np.int64)
    return np.bincount(labels, minlength=k)


def _label_order(labels: np.ndarray, k: int) -> np.ndarray:
    """Indices grouping the examples by label, in their order within a class (stable)."""
    small = labels.astype(np.uint8 if k <= 256 else np.int16) if k < 2**15 else labels
    return np.argsort(small, kind="stable")


def _thresholds(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    order: np.ndarray | None = None,
    sc: np.ndarray | None = None,
) -> np.ndarray:
    """Per-class mean self-confidence, bit for bit cleanlab's ``np.mean`` over the class's
    values in example order: the same pairwise sum in the input dtype (``np.add.reduce`` of
    the contiguous run), then the division by the count in float64 rounded to the dtype
    (``np.mean``'s; one rounding of the float64 quotient equals the float32 division).
    ``sc``: the self-confidences ``p[i, labels[i]]`` when the caller has them."""
    k = pred_probs.shape[1]
    counts = _class_counts(labels, k)
    sc = self_confidence(labels, pred_probs) if sc is None else sc
    sc = sc.take(_label_order(labels, k) if order is None else order)
    bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
    nz = np.flatnonzero(counts)
    add = np.add.reduce
    sums = np.array([add(sc[bounds[c] : bounds[c + 1]]) for c in nz.tolist()], dtype=sc.dtype)
    thr = np.full(k, 2.0)
    thr[nz] = (sums.astype(np.float64) / counts[nz]).astype(sc.dtype)
    if counts.all():  # cleanlab's array of float32 means stays float32 (with a 2: float64)
        thr = thr.astype(pred_probs.dtype)
    return np.clip(thr, 2 * _EPS, None)


def _cut_in_dtype(cut: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Cut values in ``dtype`` with ``x >= cut_dtype`` iff ``x >= cut`` (float64) for every
    ``x`` of ``dtype``: the smallest ``dtype`` value not below each ``cut``."""
    if dtype == np.float64:
        return cut
    c = cut.astype(dtype)
    low = c.astype(np.float64) < cut
    c[low] = np.nextafter(c[low], np.asarray(np.inf, dtype=dtype))
    return c


def _confident_guess(
    pred_probs: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(is_confident (N,), guessed_true_label (N,))``: cleanlab's rule -- the one class
    with ``p >= t - 1e-6``, the argmax of ``p`` when several are, none when none is.

    One blocked pass (:func:`._kernels.confident_code`) gives the number of confident
    classes and, for a row with one, that class; ``argmax`` runs only on the rows with
    several.
    """
    cut = _cut_in_dtype(thresholds - _EPS, pred_probs.dtype)
    n_conf, guess = confident_code(pred_probs, cut)
    multi = np.flatnonzero(n_conf > 1)
    if multi.size:
        guess[multi] = pred_probs[multi].argmax(axis=1)
    return n_conf > 0, guess


def _round_preserving_row_totals(m: np.ndarray) -> np.ndarray:
    """Round each row to integers keeping its rounded total (largest remainders move first).

    Row totals are summed row by row (``np.sum`` of each row, as cleanlab's
    ``apply_along_axis``), so exact halves round the same way as in cleanlab."""
    ints = np.round(m)
    totals = np.round(np.ascontiguousarray(m).sum(axis=1))
    diff = np.round(totals - ints.sum(axis=1))
    for i in np.flatnonzero(np.abs(diff) > _EPS):
        while abs(diff[i]) > _EPS:
            step = -1 if diff[i] < 0 else 1
            changes = min(int(abs(diff[i])), m.shape[1])
            idx = np.argsort(m[i] - ints[i])[::-step][:changes]
            ints[i, idx] += step
            diff[i] = np.round(totals[i] - np.round(ints[i].sum()))
    return np.ascontiguousarray(ints, dtype=np.int64)  # row-major, as cleanlab's result


def _calibrate(cj: np.ndarray, label_counts: np.ndarray) -> np.ndarray:
    """cleanlab's calibration, operation for operation and in the memory layout of ``cj``
    (a floating-point sum depends on it; cleanlab's own joints are column-major)."""
    cal = (cj.T / np.clip(cj.sum(axis=1), _TINY, None) * label_counts).T
    cal = cal / np.clip(np.sum(cal), _TINY, None) * int(label_counts.sum())
    return _round_preserving_row_totals(cal)


def _compute_confident_joint(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    thresholds: np.ndarray | None = None,
    calibrate: bool = True,
    order: np.ndarray | None = None,
    sc: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(confident_joint (K, K), off_diagonal_indices)`` on validated inputs (``order``:
    :func:`_label_order`, ``sc``: the self-confidences, when the caller has them)."""
    k = pred_probs.shape[1]
    thr = _thresholds(labels, pred_probs, order, sc) if thresholds is None else thresholds
    confident, guess = _confident_guess(pred_probs, thr)
    idx = np.flatnonzero(confident)
    y, g = labels[idx], guess[idx]
    cj = np.bincount(g * k + y, minlength=k * k).reshape(k, k).T  # column-major as cleanlab
    np.fill_diagonal(cj, np.maximum(cj.diagonal(), 1))
    if calibrate:
        cj = _calibrate(cj, _class_counts(labels, k))
    off = idx[y != g]
    return cj, off


def get_confident_thresholds(
    labels: np.ndarray, pred_probs: np.ndarray, *, multi_label: bool = False
) -> np.ndarray:
    """Per-class thresholds ``(K,)``: mean ``p[:, k]`` over examples labelled ``k`` (2 if none).

    ``multi_label=True``: ``(K, 2)`` one-vs-rest thresholds (see :mod:`.multilabel_count`).
    """
    if multi_label:
        from labelnoise.common.detection import multilabel_count as ml

        return ml.get_confident_thresholds_multilabel(labels, pred_probs)
    y, p, sc = check_inputs_sc(labels, pred_probs)
    return _thresholds(y, p, sc=sc)


def compute_confident_joint(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    thresholds: np.ndarray | None = None,
    calibrate: bool = True,
    return_indices_of_off_diagonals: bool = False,
    multi_label: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, list[np.ndarray]]:
    """The confident joint ``C[given, true]`` ``(K, K)`` of Northcutt et al. (2021).

    Args:
        labels: ``(N,)`` given labels in ``[0, K)``.
        pred_probs: ``(N, K)`` out-of-sample predicted probabilities.
        thresholds: ``(K,)`` per-class thresholds; default :func:`get_confident_thresholds`.
        calibrate: rescale rows to the given-label counts (default True).
        return_indices_of_off_diagonals: also return the indices of confident examples whose
            guessed true label differs from the given one.
        multi_label: ``labels`` are lists of class ids (or ``(N, K)`` 0/1); returns the
            one-vs-rest joints ``(K, 2, 2)`` (and a list of ``K`` index arrays), see
            :mod:`.multilabel_count`.
    """
    if multi_label:
        from labelnoise.common.detection import multilabel_count as ml

        return ml.compute_confident_joint_multilabel(
            labels,
            pred_probs,
            thresholds=thresholds,
            calibrate=calibrate,
            return_indices_of_off_diagonals=return_indices_of_off_diagonals,
        )
    y, p, sc = check_inputs_sc(labels, pred_probs)
    thr = None if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    if thr is not None and thr.shape != (p.shape[1],):
        raise ValueError(f"thresholds must have shape ({p.shape[1]},); got {thr.shape}")
    cj, off = _compute_confident_joint(y, p, thr, calibrate, sc=sc)
    return (cj, off) if return_indices_of_off_diagonals else cj


def calibrate_confident_joint(
    confident_joint: np.ndarray, labels: np.ndarray, *, multi_label: bool = False
) -> np.ndarray:
    """Rescale rows of ``confident_joint (K, K)`` to the given-label counts, total to ``N``.

    ``multi_label=True``: ``confident_joint`` is ``(K, 2, 2)``, calibrated class by class.
    """
    if multi_label:
        from labelnoise.common.detection import multilabel_count as ml

        return ml.calibrate_confident_joint_multilabel(confident_joint, labels)
    cj = np.asarray(confident_joint, dtype=np.float64)
    if cj.ndim != 2 or cj.shape[0] != cj.shape[1]:
        raise ValueError(f"confident_joint must have shape (K, K); got {cj.shape}")
    y = np.asarray(labels).astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= cj.shape[0]):
        raise ValueError(f"labels must be in [0, {cj.shape[0]}); got max {y.max()}")
    return _calibrate(cj, _class_counts(y, cj.shape[0]))


def estimate_joint(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    confident_joint: np.ndarray | None = None,
    multi_label: bool = False,
) -> np.ndarray:
    """Estimated joint ``P(given, true)`` ``(K, K)``: the calibrated confident joint over ``N``.

    ``multi_label=True``: ``(K, 2, 2)`` one-vs-rest joints (see :mod:`.multilabel_count`).
    """
    if multi_label:
        from labelnoise.common.detection import multilabel_count as ml

        return ml.estimate_joint_multilabel(labels, pred_probs, confident_joint=confident_joint)
    y, p, sc = check_inputs_sc(labels, pred_probs)
    if confident_joint is None:
        cal, _ = _compute_confident_joint(y, p, sc=sc)
    else:
        cal = calibrate_confident_joint(confident_joint, y)
    return cal / np.clip(float(np.sum(cal)), _TINY, None)


def _reduce_issues(labels: np.ndarray, pred_probs: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Of the rows ``idx``, which have the given label as argmax (given label gets +1e-6)."""
    sub = pred_probs[idx].copy()
    rows = np.arange(idx.shape[0])
    sub[rows, labels[idx]] += _EPS
    return sub.argmax(axis=1) == labels[idx]


def _num_label_issues(
    labels: np.ndarray, pred_probs: np.ndarray, sc: np.ndarray | None = None
) -> int:
    _, off = _compute_confident_joint(labels, pred_probs, calibrate=False, sc=sc)
    return int(off.shape[0] - np.count_nonzero(_reduce_issues(labels, pred_probs, off)))


def num_label_issues(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    confident_joint: np.ndarray | None = None,
    estimation_method: Literal[
        "off_diagonal", "off_diagonal_calibrated", "off_diagonal_custom"
    ] = "off_diagonal",
    multi_label: bool = False,
) -> int:
    """Estimated number of label issues (cleanlab 2.9 ``count.num_label_issues``).

    ``off_diagonal``: confident off-diagonal examples whose given label is not the argmax.
    ``off_diagonal_calibrated``: ``round(N * (1 - trace(estimate_joint)))``.
    ``off_diagonal_custom``: the same on the given ``confident_joint (K, K)`` (calibrated).
    A ``confident_joint`` with another method is ignored with a warning (as in cleanlab).
    ``multi_label=True``: examples flagged by one-vs-rest ``confident_learning`` in any class
    (``estimation_method`` is ignored, as in cleanlab).
    """
    methods = ("off_diagonal", "off_diagonal_calibrated", "off_diagonal_custom")
    if estimation_method not in methods:
        raise ValueError(
            f"estimation_method must be one of {', '.join(methods)}; got {estimation_method!r}"
        )
    if confident_joint is not None and estimation_method != "off_diagonal_custom":
        warnings.warn(
            "confident_joint is ignored unless estimation_method='off_diagonal_custom'",
            stacklevel=2,
        )
    if multi_label:
        from labelnoise.common.detection import multilabel_count as ml

        return ml.num_label_issues_multilabel(labels, pred_probs, confident_joint=confident_joint)
    y, p, sc = check_inputs_sc(labels, pred_probs)
    if estimation_method == "off_diagonal":
        return _num_label_issues(y, p, sc)
    if estimation_method == "off_diagonal_calibrated":
        cal, _ = _compute_confident_joint(y, p, sc=sc)
    else:
        if confident_joint is None:
            raise ValueError(
                "confident_joint must be given for estimation_method='off_diagonal_custom'; got None"
            )
        k = p.shape[1]
        cj = np.asarray(confident_joint)
        if cj.shape != (k, k):
            raise ValueError(f"confident_joint must have shape ({k}, {k}); got {cj.shape}")
        cal = _calibrate(cj.astype(np.float64), _class_counts(y, k))
    joint = cal / np.clip(float(cal.sum()), _TINY, None)
    return int(np.rint((1.0 - joint.trace()) * len(y)))
