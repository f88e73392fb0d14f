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
from typing import Literal

import numpy as np
import torch

from labelnoise.common.detection._pruning import _compute_find_label_issues, _smallest
from labelnoise.common.detection._validate import check_multilabel_inputs
from labelnoise.common.detection.multilabel_count import check_multilabel_joint
from labelnoise.common.detection.quality import QualityMethod, _compute_quality
from labelnoise.common.units import reduce_units

__all__ = ["get_multilabel_quality_scores"]


def _binary(p_c: np.ndarray) -> np.ndarray:
    return np.stack([1 - p_c, p_c], axis=1)


def _class_scores(
    y1: np.ndarray, p: np.ndarray, method: str, adjust_pred_probs: bool
) -> np.ndarray:
    out = np.empty(p.shape, dtype=np.float64)
    for c in range(p.shape[1]):
        out[:, c] = _compute_quality(
            y1[:, c].astype(np.int64), _binary(p[:, c]), method, adjust_pred_probs
        )
    return out


def _aggregate(scores: np.ndarray, aggregator: str, alpha: float, temperature: float) -> np.ndarray:
    if aggregator == "exponential_moving_average":
        s = np.sort(scores, axis=1)[:, ::-1]
        ema = s[:, 0]
        for c in range(1, s.shape[1]):
            ema = alpha * s[:, c] + (1 - alpha) * ema
        return ema
    if aggregator == "softmin":
        n, k = scores.shape
        ids = torch.arange(n).repeat_interleave(k)
        _, out = reduce_units(
            torch.from_numpy(scores.reshape(-1)), ids, how="softmin", temperature=temperature
        )
        return out.numpy()
    raise ValueError(
        f"aggregator must be 'exponential_moving_average' or 'softmin'; got {aggregator!r}"
    )


def get_multilabel_quality_scores(
    labels: list | np.ndarray,
    pred_probs: np.ndarray,
    *,
    method: QualityMethod = "self_confidence",
    adjust_pred_probs: bool = False,
    aggregator: Literal["exponential_moving_average", "softmin"] = "exponential_moving_average",
    alpha: float = 0.8,
    temperature: float = 0.1,
) -> np.ndarray:
    """Per-example multi-label quality ``(N,)`` in ``[0, 1]``, higher = cleaner.

    Args:
        labels: list of lists of class ids, or an ``(N, K)`` 0/1 array.
        pred_probs: ``(N, K)`` independent per-class probabilities.
        method: per-class score on ``[1 - p_c, p_c]`` (see :func:`get_label_quality_scores`).
        aggregator: ``exponential_moving_average`` (default, ``alpha``) or ``softmin``
            (``temperature``) over the ``K`` per-class scores.
    """
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in [0, 1]; got {alpha}")
    y1, p = check_multilabel_inputs(labels, pred_probs)
    scores = _class_scores(y1, p, method, adjust_pred_probs)
    return _aggregate(scores, aggregator, float(alpha), float(temperature))


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
) -> np.ndarray:
    n, k = p.shape
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
    ntr = None if num_to_remove_per_class is None else np.asarray(num_to_remove_per_class)
    if ntr is not None and ntr.ndim == 0:
        ntr = np.full(k, int(ntr))
    if ntr is not None and ntr.shape != (k,):
        raise ValueError(f"num_to_remove_per_class must have shape ({k},); got {ntr.shape}")
    mask = np.zeros(n, dtype=bool)
    for c in range(k):
        per_class = None if ntr is None else np.array([ntr[c], 0])
        mask |= _compute_find_label_issues(
            y1[:, c].astype(np.int64),
            _binary(p[:, c]),
            filter_by,
            frac_noise,
            per_class,
            min_examples_per_class,
            None if cj is None else cj[c],
        )
    if return_indices_ranked_by is None:
        return mask
    adjust = bool(rank_by_kwargs.get("adjust_pred_probs", False))
    q = _aggregate(
        _class_scores(y1, p, return_indices_ranked_by, adjust),
        "exponential_moving_average",
        0.8,
        0.1,
    )
    idx = np.flatnonzero(mask)
    return idx[np.argsort(q[idx])]
