"""Mean absolute error on the simplex: Ghosh et al., "Robust loss functions under label noise
for deep neural networks", AAAI 2017."""

from __future__ import annotations

from torch import Tensor

from labelnoise.common.losses._base import Reduction, Target, finish, log_probs, prepare

__all__ = ["mae"]


def mae_terms(lp: Tensor, t: Target) -> Tensor:
    """Per-unit ``||p - t||_1 / 2`` (``1 - p_y`` for a hard target) from ``lp (N, C, *)``."""
    if t.hard is not None:
        return 1.0 - t.pick(lp).exp()
    return 0.5 * (lp.exp() - t.probs(lp)).abs().sum(1)


def mae(
    logits: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """``||softmax(z) - t||_1 / 2``, i.e. ``1 - p_y`` for hard targets (half of Ghosh et al.'s
    MAE, the scale of Ma et al.'s APL code and of GCE at ``q = 1``)."""
    t = prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    return finish(mae_terms(log_probs(logits), t), t, weight, reduction)
