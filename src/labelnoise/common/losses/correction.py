"""Loss correction with a known transition matrix: Patrini et al., "Making deep neural networks
robust to label noise: a loss correction approach", CVPR 2017.

``T[i, j] = P(noisy = j | clean = i)`` (:class:`~labelnoise.common.transition.TransitionMatrix`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from labelnoise.common.losses._base import Reduction, finish, log_probs, prepare
from labelnoise.common.transition import TransitionMatrix

__all__ = ["backward_correction", "forward_correction", "as_transition"]

TransitionLike = TransitionMatrix | Tensor | np.ndarray | list


def as_transition(transition: TransitionLike, num_classes: int) -> Tensor:
    """Validate ``transition`` as a row-stochastic ``(C, C)`` matrix; return it as float64."""
    if transition is None:
        raise ValueError("transition must be a (C, C) TransitionMatrix or nested list; got None")
    m = transition if isinstance(transition, TransitionMatrix) else TransitionMatrix(transition)
    if m.shape != (num_classes, num_classes):
        raise ValueError(
            f"transition must have shape ({num_classes}, {num_classes}) for {num_classes} classes; "
            f"got {m.shape}"
        )
    return m.matrix


def forward_correction(
    logits: Tensor,
    target: Tensor,
    *,
    transition: TransitionLike,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """Forward correction ``-log (softmax(z) @ T)_y`` (Patrini et al., 2017).

    ``transition`` is ``(C, C)``; ``T = I`` is cross-entropy.
    """
    t_mat = as_transition(transition, logits.shape[1] if logits.dim() >= 2 else 0)
    t = prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    p = log_probs(logits).exp()
    with torch.autocast(p.device.type, enabled=False):
        noisy = torch.einsum("nc...,cd->nd...", p, t_mat.to(dtype=p.dtype, device=p.device))
    loss = -t.pick(noisy.clamp_min(1e-12).log())
    return finish(loss, t, weight, reduction)


def backward_correction(
    logits: Tensor,
    target: Tensor,
    *,
    transition: TransitionLike,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """Backward correction ``(T^{-1} l)_y`` with ``l_c = -log p_c`` (Patrini et al., 2017).

    Unbiased but unbounded below for noisy ``T``; ``T = I`` is cross-entropy. Raises if ``T``
    is singular.
    """
    t_mat = as_transition(transition, logits.shape[1] if logits.dim() >= 2 else 0)
    t = prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    lp = log_probs(logits)
    inv = TransitionMatrix(t_mat).inverse().to(dtype=lp.dtype, device=lp.device)
    with torch.autocast(lp.device.type, enabled=False):
        corrected = torch.einsum("nc...,jc->nj...", -lp, inv)
    return finish(t.pick(corrected), t, weight, reduction)
