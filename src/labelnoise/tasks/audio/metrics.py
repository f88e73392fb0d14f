"""Audio-tagging metrics: lwlrap (DCASE 2019 Task 2) and mean average precision.

lwlrap, label-weighted label-ranking average precision (Fonseca et al., "Audio tagging with
noisy labels and minimal supervision", DCASE 2019; D. Ellis's reference notebook): for every
positive (clip, tag) pair, the precision of the clip's tag ranking at that tag's rank;
averaged over all positive pairs, so each tag weighs by its number of positives. Equal to
sklearn's ``label_ranking_average_precision_score`` with ``sample_weight`` = the number of
positive tags of each clip. Ties count pessimistically (as sklearn): the rank of a tag is the
number of tags scored at least as high.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["average_precision_per_tag", "lwlrap", "mean_average_precision", "per_tag_lwlrap"]


def _arrays(scores: Tensor | np.ndarray, truth: Tensor | np.ndarray) -> tuple[np.ndarray, ...]:
    s = (
        scores.detach().cpu().double().numpy()
        if isinstance(scores, Tensor)
        else np.asarray(scores, dtype=np.float64)
    )
    y = truth.detach().cpu().numpy() if isinstance(truth, Tensor) else np.asarray(truth)
    if s.ndim != 2 or y.shape != s.shape:
        raise ValueError(
            f"scores and truth must both have shape (N, K); got {s.shape} and {y.shape}"
        )
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"truth must be 0 or 1; got values {np.unique(y)[:5].tolist()}")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite; got NaN or inf")
    return s, y.astype(bool)


def per_tag_lwlrap(
    scores: Tensor | np.ndarray, truth: Tensor | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-tag lwlrap and tag weights (share of all positives), both ``(K,)``.

    Args:
        scores: ``(N, K)`` tag scores (logits or probabilities; only their order matters).
        truth: ``(N, K)`` 0/1 clean tags.

    Returns:
        ``(per_tag, weight)``; ``lwlrap = sum(per_tag * weight)``; tags without positives get
        ``nan`` and weight 0.
    """
    s, y = _arrays(scores, truth)
    # rank[n, j] = #tags of clip n scored >= s[n, j]; hits[n, j] = #positive tags among them.
    at_least = s[:, None, :] >= s[:, :, None]
    rank = at_least.sum(2)
    hits = (at_least & y[:, None, :]).sum(2)
    precision = np.where(y, hits / np.maximum(rank, 1), 0.0)
    positives = y.sum(0)
    per_tag = np.full(s.shape[1], np.nan)
    has = positives > 0
    per_tag[has] = precision.sum(0)[has] / positives[has]
    weight = positives / max(int(positives.sum()), 1)
    return per_tag, weight


def lwlrap(scores: Tensor | np.ndarray, truth: Tensor | np.ndarray) -> float:
    """Label-weighted label-ranking average precision in ``[0, 1]`` (``nan`` without positives).

    ``scores``: ``(N, K)``; ``truth``: ``(N, K)`` 0/1. Clips without positives do not count.
    """
    per_tag, weight = per_tag_lwlrap(scores, truth)
    if not weight.any():
        return float("nan")
    return float(np.nansum(per_tag * weight))


def average_precision_per_tag(
    scores: Tensor | np.ndarray, truth: Tensor | np.ndarray
) -> np.ndarray:
    """Average precision of each tag over clips ``(K,)`` (sklearn's step-wise definition,
    ties grouped); ``nan`` for tags without positives."""
    s, y = _arrays(scores, truth)
    out = np.full(s.shape[1], np.nan)
    for k in range(s.shape[1]):
        pos = int(y[:, k].sum())
        if pos == 0:
            continue
        order = np.argsort(-s[:, k], kind="mergesort")
        sk, yk = s[order, k], y[order, k]
        last = np.r_[np.nonzero(np.diff(sk))[0], len(sk) - 1]  # end of each group of ties
        tp = np.cumsum(yk)[last]
        precision = tp / (last + 1)
        recall = tp / pos
        out[k] = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    return out


def mean_average_precision(scores: Tensor | np.ndarray, truth: Tensor | np.ndarray) -> float:
    """Macro mean of :func:`average_precision_per_tag` over tags with positives."""
    ap = average_precision_per_tag(scores, truth)
    return float(np.nanmean(ap)) if np.isfinite(ap).any() else float("nan")


def clip_scores(pred: Tensor, example_id: Tensor, num_tags: int) -> tuple[Tensor, Tensor]:
    """Regroup two-class units ``pred (U, 2)`` (``K`` consecutive units per clip, as
    :func:`~labelnoise.common.units.two_class_units` emits them) into ``(ids (N,),
    logits (N, K))``."""
    order = torch.sort(example_id, stable=True).indices
    ids = example_id[order]
    if ids.numel() % num_tags:
        raise ValueError(
            f"units must come in groups of num_tags={num_tags}; got {ids.numel()} units"
        )
    logits = (pred[order, 1] - pred[order, 0]).reshape(-1, num_tags)
    return ids.reshape(-1, num_tags)[:, 0], logits
