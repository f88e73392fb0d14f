"""Area under the margin with threshold samples: Pleiss et al., "Identifying mislabeled data
using the area under the margin ranking", NeurIPS 2020."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from labelnoise.common._checks import check_in_range, check_rate
from labelnoise.common._random import Seed, make_generator
from labelnoise.common.selection._base import Gather, Selector, check_int, require_hard_logits
from labelnoise.common.selection._memory import ExampleMemory

__all__ = ["AUMSelector", "margins"]


def margins(logits: Tensor, target: Tensor) -> Tensor:
    """Margin ``z_y - max_{k != y} z_k`` per unit: ``logits (U, C)``, ``target (U,)`` -> ``(U,)``."""
    z = logits.detach().float()
    y = target.long().unsqueeze(1)
    assigned = z.gather(1, y).squeeze(1)
    other = z.scatter(1, y, float("-inf")).amax(1)
    return assigned - other


class AUMSelector(Selector):
    """Drop examples whose AUM (margin averaged over every step seen so far) falls below the
    ``percentile``-th percentile of the AUMs of the *threshold samples*.

    Threshold samples are a random ``threshold_fraction`` of the examples (Pleiss et al. use
    ``1 / (C + 1)``) relabelled to an extra class ``num_classes``: train a ``C + 1``-way model
    and pass targets through :meth:`assign_threshold_labels`. With ``threshold_fraction = 0``
    the fixed ``margin_threshold`` is used instead. Threshold samples get weight 0 once the
    selection starts (after ``start_epoch`` epochs; before, all weights are 1).
    Needs ``logits`` and ``target`` at every call.
    """

    def __init__(
        self,
        *,
        num_examples: int,
        gather: Gather | None = None,
        num_classes: int = 0,
        threshold_fraction: float = 0.0,
        percentile: float = 99.0,
        margin_threshold: float = 0.0,
        start_epoch: int = 2,
        seed: Seed = 0,
    ) -> None:
        super().__init__(num_examples=num_examples, gather=gather)
        self.threshold_fraction = check_rate("threshold_fraction", threshold_fraction)
        if self.threshold_fraction > 0:
            check_int("num_classes", num_classes, 2)
        self.num_classes = num_classes
        self.percentile = check_in_range("percentile", percentile, 0.0, 100.0)
        self.margin_threshold = float(margin_threshold)
        self.start_epoch = check_int("start_epoch", start_epoch, 1)
        k = int(round(self.threshold_fraction * self.num_examples))
        perm = torch.randperm(self.num_examples, generator=make_generator(seed))
        self.is_threshold = torch.zeros(self.num_examples, dtype=torch.bool)
        self.is_threshold[perm[:k]] = True
        self.memory = ExampleMemory(self.num_examples)
        self.keep = torch.ones(self.num_examples)

    def assign_threshold_labels(self, target: Tensor, example_id: Tensor) -> Tensor:
        """``target (U,)`` with the units of threshold samples set to class ``num_classes``."""
        flag = self.is_threshold.to(target.device)[example_id.long()]
        return torch.where(flag, torch.full_like(target, self.num_classes), target)

    def _select(
        self,
        unit_loss: Tensor,
        example_id: Tensor,
        *,
        logits: Tensor | None,
        target: Tensor | None,
        **_: Any,
    ) -> Tensor:
        logits, target = require_hard_logits("aum", logits, target)
        self.memory.add(margins(logits, target), example_id, self.gather)
        return self.keep.to(unit_loss.device)[example_id]

    def aum(self) -> Tensor:
        """Current AUM per example (NaN where never seen)."""
        return torch.where(
            self.memory.count > 0, self.memory.total / self.memory.count.clamp_min(1), float("nan")
        )

    def on_epoch_end(self, epoch: int) -> None:
        super().on_epoch_end(epoch)
        if self.epoch < self.start_epoch:
            return
        aum = self.aum()
        seen = ~torch.isnan(aum)
        ref = aum[seen & self.is_threshold]
        if ref.numel():
            threshold = float(np.percentile(ref.numpy(), self.percentile))
        else:
            threshold = self.margin_threshold
        keep = ~seen | (aum > threshold)
        self.keep = (keep & ~self.is_threshold).float()

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "memory": self.memory.state_dict(),
            "keep": self.keep.clone(),
            "is_threshold": self.is_threshold.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.memory.load_state_dict(state["memory"])
        self.keep = state["keep"].clone()
        self.is_threshold = state["is_threshold"].clone()
