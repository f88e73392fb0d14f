"""MixMatch's pieces (Berthelot et al., NeurIPS 2019) as the two-network noisy-label methods
use them (DivideMix, CrossSplit, SplitNet): temperature sharpening and the mixed loss over
labeled and unlabeled views. The targets (refined labels, guesses) are the caller's."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["Forward", "mixmatch_loss", "sharpen"]

Forward = Callable[[nn.Module, Tensor], Tensor]


def sharpen(p: Tensor, temperature: float) -> Tensor:
    """``p ** (1 / T)`` renormalised per row; ``(B, C)``."""
    p = p ** (1.0 / temperature)
    return p / p.sum(dim=1, keepdim=True)


def mixmatch_loss(
    forward: Forward,
    net: nn.Module,
    xl_views: list[Tensor],
    t_l: Tensor,
    xu_views: list[Tensor],
    t_u: Tensor,
    *,
    num_classes: int,
    lambda_u: float,
    alpha: float = 4.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """MixMatch's mixed loss for ``net`` (scalar): every view of the labeled inputs
    (``(B, ...)`` each, target ``t_l (B, C)``) and of the unlabeled inputs (``(B_u, ...)``,
    ``t_u (B_u, C)``) mixed with a random partner (``lambda = max(l, 1 - l)``, ``l ~
    Beta(alpha, alpha)``; ``alpha = 0``: no mixing); soft CE on the labeled part +
    ``lambda_u`` x mean squared error of the unlabeled probabilities + the uniform-prior
    penalty ``sum_c (1/C) log((1/C) / mean p_c)``."""
    x_all = torch.cat([*xl_views, *xu_views])
    t_all = torch.cat([t_l] * len(xl_views) + [t_u] * len(xu_views))
    lam = float(torch.distributions.Beta(alpha, alpha).sample()) if alpha > 0 else 1.0
    lam = max(lam, 1 - lam)
    perm = torch.randperm(len(x_all), generator=generator).to(x_all.device)
    x_mix = lam * x_all + (1 - lam) * x_all[perm]
    t_mix = lam * t_all + (1 - lam) * t_all[perm]
    logits = forward(net, x_mix)
    n_l = len(t_l) * len(xl_views)
    loss_x = -(F.log_softmax(logits[:n_l], dim=1) * t_mix[:n_l]).sum(1).mean()
    loss_u = logits.new_zeros(())
    if len(t_u):
        loss_u = ((torch.softmax(logits[n_l:], 1) - t_mix[n_l:]) ** 2).mean()
    prior = torch.full((num_classes,), 1.0 / num_classes, device=logits.device)
    mean_p = torch.softmax(logits, dim=1).mean(0)
    penalty = (prior * torch.log(prior / mean_p)).sum()
    return loss_x + lambda_u * loss_u + penalty
