"""Generalized cross-entropy and truncated Lq: Zhang & Sabuncu, "Generalized cross entropy loss
for training deep neural networks with noisy labels", NeurIPS 2018."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from labelnoise.common._checks import check_in_range
from labelnoise.common.losses._base import Reduction, finish, log_probs, prepare

__all__ = ["gce", "tlq"]


def gce(
    logits: Tensor,
    target: Tensor,
    *,
    q: float = 0.7,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """``L_q = (1 - p_y^q) / q`` with ``q`` in ``(0, 1]`` (soft: ``sum_c t_c (1 - p_c^q) / q``).

    ``q -> 0`` recovers cross-entropy, ``q = 1`` is MAE ``1 - p_y``. ``p^q`` is computed as
    ``exp(q log p)`` so confident wrong predictions keep finite gradients.
    """
    q = check_in_range("q", q, 0.0, 1.0, low_inclusive=False)
    t = prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    loss = t.pick_map(log_probs(logits), lambda lp: -torch.expm1(q * lp)) / q
    return finish(loss, t, weight, reduction)


def tlq(
    logits: Tensor,
    target: Tensor,
    *,
    q: float = 0.7,
    k: float | None = None,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """Truncated ``L_q``: ``L_q(max(p_y, k))`` -- constant (no gradient) once ``p_y <= k``.

    ``q`` in ``(0, 1]``, ``k`` in ``[0, 1)``; ``k = 0`` is :func:`gce`. The default
    ``k = None`` means ``0.5 / C``: a unit must start below half the uniform probability to be
    truncated, so training can begin (the paper's ``k = 0.5`` was applied only after 40 epochs
    of plain GCE through its pruning schedule; with ``p_y ~ 1/C`` at initialisation a large
    ``k`` truncates every unit and nothing learns).
    """
    q = check_in_range("q", q, 0.0, 1.0, low_inclusive=False)
    t = prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    k = (
        0.5 / logits.shape[1]
        if k is None
        else check_in_range("k", k, 0.0, 1.0, high_inclusive=False)
    )
    floor = math.log(k) if k > 0 else -math.inf
    loss = t.pick_map(log_probs(logits), lambda lp: -torch.expm1(q * lp.clamp_min(floor))) / q
    return finish(loss, t, weight, reduction)
