"""Bootstrapping: Reed et al., "Training deep neural networks on noisy labels with
bootstrapping", ICLR workshop 2015."""

from __future__ import annotations

from torch import Tensor

from labelnoise.common._checks import check_in_range
from labelnoise.common.losses._base import Reduction, finish, log_probs, prepare

__all__ = ["bootstrap_hard", "bootstrap_soft"]


def bootstrap_soft(
    logits: Tensor,
    target: Tensor,
    *,
    beta: float = 0.95,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """Soft bootstrapping ``-sum_c (beta t_c + (1 - beta) p_c) log p_c`` (Reed et al., 2015).

    As in the paper the prediction term is not detached (it acts as entropy minimisation).
    ``beta`` in ``[0, 1]``; ``beta = 1`` is cross-entropy.
    """
    beta = check_in_range("beta", beta, 0.0, 1.0)
    t = prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    lp = log_probs(logits)
    loss = -beta * t.pick(lp) - (1.0 - beta) * (lp.exp() * lp).sum(1)
    return finish(loss, t, weight, reduction)


def bootstrap_hard(
    logits: Tensor,
    target: Tensor,
    *,
    beta: float = 0.8,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """Hard bootstrapping ``-(beta log p_y + (1 - beta) log p_z)``, ``z = argmax_c p_c``
    (Reed et al., 2015). ``beta`` in ``[0, 1]``; ``beta = 1`` is cross-entropy."""
    beta = check_in_range("beta", beta, 0.0, 1.0)
    t = prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    lp = log_probs(logits)
    loss = -beta * t.pick(lp) - (1.0 - beta) * lp.amax(1)
    return finish(loss, t, weight, reduction)
