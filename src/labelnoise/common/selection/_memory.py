"""Per-example running sums shared over processes, and the selector base built on them."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from labelnoise.common._checks import check_rate
from labelnoise.common.selection._base import Gather, Selector, check_int, gather_all, per_example


class ExampleMemory:
    """Sum and count of a per-example value over the steps of an epoch (or of all epochs).

    ``add`` gathers ``(id, value)`` pairs from every process, so every process holds the same
    memory.
    """

    def __init__(self, num_examples: int) -> None:
        self.total = torch.zeros(num_examples, dtype=torch.float64)
        self.count = torch.zeros(num_examples, dtype=torch.float64)

    def add(self, values: Tensor, example_id: Tensor, gather: Gather | None) -> None:
        ids, means, _ = per_example(values, example_id)
        ids = gather_all(ids, gather).cpu()
        means = gather_all(means.to(torch.float64), gather).cpu()
        self.total.index_add_(0, ids, means)
        self.count.index_add_(0, ids, torch.ones_like(means))

    def mean(self) -> tuple[np.ndarray, np.ndarray]:
        """``(seen_ids, mean_values)`` of the examples with at least one value."""
        seen = (self.count > 0).nonzero().squeeze(1)
        return seen.numpy(), (self.total[seen] / self.count[seen]).numpy()

    def reset(self) -> None:
        self.total.zero_()
        self.count.zero_()

    def state_dict(self) -> dict[str, Tensor]:
        return {"total": self.total.clone(), "count": self.count.clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.total.copy_(state["total"])
        self.count.copy_(state["count"])


class LossMixtureSelector(Selector):
    """Record per-example mean losses during an epoch; at its end fit a two-component mixture
    and use the clean-component posterior for the next epoch.

    Args:
        p_threshold: keep examples whose clean posterior exceeds it (default 0.5).
        soft: use the posterior itself as the weight instead of the 0/1 threshold.
        warmup_epochs: epochs of plain training (all weights 1) before the first fit.
    """

    def __init__(
        self,
        *,
        num_examples: int,
        gather: Gather | None = None,
        p_threshold: float = 0.5,
        soft: bool = False,
        warmup_epochs: int = 1,
    ) -> None:
        super().__init__(num_examples=num_examples, gather=gather)
        self.p_threshold = check_rate("p_threshold", p_threshold)
        if not isinstance(soft, bool):
            raise ValueError(f"soft must be a bool; got {soft!r}")
        self.soft = soft
        self.warmup_epochs = check_int("warmup_epochs", warmup_epochs, 1)
        self.memory = ExampleMemory(self.num_examples)
        self.clean_prob = torch.ones(self.num_examples)

    def _fit(self, losses: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _select(self, unit_loss: Tensor, example_id: Tensor, **_: Any) -> Tensor:
        self.memory.add(unit_loss, example_id, self.gather)
        prob = self.clean_prob.to(unit_loss.device)[example_id]
        return prob if self.soft else (prob > self.p_threshold).to(unit_loss.dtype)

    def on_epoch_end(self, epoch: int) -> None:
        super().on_epoch_end(epoch)
        if self.epoch >= self.warmup_epochs:
            seen, losses = self.memory.mean()
            if seen.shape[0] >= 2:
                norm = (losses - losses.min()) / max(float(np.ptp(losses)), 1e-12)
                self.clean_prob[torch.from_numpy(seen)] = torch.from_numpy(self._fit(norm)).float()
        self.memory.reset()

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "memory": self.memory.state_dict(),
            "clean_prob": self.clean_prob.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.memory.load_state_dict(state["memory"])
        self.clean_prob.copy_(state["clean_prob"])
