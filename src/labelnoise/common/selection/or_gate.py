"""OR-gate top-k selection from robust speaker verification with noisy labels (2023): keep an
example whose given label was among the model's top-``k`` classes at any of the last ``m``
epochs."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from labelnoise.common.selection._base import Gather, Selector, check_int, require_hard_logits
from labelnoise.common.selection._memory import ExampleMemory

__all__ = ["ORGateTopKSelector"]


class ORGateTopKSelector(Selector):
    """Weights 1 for examples whose label was in the top-``k`` at any of the last ``m`` epochs.

    An example is a hit in an epoch when at least half of its units' labels were in the top-k
    (averaged over the steps it was seen); an example not seen in an epoch counts as a hit.
    The first ``warmup_epochs`` epochs (at least 1) use weight 1. Needs ``logits`` and a hard
    ``target`` at every call.
    """

    def __init__(
        self,
        *,
        num_examples: int,
        gather: Gather | None = None,
        k: int = 5,
        m: int = 3,
        warmup_epochs: int = 1,
    ) -> None:
        super().__init__(num_examples=num_examples, gather=gather)
        self.k = check_int("k", k, 1)
        self.m = check_int("m", m, 1)
        self.warmup_epochs = check_int("warmup_epochs", warmup_epochs, 1)
        self.memory = ExampleMemory(self.num_examples)
        self.history = torch.ones(self.m, self.num_examples, dtype=torch.bool)
        self.filled = 0
        self.keep = torch.ones(self.num_examples)

    def _select(
        self,
        unit_loss: Tensor,
        example_id: Tensor,
        *,
        logits: Tensor | None,
        target: Tensor | None,
        **_: Any,
    ) -> Tensor:
        logits, target = require_hard_logits("or_gate_topk", logits, target)
        k = min(self.k, logits.shape[1])
        top = logits.detach().topk(k, dim=1).indices
        hit = (top == target.long().unsqueeze(1)).any(1).float()
        self.memory.add(hit, example_id, self.gather)
        return self.keep.to(unit_loss.device)[example_id]

    def on_epoch_end(self, epoch: int) -> None:
        super().on_epoch_end(epoch)
        count = self.memory.count
        hit = (count == 0) | (self.memory.total / count.clamp_min(1) >= 0.5)
        self.history = torch.roll(self.history, 1, dims=0)
        self.history[0] = hit
        self.filled = min(self.filled + 1, self.m)
        self.memory.reset()
        if self.epoch >= self.warmup_epochs:
            self.keep = self.history[: self.filled].any(0).float()

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "memory": self.memory.state_dict(),
            "history": self.history.clone(),
            "filled": self.filled,
            "keep": self.keep.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.memory.load_state_dict(state["memory"])
        self.history = state["history"].clone()
        self.filled = int(state["filled"])
        self.keep = state["keep"].clone()
