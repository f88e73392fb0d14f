"""MaxSup: Zhou et al., "MaxSup: Overcoming representation collapse in label smoothing",
2025. Label smoothing penalises ``z_y - mean(z)``; MaxSup penalises ``z_max - mean(z)``."""

from __future__ import annotations

from torch import Tensor

from labelnoise.common.losses._base import (
    Reduction,
    as_compute_dtype,
    check_nonnegative,
    finish,
    log_probs,
    prepare,
)

__all__ = ["maxsup"]


def maxsup(
    logits: Tensor,
    target: Tensor,
    *,
    alpha: float = 0.1,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """``CE(z, t) + alpha * (max_c z_c - mean_c z_c)`` per unit; ``alpha = 0`` is cross-entropy."""
    alpha = check_nonnegative("alpha", alpha)
    t = prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    z = as_compute_dtype(logits)
    loss = -t.pick(log_probs(z)) + alpha * (z.amax(1) - z.mean(1))
    return finish(loss, t, weight, reduction)
