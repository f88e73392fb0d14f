"""The no-op selector: every unit gets weight 1."""

from __future__ import annotations

import torch
from torch import Tensor

from labelnoise.common.selection._base import Selector

__all__ = ["NoSelection"]


class NoSelection(Selector):
    """Weights all ones (plain training)."""

    def _select(self, unit_loss: Tensor, example_id: Tensor, **_: object) -> Tensor:
        return torch.ones_like(unit_loss)
