"""Confident-learning counts for multi-label data: one ``(2, 2)`` problem per class.

Thyagarajan, Snorrason, Northcutt & Mueller, "Identifying Incorrect Annotations in Multi-Label
Classification Data" (ICLR workshop, 2023); semantics of cleanlab 2.9's ``count.*(...,
multi_label=True)`` and ``filter.find_predicted_neq_given(..., multi_label=True)``.

Class ``c`` becomes a binary problem with labels ``y[:, c]`` (1 = the example has class ``c``)
and ``pred_probs = [1 - p_c, p_c]``; every result is stacked over classes:

- thresholds ``(K, 2)``; confident joint, calibrated joint and estimated joint ``(K, 2, 2)``
  with entry ``[c, given, true]`` (index 1 = has class ``c``);
- ``num_label_issues``: examples flagged by ``filter_by="confident_learning"`` in any class;
- ``find_predicted_neq_given``: an example is flagged when any class's binary argmax differs.

Inputs are validated by :func:`~labelnoise.common.detection._validate.check_multilabel_inputs`
(list of lists of class ids or an ``(N, K)`` 0/1 array; probabilities in ``[0, 1]``).
"""

from __future__ import annotations

import numpy as np

from labelnoise.common.detection._validate import check_multilabel_inputs
from labelnoise.common.detection.confident_joint import (
    _calibrate,
    _class_counts,
    _compute_confident_joint,
    _thresholds,
)

__all__ = [
    "calibrate_confident_joint_multilabel",
    "check_multilabel_joint",
    "compute_confident_joint_multilabel",
    "estimate_joint_multilabel",
    "find_predicted_neq_given_multilabel",
    "get_confident_thresholds_multilabel",
    "num_label_issues_multilabel",
]

_TINY = 1e-100


def _binary(p_c: np.ndarray) -> np.ndarray:
    return np.stack([1 - p_c, p_c], axis=1)


def check_multilabel_joint(confident_joint: object, k: int) -> np.ndarray:
    """``confident_joint`` as a ``(K, 2, 2)`` array, or ``ValueError`` naming the shape."""
    cj = np.asarray(confident_joint)
    if cj.shape != (k, 2, 2):
        raise ValueError(
            f"confident_joint must have shape ({k}, 2, 2) for multi_label (one-vs-rest per "
            f"class, as compute_confident_joint(multi_label=True) returns); got {cj.shape}"
        )
    if cj.dtype.kind not in "iuf" or not np.isfinite(cj).all() or (cj < 0).any():
        raise ValueError("confident_joint must hold finite non-negative counts; got other values")
    return cj


def get_confident_thresholds_multilabel(labels: object, pred_probs: object) -> np.ndarray:
    """Per-class one-vs-rest thresholds ``(K, 2)``: column 1 for "has class", 0 for "has not"."""
    y1, p = check_multilabel_inputs(labels, pred_probs)
    return np.stack(
        [_thresholds(y1[:, c].astype(np.int64), _binary(p[:, c])) for c in range(p.shape[1])]
    )


def _cj_per_class(
    y1: np.ndarray, p: np.ndarray, thresholds: np.ndarray | None, calibrate: bool
) -> tuple[np.ndarray, list[np.ndarray]]:
    k = p.shape[1]
    out = np.empty((k, 2, 2), dtype=np.int64)
    offs = []
    for c in range(k):
        thr = None if thresholds is None else thresholds[c]
        out[c], off = _compute_confident_joint(
            y1[:, c].astype(np.int64), _binary(p[:, c]), thr, calibrate
        )
        offs.append(off)
    return out, offs


def compute_confident_joint_multilabel(
    labels: object,
    pred_probs: object,
    *,
    thresholds: np.ndarray | None = None,
    calibrate: bool = True,
    return_indices_of_off_diagonals: bool = False,
) -> np.ndarray | tuple[np.ndarray, list[np.ndarray]]:
    """One-vs-rest confident joints ``(K, 2, 2)`` (``[c, given, true]``).

    Args:
        labels: list of lists of class ids, or an ``(N, K)`` 0/1 array.
        pred_probs: ``(N, K)`` independent per-class probabilities.
        thresholds: ``(K, 2)`` per-class binary thresholds (default: the mean self-confidence,
            :func:`get_confident_thresholds_multilabel`). cleanlab passes one ``(2,)`` array
            to every class; a ``(2,)`` array is accepted here and broadcast the same way.
        calibrate: calibrate every class's joint to its label counts (default True).
        return_indices_of_off_diagonals: also return a list of ``K`` index arrays.
    """
    y1, p = check_multilabel_inputs(labels, pred_probs)
    k = p.shape[1]
    thr = None
    if thresholds is not None:
        thr = np.asarray(thresholds, dtype=np.float64)
        if thr.shape == (2,):
            thr = np.broadcast_to(thr, (k, 2))
        if thr.shape != (k, 2):
            raise ValueError(f"thresholds must have shape ({k}, 2) or (2,); got {thr.shape}")
    cj, offs = _cj_per_class(y1, p, thr, calibrate)
    return (cj, offs) if return_indices_of_off_diagonals else cj


def calibrate_confident_joint_multilabel(confident_joint: np.ndarray, labels: object) -> np.ndarray:
    """Calibrate every class's ``(2, 2)`` joint to its binary label counts: ``(K, 2, 2)``.

    ``labels`` is the ``(N, K)`` 0/1 array or a list of lists of class ids (then ``K`` is
    taken from ``confident_joint``).
    """
    k = np.asarray(confident_joint).shape[0] if np.ndim(confident_joint) else 0
    cj = check_multilabel_joint(confident_joint, k).astype(np.float64)
    y1, _ = check_multilabel_inputs(labels, np.zeros((len(labels), k)))  # type: ignore[arg-type]
    out = np.empty((k, 2, 2), dtype=np.int64)
    for c in range(k):
        out[c] = _calibrate(cj[c], _class_counts(y1[:, c].astype(np.int64), 2))
    return out


def estimate_joint_multilabel(
    labels: object, pred_probs: object, *, confident_joint: object | None = None
) -> np.ndarray:
    """One-vs-rest estimated joints ``P(given, true)`` ``(K, 2, 2)``, each summing to 1.

    Like cleanlab, a given ``confident_joint`` ``(K, 2, 2)`` is calibrated per class first;
    without one, the calibrated confident joint is computed (and calibrated once more, as
    cleanlab does; calibration of a calibrated joint changes nothing but rounding).
    """
    y1, p = check_multilabel_inputs(labels, pred_probs)
    k = p.shape[1]
    if confident_joint is None:
        cj, _ = _cj_per_class(y1, p, None, True)
    else:
        cj = check_multilabel_joint(confident_joint, k)
    out = np.empty((k, 2, 2))
    for c in range(k):
        cal = _calibrate(cj[c].astype(np.float64), _class_counts(y1[:, c].astype(np.int64), 2))
        out[c] = cal / max(float(cal.sum()), _TINY)
    return out


def num_label_issues_multilabel(
    labels: object, pred_probs: object, *, confident_joint: object | None = None
) -> int:
    """Examples flagged by multi-label ``find_label_issues(filter_by="confident_learning")``.

    As in cleanlab, ``confident_joint`` is checked (``(K, 2, 2)``) but the confident-learning
    rule recomputes the off-diagonal examples from ``pred_probs``.
    """
    y1, p = check_multilabel_inputs(labels, pred_probs)
    if confident_joint is not None:
        check_multilabel_joint(confident_joint, p.shape[1])
    _, offs = _cj_per_class(y1, p, None, False)
    mask = np.zeros(p.shape[0], dtype=bool)
    for c, off in enumerate(offs):
        sub = _binary(p[off, c])
        sub[np.arange(off.size), y1[off, c]] += 1e-6
        keep = sub.argmax(axis=1) != y1[off, c]
        mask[off[keep]] = True
    return int(mask.sum())


def find_predicted_neq_given_multilabel(labels: object, pred_probs: object) -> np.ndarray:
    """``(N,)`` bool: for some class, ``argmax([1 - p_c, p_c])`` differs from ``y[:, c]``."""
    y1, p = check_multilabel_inputs(labels, pred_probs)
    pred = (p > 1 - p).astype(np.uint8)
    return (pred != y1).any(axis=1)
