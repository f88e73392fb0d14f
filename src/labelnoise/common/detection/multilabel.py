"""Multi-label label issues: one-vs-rest confident learning per class.

Thyagarajan, Snorrason, Northcutt & Mueller, "Identifying Incorrect Annotations in Multi-Label
Classification Data" (ICLR workshop, 2023); semantics of cleanlab 2.9
``multilabel_classification``. Each class ``c`` becomes a binary problem with
``pred_probs = [1 - p_c, p_c]``; an example is an issue if any of its classes is. Per-example
quality aggregates the per-class scores with an exponential moving average over the scores
sorted high to low (``alpha = 0.8``, so the worst class weighs most) or a softmin.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Literal

import numpy as np

from labelnoise.common.detection._pruning import _compute_find_label_issues, _smallest
from labelnoise.common.detection._validate import check_multilabel_inputs
from labelnoise.common.detection.multilabel_count import check_multilabel_joint
from labelnoise.common.detection.quality import QualityMethod, _compute_quality
from labelnoise.common.detection.segmentation import _softmin_rows
from labelnoise.common.detection.streaming import find_label_issues_streaming

__all__ = ["get_multilabel_quality_scores", "get_multilabel_quality_scores_per_class"]


def _binary(p_c: np.ndarray) -> np.ndarray:
    return np.stack([1 - p_c, p_c], axis=1)


def _class_scores(
    y1: np.ndarray, p: np.ndarray, method: str, adjust_pred_probs: bool
) -> np.ndarray:
    if method == "self_confidence" and not adjust_pred_probs:  # p[y] of [1 - p, p]
        return np.where(y1.astype(bool), p, 1 - p).astype(np.float64, copy=False)
    out = np.empty(p.shape, dtype=np.float64)
    for c in range(p.shape[1]):
        out[:, c] = _compute_quality(
            y1[:, c].astype(np.int64), _binary(p[:, c]), method, adjust_pred_probs
        )
    return out


def _aggregate(
    scores: np.ndarray,
    aggregator: str | Callable[..., np.ndarray],
    alpha: float | None,
    temperature: float,
) -> np.ndarray:
    if callable(aggregator):
        out = np.asarray(aggregator(scores, axis=1))
        if out.shape != scores.shape[:1]:
            raise ValueError(
                f"aggregator must return one score per example, shape ({scores.shape[0]},); "
                f"got {out.shape}"
            )
        return out
    if aggregator == "exponential_moving_average":
        a = 2 / (scores.shape[1] + 1) if alpha is None else alpha
        s = np.ascontiguousarray(np.sort(scores, axis=1)[:, ::-1].T)  # contiguous columns
        ema = s[0]
        for c in range(1, s.shape[0]):
            ema = a * s[c] + (1 - a) * ema
        return ema
    if aggregator == "softmin":
        return _softmin_rows(scores, temperature)
    raise ValueError(
        "aggregator must be 'exponential_moving_average', 'softmin' or a callable; "
        f"got {aggregator!r}"
    )


def get_multilabel_quality_scores(
    labels: list | np.ndarray,
    pred_probs: np.ndarray,
    *,
    method: QualityMethod = "self_confidence",
    adjust_pred_probs: bool = False,
    aggregator: Literal["exponential_moving_average", "softmin"]
    | Callable[..., np.ndarray] = "exponential_moving_average",
    alpha: float | None = 0.8,
    temperature: float = 0.1,
) -> np.ndarray:
    """Per-example multi-label quality ``(N,)`` in ``[0, 1]``, higher = cleaner.

    Args:
        labels: list of lists of class ids, or an ``(N, K)`` 0/1 array.
        pred_probs: ``(N, K)`` independent per-class probabilities.
        method: per-class score on ``[1 - p_c, p_c]`` (see :func:`get_label_quality_scores`).
        aggregator: ``exponential_moving_average`` (default, ``alpha``; None = ``2 / (K + 1)``),
            ``softmin`` (``temperature``; 0 = min, inf = mean) over the ``K`` per-class
            scores, or a callable ``f(scores (N, K), axis=1) -> (N,)`` (cleanlab's
            ``Aggregator`` contract).
    """
    if alpha is not None and not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in [0, 1] or None; got {alpha}")
    if not float(temperature) >= 0:
        raise ValueError(f"temperature must be >= 0; got {temperature}")
    y1, p = check_multilabel_inputs(labels, pred_probs)
    scores = _class_scores(y1, p, method, adjust_pred_probs)
    return _aggregate(scores, aggregator, alpha, float(temperature))


def get_multilabel_quality_scores_per_class(
    labels: list | np.ndarray,
    pred_probs: np.ndarray,
    *,
    method: QualityMethod = "self_confidence",
    adjust_pred_probs: bool = False,
) -> np.ndarray:
    """``(N, K)`` one-vs-rest quality of every class of every example (cleanlab's
    ``multilabel_classification.rank.get_label_quality_scores_per_class``, transposed there
    as a list of ``K`` arrays; here one array, column ``c`` = class ``c``)."""
    y1, p = check_multilabel_inputs(labels, pred_probs)
    return _class_scores(y1, p, method, adjust_pred_probs)


def _low_memory_class_issues(y_c: np.ndarray, p2: np.ndarray, method: str) -> np.ndarray:
    """cleanlab's ``find_label_issues_batched`` on one binary problem: ranked indices."""
    num = find_label_issues_streaming([(y_c, p2)], 2, keep_unit_quality=False).num_issues
    return np.argsort(_compute_quality(y_c, p2, method))[:num]


def _find_multilabel_issues(
    y1: np.ndarray,
    p: np.ndarray,
    filter_by: str,
    frac_noise: float,
    num_to_remove_per_class: int | list[int] | np.ndarray | None,
    min_examples_per_class: int,
    return_indices_ranked_by: str | None,
    rank_by_kwargs: dict,
    confident_joint: np.ndarray | None = None,
    low_memory: bool = False,
) -> np.ndarray:
    n, k = p.shape
    if low_memory:
        return _find_low_memory(y1, p, return_indices_ranked_by, rank_by_kwargs)
    if confident_joint is not None and np.shape(confident_joint) == (k, k):
        warnings.warn(
            f"confident_joint of shape ({k}, {k}) is the old multi-label format and is ignored "
            f"(as cleanlab does); pass the ({k}, 2, 2) one-vs-rest joint of "
            "compute_confident_joint(multi_label=True)",
            stacklevel=3,
        )
        confident_joint = None
    cj = None if confident_joint is None else check_multilabel_joint(confident_joint, k)
    if filter_by in ("low_self_confidence", "low_normalized_margin"):
        num = int(
            _find_multilabel_issues(
                y1, p, "confident_learning", 1.0, None, min_examples_per_class, None, {}
            ).sum()
        )
        q = _aggregate(
            _class_scores(y1, p, "self_confidence", False), "exponential_moving_average", 0.8, 0.1
        )
        idx = _smallest(q, num)
        if return_indices_ranked_by is not None:
            qi = _aggregate(
                _class_scores(
                    y1[idx],
                    p[idx],
                    return_indices_ranked_by,
                    bool(rank_by_kwargs.get("adjust_pred_probs", False)),
                ),
                "exponential_moving_average",
                0.8,
                0.1,
            )
            return idx[np.argsort(qi)]
        mask = np.zeros(n, dtype=bool)
        mask[idx] = True
        return mask
    per_class = _per_class_issues(
        y1, p, filter_by, frac_noise, num_to_remove_per_class, min_examples_per_class, cj
    )
    if return_indices_ranked_by is None:
        return np.asarray(per_class.any(axis=1))
    adjust = bool(rank_by_kwargs.get("adjust_pred_probs", False))
    q = _aggregate(
        _class_scores(y1, p, return_indices_ranked_by, adjust),
        "exponential_moving_average",
        0.8,
        0.1,
    )
    idx = np.flatnonzero(per_class.any(axis=1))
    return idx[np.argsort(q[idx])]


def _per_class_issues(
    y1: np.ndarray,
    p: np.ndarray,
    filter_by: str,
    frac_noise: float,
    num_to_remove_per_class: int | list[int] | np.ndarray | None,
    min_examples_per_class: int,
    cj: np.ndarray | None,
) -> np.ndarray:
    """``(N, K)`` bool: class ``c`` of example ``i`` is flagged by its one-vs-rest filter."""
    n, k = p.shape
    ntr = None if num_to_remove_per_class is None else np.asarray(num_to_remove_per_class)
    if ntr is not None and ntr.ndim == 0:
        ntr = np.full(k, int(ntr))
    if ntr is not None and ntr.shape != (k,):
        raise ValueError(f"num_to_remove_per_class must have shape ({k},); got {ntr.shape}")
    out = np.zeros((n, k), dtype=bool)
    for c in range(k):
        per_class = None if ntr is None else np.array([ntr[c], 0])
        out[:, c] = _compute_find_label_issues(
            y1[:, c].astype(np.int64),
            _binary(p[:, c]),
            filter_by,
            frac_noise,
            per_class,
            min_examples_per_class,
            None if cj is None else cj[c],
        )
    return out


def _find_low_memory(
    y1: np.ndarray, p: np.ndarray, rank_by: str | None, rank_by_kwargs: dict
) -> np.ndarray:
    """cleanlab's ``low_memory=True``: per class, the streamed issue count of lowest scores."""
    n, k = p.shape
    per = [
        _low_memory_class_issues(
            y1[:, c].astype(np.int64), _binary(p[:, c]), rank_by or "self_confidence"
        )
        for c in range(k)
    ]
    if rank_by is None:
        mask = np.zeros(n, dtype=bool)
        for idx in per:
            mask[idx] = True
        return mask
    idx = np.unique(np.concatenate(per))
    adjust = bool(rank_by_kwargs.get("adjust_pred_probs", False))
    q = _aggregate(_class_scores(y1, p, rank_by, adjust), "exponential_moving_average", 0.8, 0.1)
    return idx[np.argsort(q[idx])]
