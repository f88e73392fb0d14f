"""Large-loss rejection of negative labels (LL-R): Kim et al., "Large Loss Matters in Weakly
Supervised Multi-Label Classification", CVPR 2022.

Multi-label data with missing tags holds false negatives: a clip whose tag was not annotated
carries a 0 for it. The model learns the clean labels first and memorizes the false ones later,
so from the second epoch on, the negative-labelled units with the largest losses are rejected
(weight 0), a fraction of the batch's units that grows by ``delta_rel`` per epoch.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from labelnoise.common._checks import check_in_range, check_rate
from labelnoise.common.selection._base import Gather, Selector, gather_all

__all__ = ["LargeLossRejection", "large_loss_rejection_mask"]


def large_loss_rejection_mask(
    unit_loss: Tensor, is_negative: Tensor, rate: float, gather: Gather | None = None
) -> Tensor:
    """0/1 weights rejecting the ``ceil(rate * U)`` largest-loss negative units.

    ``U`` counts all units of the (global, gathered over processes) batch, as in the paper
    (``k = ceil(B * K * rate)`` over a ``(B, K)`` batch); only units with ``is_negative``
    compete, so at most all of them are rejected. Ties at the threshold are rejected too.

    Args:
        unit_loss: ``(U,)`` per-unit losses.
        is_negative: ``(U,)`` bool, units labelled negative (absent tag).
        rate: fraction of all units to reject, in ``[0, 1]``.
        gather: all-gather over processes (``None``: one process).
    """
    keep = torch.ones_like(unit_loss)
    count = torch.tensor([unit_loss.shape[0]], device=unit_loss.device)
    total = int(gather_all(count, gather).sum())
    negative_loss = gather_all(unit_loss[is_negative], gather)
    k = min(math.ceil(rate * total), negative_loss.shape[0])
    if k <= 0:
        return keep
    threshold = torch.topk(negative_loss.cpu(), k).values[-1].to(unit_loss.device)
    keep[is_negative & (unit_loss >= threshold)] = 0.0
    return keep


class LargeLossRejection(Selector):
    """LL-R over two-class units (a tag of a clip, an edge pixel: target 0 = absent).

    Epoch ``e`` (0-based) rejects the ``R(e) = min(e * delta_rel, max_rate)`` fraction of each
    global batch's units, taken among the negative-labelled units with the largest losses
    (epoch 0 rejects nothing). Positive-labelled units always keep weight 1.

    Args:
        delta_rel: growth of the rejection rate per epoch, a fraction (the paper's
            ``Δrel`` is in percent, searched in {0.1, ..., 0.5} %: ``delta_rel=0.002`` is 0.2 %).
        max_rate: cap of the rejection rate (default 1: the paper's unbounded schedule).
        negative_class: the class index of an absent tag in the hard ``target`` (default 0,
            as :func:`~labelnoise.common.units.two_class_units` builds units).
    """

    def __init__(
        self,
        *,
        num_examples: int,
        gather: Gather | None = None,
        delta_rel: float = 0.002,
        max_rate: float = 1.0,
        negative_class: int = 0,
    ) -> None:
        super().__init__(num_examples=num_examples, gather=gather)
        self.delta_rel = check_in_range("delta_rel", delta_rel, 0.0, 1.0)
        self.max_rate = check_rate("max_rate", max_rate, high_inclusive=True)
        if isinstance(negative_class, bool) or not isinstance(negative_class, int):
            raise ValueError(f"negative_class must be an int; got {negative_class!r}")
        self.negative_class = negative_class

    @property
    def rate(self) -> float:
        """The rejection rate of the current epoch."""
        return min(self.epoch * self.delta_rel, self.max_rate)

    def _select(
        self, unit_loss: Tensor, example_id: Tensor, *, target: Tensor | None, **_: Any
    ) -> Tensor:
        if target is None or target.dim() != 1:
            raise ValueError(
                "large_loss needs the hard target (U,) of two-class units; got "
                f"{'None' if target is None else tuple(target.shape)}"
            )
        is_negative = target.to(unit_loss.device) == self.negative_class
        return large_loss_rejection_mask(unit_loss, is_negative, self.rate, self.gather)
