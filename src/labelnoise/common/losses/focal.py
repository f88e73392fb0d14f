"""Focal loss: Lin et al., "Focal loss for dense object detection", ICCV 2017."""

from __future__ import annotations

from torch import Tensor

from labelnoise.common.losses._base import Reduction, check_nonnegative, finish, log_probs, prepare

__all__ = ["focal"]


def focal(
    logits: Tensor,
    target: Tensor,
    *,
    gamma: float = 2.0,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """``-(1 - p_y)^gamma log p_y`` (soft: ``sum_c t_c ...``); class weights play the role of
    the paper's ``alpha``. ``gamma = 0`` is cross-entropy."""
    gamma = check_nonnegative("gamma", gamma)
    t = prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    lp = log_probs(logits)
    if t.hard is not None:
        lpy = t.pick(lp)
        loss = -((1.0 - lpy.exp()).clamp_min(0.0) ** gamma) * lpy
    else:
        loss = -t.pick((1.0 - lp.exp()).clamp_min(0.0) ** gamma * lp)
    return finish(loss, t, weight, reduction)
