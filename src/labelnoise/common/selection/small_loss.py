"""Small-loss selection with a forget-rate schedule: Han et al., "Co-teaching: robust training
of deep neural networks with extremely noisy labels", NeurIPS 2018."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from labelnoise.common._checks import check_in_range, check_rate
from labelnoise.common.selection._base import (
    Gather,
    Level,
    Selector,
    check_int,
    gather_all,
    per_example,
)

__all__ = ["SmallLossSelector", "forget_rate_at", "small_loss_mask"]


def forget_rate_at(epoch: int, *, forget_rate: float, num_gradual: int, exponent: float) -> float:
    """``forget_rate * min(epoch / num_gradual, 1) ** exponent`` (Co-teaching's schedule)."""
    if num_gradual == 0:
        return forget_rate
    return forget_rate * min(epoch / num_gradual, 1.0) ** exponent


def small_loss_mask(
    values: Tensor,
    rate: float,
    gather: Gather | None,
    *,
    level: Level = "unit",
    example_id: Tensor | None = None,
) -> Tensor:
    """0/1 weights keeping the ``1 - rate`` fraction of smallest ``values`` over all processes.

    The kept count is ``round((1 - rate) * n)`` of the gathered ``n`` values (units, or
    examples with ``level="example"`` using mean loss per example); ties at the threshold keep.
    """
    if level == "example":
        if example_id is None:
            raise ValueError("example_id must be given with level='example'; got None")
        _, means, inverse = per_example(values, example_id)
        return small_loss_mask(means, rate, gather)[inverse]
    everything = gather_all(values, gather)
    n = everything.shape[0]
    keep = int(round((1.0 - rate) * n))
    if keep >= n:
        return torch.ones_like(values)
    if keep <= 0:
        return torch.zeros_like(values)
    threshold = torch.kthvalue(everything.cpu(), keep).values.to(values.device)
    return (values <= threshold).to(values.dtype)


class SmallLossSelector(Selector):
    """Keep the ``1 - R(e)`` fraction of smallest losses of each (global) batch.

    ``R(e) = forget_rate * min(e / num_gradual, 1) ** exponent`` at epoch ``e``.

    Args:
        forget_rate: final fraction dropped, in ``[0, 1)`` (Co-teaching: the noise rate).
        num_gradual: epochs of the linear ramp (default 10, ``T_k`` of the paper).
        exponent: ramp exponent ``c`` (default 1).
        level: rank ``unit`` losses, or ``example`` mean losses (all units of an example share
            its weight).
    """

    def __init__(
        self,
        *,
        num_examples: int,
        gather: Gather | None = None,
        forget_rate: float = 0.2,
        num_gradual: int = 10,
        exponent: float = 1.0,
        level: Level = "unit",
    ) -> None:
        super().__init__(num_examples=num_examples, gather=gather)
        self.forget_rate = check_rate("forget_rate", forget_rate)
        self.num_gradual = check_int("num_gradual", num_gradual, 0)
        self.exponent = check_in_range("exponent", exponent, 0.0, float("inf"), low_inclusive=False)
        if level not in ("unit", "example"):
            raise ValueError(f"level must be 'unit' or 'example'; got {level!r}")
        self.level = level

    @property
    def rate(self) -> float:
        """The forget rate of the current epoch."""
        return forget_rate_at(
            self.epoch,
            forget_rate=self.forget_rate,
            num_gradual=self.num_gradual,
            exponent=self.exponent,
        )

    def _select(self, unit_loss: Tensor, example_id: Tensor, **_: Any) -> Tensor:
        return small_loss_mask(
            unit_loss, self.rate, self.gather, level=self.level, example_id=example_id
        )
