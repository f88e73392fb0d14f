"""Symmetric cross-entropy: Wang et al., "Symmetric cross entropy for robust learning with noisy
labels", ICCV 2019. ``alpha * CE + beta * RCE`` with the reverse cross-entropy
``RCE = -sum_c p_c log t_c`` and ``log 0`` clamped to ``log(min_prob)``."""

from __future__ import annotations

import math

from torch import Tensor

from labelnoise.common._checks import check_in_range
from labelnoise.common.losses._base import (
    Reduction,
    Target,
    check_nonnegative,
    finish,
    log_probs,
    prepare,
)

__all__ = ["rce", "sce"]


def reverse_ce(lp: Tensor, t: Target, min_prob: float) -> Tensor:
    """Per-unit ``-sum_c p_c log(clamp(t_c, min_prob, 1))`` from log-probabilities
    ``lp (N, C, *)`` -> ``(N, *)``."""
    if t.hard is not None:
        return -math.log(min_prob) * (1.0 - t.pick(lp).exp())
    return -(lp.exp() * t.probs(lp).clamp(min_prob, 1.0).log()).sum(1)


def rce(
    logits: Tensor,
    target: Tensor,
    *,
    min_prob: float = 1e-4,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """Reverse cross-entropy ``-sum_c p_c log clamp(t_c, min_prob, 1)`` (Wang et al., 2019);
    for a hard target ``-log(min_prob) * (1 - p_y)``."""
    min_prob = check_in_range(
        "min_prob", min_prob, 0.0, 1.0, low_inclusive=False, high_inclusive=False
    )
    t = prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    return finish(reverse_ce(log_probs(logits), t, min_prob), t, weight, reduction)


def sce(
    logits: Tensor,
    target: Tensor,
    *,
    alpha: float = 0.1,
    beta: float = 1.0,
    min_prob: float = 1e-4,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """``alpha * CE + beta * RCE`` (defaults: the paper's CIFAR-10 ``alpha = 0.1, beta = 1``;
    ``min_prob = 1e-4`` as the authors' code). ``alpha = 1, beta = 0`` is cross-entropy."""
    alpha = check_nonnegative("alpha", alpha)
    beta = check_nonnegative("beta", beta)
    min_prob = check_in_range(
        "min_prob", min_prob, 0.0, 1.0, low_inclusive=False, high_inclusive=False
    )
    t = prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    lp = log_probs(logits)
    loss = -alpha * t.pick(lp) + beta * reverse_ce(lp, t, min_prob)
    return finish(loss, t, weight, reduction)
