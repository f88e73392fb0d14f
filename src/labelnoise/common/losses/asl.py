"""Asymmetric loss: Ridnik et al., "Asymmetric loss for multi-label classification", ICCV 2021."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from labelnoise.common._checks import check_in_range
from labelnoise.common.losses._base import Reduction, check_nonnegative
from labelnoise.common.losses.binary import finish_binary, prepare_binary

__all__ = ["asl"]


def asl(
    logits: Tensor,
    target: Tensor,
    *,
    gamma_pos: float = 0.0,
    gamma_neg: float = 4.0,
    clip: float = 0.05,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """``-[t (1 - p)^g+ log p + (1 - t) p_m^g- log(1 - p_m)]`` with ``p_m = max(p - clip, 0)``.

    Defaults are the paper's (``gamma_pos = 0, gamma_neg = 4, clip = 0.05``); all zero is BCE.
    Shapes and reduction as the other two-class losses (:mod:`~.binary`).
    """
    gp = check_nonnegative("gamma_pos", gamma_pos)
    gn = check_nonnegative("gamma_neg", gamma_neg)
    clip = check_in_range("clip", clip, 0.0, 1.0, high_inclusive=False)
    x, bt = prepare_binary(
        logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction
    )
    p = torch.sigmoid(x)
    log_p = F.logsigmoid(x)
    if clip > 0:
        one_minus_pm = (1.0 - p + clip).clamp(max=1.0)
        log_neg = one_minus_pm.log()
        pm = 1.0 - one_minus_pm
    else:
        log_neg, pm = F.logsigmoid(-x), p
    pos = (1.0 - p) ** gp * log_p if gp else log_p
    neg = pm**gn * log_neg if gn else log_neg
    loss = -(bt.t * pos + (1.0 - bt.t) * neg)
    return finish_binary(loss, bt, reduction)
