"""LogitNorm: Wei et al., "Mitigating neural network overconfidence with logit normalization",
ICML 2022. Cross-entropy on ``z / (tau * ||z||_2)``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from labelnoise.common.losses._base import Reduction, as_compute_dtype, check_positive, prepare

__all__ = ["logitnorm"]


def logitnorm(
    logits: Tensor,
    target: Tensor,
    *,
    tau: float = 0.04,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """Cross-entropy of L2-normalised logits ``z / (tau * (||z||_2 + 1e-7))`` over dim 1.

    ``tau > 0`` is the temperature (default 0.04, the paper's CIFAR-10 value). There is no
    noise-free setting that recovers cross-entropy.
    """
    tau = check_positive("tau", tau)
    prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    z = as_compute_dtype(logits)
    z = z / (tau * (torch.linalg.vector_norm(z, dim=1, keepdim=True) + 1e-7))
    target = target if target.is_floating_point() else target.long()
    return F.cross_entropy(z, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
