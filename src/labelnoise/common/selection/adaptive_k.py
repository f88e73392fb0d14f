"""Adaptive-k: Dedeoglu, Kesgin & Amasyali, "A robust optimization method for label noisy
datasets based on adaptive threshold: Adaptive-k", Front. Comput. Sci. 2024 (arXiv 2203.14165).

Instead of a fixed number of small-loss samples, each step keeps the samples whose loss is
at most a threshold computed during optimisation: here the mean loss of the (global) batch,
optionally smoothed over steps with an exponential moving average.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from labelnoise.common._checks import check_rate
from labelnoise.common.selection._base import (
    Gather,
    Level,
    Selector,
    check_int,
    gather_all,
    per_example,
)

__all__ = ["AdaptiveKSelector"]


class AdaptiveKSelector(Selector):
    """Keep units (or examples, ``level="example"``) with loss ``<=`` the adaptive threshold.

    Args:
        momentum: EMA factor of the threshold across steps in ``[0, 1)`` (0: the batch mean).
        warmup_epochs: epochs with all weights 1 (default 0).
        level: ``unit`` or ``example`` (mean loss per example).
    """

    def __init__(
        self,
        *,
        num_examples: int,
        gather: Gather | None = None,
        momentum: float = 0.0,
        warmup_epochs: int = 0,
        level: Level = "unit",
    ) -> None:
        super().__init__(num_examples=num_examples, gather=gather)
        self.momentum = check_rate("momentum", momentum)
        self.warmup_epochs = check_int("warmup_epochs", warmup_epochs, 0)
        if level not in ("unit", "example"):
            raise ValueError(f"level must be 'unit' or 'example'; got {level!r}")
        self.level = level
        self.threshold: float | None = None

    def _select(self, unit_loss: Tensor, example_id: Tensor, **_: Any) -> Tensor:
        if self.level == "example":
            _ids, values, inverse = per_example(unit_loss, example_id)
        else:
            values, inverse = unit_loss, None
        everything = gather_all(values, self.gather)
        if everything.numel():
            batch_mean = float(everything.double().mean())
            if self.threshold is None or self.momentum == 0:
                self.threshold = batch_mean
            else:
                self.threshold = self.momentum * self.threshold + (1 - self.momentum) * batch_mean
        if self.epoch < self.warmup_epochs or self.threshold is None:
            return torch.ones_like(unit_loss)
        keep = (values <= self.threshold).to(unit_loss.dtype)
        return keep if inverse is None else keep[inverse]

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "threshold": self.threshold}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.threshold = state["threshold"]
