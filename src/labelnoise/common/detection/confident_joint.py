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

from typing import Literal

import numpy as np

from labelnoise.common.detection._validate import check_inputs

__all__ = [
    "calibrate_confident_joint",
    "compute_confident_joint",
    "estimate_joint",
    "estimate_latent",
    "get_confident_thresholds",
    "num_label_issues",
]

_EPS = 1e-6
_TINY = 1e-100


def _class_counts(labels: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(labels, minlength=k)


def _thresholds(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    k = pred_probs.shape[1]
    counts = _class_counts(labels, k)
    sc = pred_probs[np.arange(labels.shape[0]), labels]
    sums = np.bincount(labels, weights=sc, minlength=k)
    thr = np.where(counts > 0, sums / np.maximum(counts, 1), 2.0)
    return np.clip(thr, 2 * _EPS, None)


def _confident_guess(
    pred_probs: np.ndarray, thresholds: np.ndarray, argmax: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(is_confident (N,), guessed_true_label (N,))``.

    Rows whose argmax class is confident guess the argmax (whether or not other classes are
    confident too); only the other rows need the full ``p >= t - 1e-6`` comparison.
    """
    n = pred_probs.shape[0]
    amax = pred_probs.argmax(axis=1) if argmax is None else argmax
    cut = thresholds - _EPS
    amax_ok = pred_probs[np.arange(n), amax] >= cut[amax]
    guess = amax.copy()
    confident = amax_ok.copy()
    rest = np.flatnonzero(~amax_ok)
    if rest.size:
        is_conf = pred_probs[rest] >= cut
        n_conf = np.count_nonzero(is_conf, axis=1)
        guess[rest] = np.where(n_conf > 1, amax[rest], is_conf.argmax(axis=1))
        confident[rest] = n_conf > 0
    return confident, guess


def _round_preserving_row_totals(m: np.ndarray) -> np.ndarray:
    """Round each row to integers keeping its rounded total (largest remainders move first)."""
    ints = np.round(m)
    diff = np.round(np.round(m.sum(axis=1)) - ints.sum(axis=1))
    for i in np.flatnonzero(np.abs(diff) > _EPS):
        step = -1 if diff[i] < 0 else 1
        changes = min(int(abs(diff[i])), m.shape[1])
        idx = np.argsort(m[i] - ints[i])[::-step][:changes]
        ints[i, idx] += step
    return ints.astype(np.int64)


def _calibrate(cj: np.ndarray, label_counts: np.ndarray) -> np.ndarray:
    rows = np.clip(cj.sum(axis=1), _TINY, None)
    cal = cj / rows[:, None] * label_counts[:, None]
    cal = cal / np.clip(np.sum(cal), _TINY, None) * int(label_counts.sum())
    return _round_preserving_row_totals(cal)


def _compute_confident_joint(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    thresholds: np.ndarray | None = None,
    calibrate: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """``(confident_joint (K, K), off_diagonal_indices)`` on validated inputs."""
    k = pred_probs.shape[1]
    thr = _thresholds(labels, pred_probs) if thresholds is None else thresholds
    confident, guess = _confident_guess(pred_probs, thr)
    y, g = labels[confident], guess[confident]
    cj = np.bincount(y * k + g, minlength=k * k).reshape(k, k)
    np.fill_diagonal(cj, np.maximum(cj.diagonal(), 1))
    if calibrate:
        cj = _calibrate(cj, _class_counts(labels, k))
    off = np.flatnonzero(confident)[y != g]
    return cj, off


def get_confident_thresholds(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """Per-class thresholds ``(K,)``: mean ``p[:, k]`` over examples labelled ``k`` (2 if none)."""
    y, p = check_inputs(labels, pred_probs)
    return _thresholds(y, p)


def compute_confident_joint(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    thresholds: np.ndarray | None = None,
    calibrate: bool = True,
    return_indices_of_off_diagonals: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """The confident joint ``C[given, true]`` ``(K, K)`` of Northcutt et al. (2021).

    Args:
        labels: ``(N,)`` given labels in ``[0, K)``.
        pred_probs: ``(N, K)`` out-of-sample predicted probabilities.
        thresholds: ``(K,)`` per-class thresholds; default :func:`get_confident_thresholds`.
        calibrate: rescale rows to the given-label counts (default True).
        return_indices_of_off_diagonals: also return the indices of confident examples whose
            guessed true label differs from the given one.
    """
    y, p = check_inputs(labels, pred_probs)
    thr = None if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    if thr is not None and thr.shape != (p.shape[1],):
        raise ValueError(f"thresholds must have shape ({p.shape[1]},); got {thr.shape}")
    cj, off = _compute_confident_joint(y, p, thr, calibrate)
    return (cj, off) if return_indices_of_off_diagonals else cj


def calibrate_confident_joint(confident_joint: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Rescale rows of ``confident_joint (K, K)`` to the given-label counts, total to ``N``."""
    cj = np.asarray(confident_joint, dtype=np.float64)
    if cj.ndim != 2 or cj.shape[0] != cj.shape[1]:
        raise ValueError(f"confident_joint must have shape (K, K); got {cj.shape}")
    y = np.asarray(labels).astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= cj.shape[0]):
        raise ValueError(f"labels must be in [0, {cj.shape[0]}); got max {y.max()}")
    return _calibrate(cj, _class_counts(y, cj.shape[0]))


def estimate_joint(
    labels: np.ndarray, pred_probs: np.ndarray, *, confident_joint: np.ndarray | None = None
) -> np.ndarray:
    """Estimated joint ``P(given, true)`` ``(K, K)``: the calibrated confident joint over ``N``."""
    y, p = check_inputs(labels, pred_probs)
    if confident_joint is None:
        cal, _ = _compute_confident_joint(y, p)
    else:
        cal = calibrate_confident_joint(confident_joint, y)
    return cal / np.clip(float(np.sum(cal)), _TINY, None)


def _clip_noise_rates(m: np.ndarray) -> np.ndarray:
    d = m.diagonal().copy()
    out = np.clip(m, 0, 0.9999)
    np.fill_diagonal(out, d)
    return out / np.clip(out.sum(axis=0), _TINY, None)


def estimate_latent(
    confident_joint: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(prior P(true) (K,), noise_matrix, inverse_noise_matrix)`` from a confident joint.

    ``noise_matrix[i, j] = P(given = i | true = j)`` (column-stochastic, cleanlab's convention;
    convert with ``TransitionMatrix.from_column_stochastic``) and
    ``inverse_noise_matrix[j, i] = P(true = j | given = i)``. The prior uses cleanlab's default
    ``py_method="cnt"``: ``P(true=j) = inv[j, j] / noise[j, j] * P(given=j)``.
    """
    cj = np.asarray(confident_joint, dtype=np.float64)
    k = cj.shape[0]
    y = np.asarray(labels).astype(np.int64)
    ps = _class_counts(y, k) / float(len(y))
    noise = cj / np.clip(cj.sum(axis=0), _TINY, None)
    inv = cj.T / np.clip(cj.sum(axis=1), _TINY, None)
    py = inv.diagonal() / np.clip(noise.diagonal(), _TINY, None) * ps
    py = np.clip(py, _EPS, 1.0)
    py = py / np.clip(py.sum(), _TINY, None)
    return py, _clip_noise_rates(noise), _clip_noise_rates(inv)


def _reduce_issues(labels: np.ndarray, pred_probs: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Of the rows ``idx``, which have the given label as argmax (given label gets +1e-6)."""
    sub = pred_probs[idx].copy()
    rows = np.arange(idx.shape[0])
    sub[rows, labels[idx]] += _EPS
    return sub.argmax(axis=1) == labels[idx]


def _num_label_issues(labels: np.ndarray, pred_probs: np.ndarray) -> int:
    _, off = _compute_confident_joint(labels, pred_probs, calibrate=False)
    return int(off.shape[0] - np.count_nonzero(_reduce_issues(labels, pred_probs, off)))


def num_label_issues(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    estimation_method: Literal["off_diagonal", "off_diagonal_calibrated"] = "off_diagonal",
) -> int:
    """Estimated number of label issues (cleanlab 2.9 ``count.num_label_issues``).

    ``off_diagonal``: confident off-diagonal examples whose given label is not the argmax.
    ``off_diagonal_calibrated``: ``round(N * (1 - trace(estimate_joint)))``.
    """
    y, p = check_inputs(labels, pred_probs)
    if estimation_method == "off_diagonal":
        return _num_label_issues(y, p)
    if estimation_method == "off_diagonal_calibrated":
        cal, _ = _compute_confident_joint(y, p)
        joint = cal / cal.sum()
        return int(np.rint((1.0 - joint.trace()) * len(y)))
    raise ValueError(
        f"estimation_method must be 'off_diagonal' or 'off_diagonal_calibrated'; "
        f"got {estimation_method!r}"
    )
