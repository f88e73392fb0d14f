"""Active-passive losses: Ma et al., "Normalized loss functions for deep learning with noisy
labels", ICML 2020. Normalised CE (active) plus RCE or MAE (passive)."""

from __future__ import annotations

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
from labelnoise.common.losses.mae import mae_terms
from labelnoise.common.losses.sce import reverse_ce

__all__ = ["nce", "nce_mae", "nce_rce"]


def _nce_terms(lp: Tensor, t: Target) -> Tensor:
    return t.pick(lp) / lp.sum(1)


def nce(
    logits: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """Normalised cross-entropy ``-log p_y / sum_c(-log p_c)`` (soft: ``sum_c t_c log p_c`` on top)."""
    t = prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    return finish(_nce_terms(log_probs(logits), t), t, weight, reduction)


def nce_rce(
    logits: Tensor,
    target: Tensor,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    min_prob: float = 1e-4,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """APL ``alpha * NCE + beta * RCE`` (defaults: the paper's CIFAR-10 setting)."""
    alpha = check_nonnegative("alpha", alpha)
    beta = check_nonnegative("beta", beta)
    min_prob = check_in_range(
        "min_prob", min_prob, 0.0, 1.0, low_inclusive=False, high_inclusive=False
    )
    t = prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    lp = log_probs(logits)
    loss = alpha * _nce_terms(lp, t) + beta * reverse_ce(lp, t, min_prob)
    return finish(loss, t, weight, reduction)


def nce_mae(
    logits: Tensor,
    target: Tensor,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """APL ``alpha * NCE + beta * MAE`` with MAE ``= 1 - p_y`` (see :func:`~.mae.mae`)."""
    alpha = check_nonnegative("alpha", alpha)
    beta = check_nonnegative("beta", beta)
    t = prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    lp = log_probs(logits)
    loss = alpha * _nce_terms(lp, t) + beta * mae_terms(lp, t)
    return finish(loss, t, weight, reduction)
