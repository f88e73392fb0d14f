"""Label-distributionally robust loss with adaptive temperature: Zhu, Ying & Yang, "Label
distributionally robust losses for multi-class classification: consistency, robustness and
adaptivity", ICML 2023 (LDR-KL and ALDR-KL).

``LDR-KL = lam * log( mean_k exp((margin * [k != y] + z_k - z_y) / lam) )`` on logits
normalised to mean absolute value 1. ALDR-KL gives each unit its own temperature
``lam_i = lam * (1 - KL(softmax(z / lam), uniform) / (alpha log C))`` (detached), so confident
units get a smaller temperature.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from labelnoise.common.losses._base import (
    Reduction,
    as_compute_dtype,
    check_nonnegative,
    check_positive,
    finish,
    prepare,
)

__all__ = ["ldr"]


def ldr(
    logits: Tensor,
    target: Tensor,
    *,
    lam: float = 1.0,
    margin: float = 1.0,
    alpha: float | None = 2.0,
    normalize: bool = True,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """LDR-KL (``alpha=None``) or ALDR-KL (``alpha > 0``, adaptive temperature).

    Args:
        lam: base temperature ``> 0`` (default 1).
        margin: margin ``>= 0`` on the non-target classes (default 1).
        alpha: adaptivity strength ``> 0`` of ALDR-KL (default 2); ``None`` for fixed ``lam``.
        normalize: divide logits by their mean absolute value over dim 1 (as the authors' code).

    With ``margin = 0``, ``lam = 1``, ``alpha = None``, ``normalize = False`` the loss is
    cross-entropy minus ``log C``. Soft targets use ``z_y := sum_c t_c z_c`` and margin
    ``margin * (1 - t_k)``.
    """
    lam = check_positive("lam", lam)
    margin = check_nonnegative("margin", margin)
    if alpha is not None:
        alpha = check_positive("alpha", alpha)
    t = prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    z = as_compute_dtype(logits)
    c = z.shape[1]
    if normalize:
        z = z / (z.abs().mean(1, keepdim=True) + 1e-6)
    diff = z - t.pick(z).unsqueeze(1)
    if margin:
        diff = diff + margin * (1.0 - t.probs(z))
    if alpha is None:
        temp = torch.full_like(diff[:, 0], lam)
    else:
        with torch.no_grad():
            lp = torch.log_softmax(z / lam, dim=1)
            kl = (lp.exp() * (lp + math.log(c))).sum(1)
            temp = (lam * (1.0 - kl / (alpha * math.log(c)))).clamp_min(1e-2 * lam)
    temp = temp.unsqueeze(1)
    loss = (temp * (torch.logsumexp(diff / temp, dim=1, keepdim=True) - math.log(c))).squeeze(1)
    return finish(loss, t, weight, reduction)
