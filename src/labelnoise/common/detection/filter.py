"""Find label issues with confident learning: ``find_label_issues`` (cleanlab 2.9 semantics).

Northcutt, Jiang & Chuang, "Confident Learning: Estimating Uncertainty in Dataset Labels"
(JAIR 2021). ``filter_by`` selects the pruning rule:

- ``prune_by_noise_rate`` (default): for given class ``k`` and each other class ``j``, flag the
  ``n[j, k]`` examples labelled ``k`` with the largest margin ``p_j - p_k``, where ``n`` is the
  calibrated confident joint (after keeping ``min_examples_per_class`` and ``frac_noise``);
- ``prune_by_class``: flag the ``N_k - n[k, k]`` examples of class ``k`` with the lowest ``p_k``;
- ``both``: the intersection of the two;
- ``confident_learning``: the confident off-diagonal examples of the confident joint;
- ``predicted_neq_given``: ``argmax p != label``;
- ``low_self_confidence`` / ``low_normalized_margin``: the ``num_label_issues`` lowest scores.

Every rule except the last two then un-flags examples whose given label is the argmax
(within 1e-6). Selection uses ``argpartition``; where ties straddle a cut it defers to
``np.argsort``'s order, so masks equal cleanlab's exactly rather than up to tie order.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

from labelnoise.common.detection._pruning import _PRUNING, _compute_find_label_issues
from labelnoise.common.detection._validate import (
    check_inputs,
    check_inputs_fused,
    check_multilabel_inputs,
)
from labelnoise.common.detection.confident_joint import _calibrate, _class_counts
from labelnoise.common.detection.multilabel import _find_multilabel_issues
from labelnoise.common.detection.quality import QualityMethod, _order

__all__ = [
    "FILTER_BY",
    "FilterBy",
    "find_label_issues",
    "find_label_issues_using_argmax_confusion_matrix",
    "find_predicted_neq_given",
]

FilterBy = Literal[
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
]
FILTER_BY: tuple[str, ...] = FilterBy.__args__  # type: ignore[attr-defined]


def find_predicted_neq_given(
    labels: np.ndarray | list, pred_probs: np.ndarray, *, multi_label: bool = False
) -> np.ndarray:
    """``(N,)`` bool: the argmax of ``pred_probs`` differs from the given label.

    ``multi_label=True``: flagged when some class's one-vs-rest argmax differs.
    """
    if multi_label:
        from labelnoise.common.detection.multilabel_count import (
            find_predicted_neq_given_multilabel,
        )

        return find_predicted_neq_given_multilabel(labels, pred_probs)
    y, _, _, am = check_inputs_fused(labels, pred_probs, argmax=True, pick=False)
    assert am is not None
    return am != y


def find_label_issues_using_argmax_confusion_matrix(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    calibrate: bool = True,
    filter_by: FilterBy = "prune_by_noise_rate",
) -> np.ndarray:
    """Baseline: ``find_label_issues`` with the ``(K, K)`` confusion matrix
    ``C[given, argmax p]`` (calibrated by default) as the confident joint; ``(N,)`` mask.

    Unlike cleanlab (sklearn's matrix over the classes present), the matrix always has ``K``
    rows, so a class that is neither given nor predicted does not break the shapes.
    """
    y, p, _, am = check_inputs_fused(labels, pred_probs, argmax=True, pick=False)
    assert am is not None
    k = p.shape[1]
    cj = np.bincount(am * k + y, minlength=k * k).reshape(k, k).T
    if calibrate:
        cj = _calibrate(cj.astype(np.float64), _class_counts(y, k))
    return find_label_issues(y, p, confident_joint=cj, filter_by=filter_by)


def find_label_issues(
    labels: np.ndarray | list,
    pred_probs: np.ndarray,
    *,
    filter_by: FilterBy = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: int | list[int] | np.ndarray | None = None,
    return_indices_ranked_by: QualityMethod | None = None,
    rank_by_kwargs: dict | None = None,
    min_examples_per_class: int = 1,
    confident_joint: np.ndarray | None = None,
    multi_label: bool = False,
    low_memory: bool = False,
) -> np.ndarray:
    """Flag likely label errors (cleanlab 2.9 ``filter.find_label_issues``).

    Args:
        labels: ``(N,)`` given labels in ``[0, K)``; with ``multi_label=True`` a list of lists
            of class ids or an ``(N, K)`` 0/1 array.
        pred_probs: ``(N, K)`` out-of-sample predicted probabilities (rows sum to 1; for
            multi-label, independent per-class probabilities).
        filter_by: the pruning rule, one of :data:`FILTER_BY` (see the module docstring).
        frac_noise: prune only this fraction of the estimated issues per class (pruning rules).
        num_to_remove_per_class: ``(K,)`` how many to prune per given class, or one integer
            for every class (pruning rules).
        return_indices_ranked_by: if set, return indices of the issues sorted by this quality
            score, lowest first, instead of the mask.
        rank_by_kwargs: extra arguments of the ranking score (``adjust_pred_probs``).
        min_examples_per_class: keep at least this many examples of every class.
        confident_joint: ``(K, K)`` precomputed confident joint (ignored by
            ``confident_learning``).
        multi_label: one-vs-rest confident learning per class (Thyagarajan et al., 2023);
            an example is flagged when any of its classes is.
        low_memory: multi-label only, cleanlab's ``low_memory``: per class, the streamed
            issue count (:func:`find_label_issues_streaming`) of lowest-quality examples;
            ``filter_by``, ``frac_noise``, ``num_to_remove_per_class`` and
            ``confident_joint`` do not apply then.

    Returns:
        ``(N,)`` bool mask, or the ranked ``int64`` indices of the flagged examples.

    A class with no labelled example never receives a guessed true label (its threshold is
    2), and classes with at most ``min_examples_per_class`` examples are not pruned.
    """
    if filter_by not in FILTER_BY:
        raise ValueError(f"filter_by must be one of {', '.join(FILTER_BY)}; got {filter_by!r}")
    if not 0.0 <= float(frac_noise) <= 1.0:
        raise ValueError(f"frac_noise must be in [0, 1]; got {frac_noise}")
    if num_to_remove_per_class is not None and filter_by not in _PRUNING:
        raise ValueError(
            "num_to_remove_per_class must be None unless filter_by is one of "
            f"{', '.join(_PRUNING)}; got filter_by {filter_by!r}"
        )
    if filter_by not in _PRUNING and frac_noise != 1.0:
        warnings.warn(f"frac_noise is ignored by filter_by {filter_by!r}", stacklevel=2)
    if low_memory and not multi_label:
        raise ValueError(
            "low_memory must be False unless multi_label=True (single-label data: use "
            "find_label_issues_streaming); got low_memory=True"
        )
    if multi_label:
        y1, p = check_multilabel_inputs(labels, pred_probs)
        return _find_multilabel_issues(
            y1,
            p,
            filter_by,
            frac_noise,
            num_to_remove_per_class,
            min_examples_per_class,
            return_indices_ranked_by,
            rank_by_kwargs or {},
            confident_joint,
            low_memory,
        )
    y, p = check_inputs(labels, pred_probs)
    k = p.shape[1]
    ntr = None
    if num_to_remove_per_class is not None:
        ntr = np.asarray(num_to_remove_per_class)
        if ntr.dtype.kind not in "iu":
            raise ValueError(f"num_to_remove_per_class must be integers; got dtype {ntr.dtype}")
        ntr = np.broadcast_to(ntr.astype(np.int64), (k,)) if ntr.ndim == 0 else ntr.astype(np.int64)
        if ntr.shape != (k,):
            raise ValueError(f"num_to_remove_per_class must have shape ({k},); got {ntr.shape}")
    cj = None
    if confident_joint is not None:
        cj = np.asarray(confident_joint)
        if cj.shape != (k, k):
            raise ValueError(f"confident_joint must have shape ({k}, {k}); got {cj.shape}")
    mask = _compute_find_label_issues(
        y, p, filter_by, float(frac_noise), ntr, int(min_examples_per_class), cj
    )
    if return_indices_ranked_by is None:
        return mask
    return _order(mask, y, p, return_indices_ranked_by, **(rank_by_kwargs or {}))
