"""``standard``: one network, the configured core loss and selector on every unit.

The step of empirical risk minimisation with a robust loss (GCE, SCE, ELR, ...) and/or a
sample selector (small-loss, AUM, ...), each from the core registries::

    units = adapter.units(model, batch)
    unit_loss = loss_fn(units.pred, units.target, units.loss_id)            # (U,)
    w = selector(unit_loss.detach(), units.example_id, step=step, logits=..., target=...)
    w = w * units.weight                         # when the adapter sets per-unit weights
    loss = (w * unit_loss).sum() / w.sum().clamp_min(1.0)
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from labelnoise.methods.base import Method, Net, StepOutput, weighted_mean

__all__ = ["Standard"]


class Standard(Method):
    """One network trained on the configured loss and selector (module docstring)."""

    name = "standard"

    def step(self, batch: Any) -> StepOutput:
        return self.weighted_step(self.nets[0].model, batch)

    def weighted_step(
        self,
        forward: nn.Module,
        batch: Any,
        *,
        net: Net | None = None,
        example_weight: Tensor | None = None,
    ) -> StepOutput:
        """The standard step with ``forward`` as the module the adapter calls, the loss of
        ``net`` (default network 0) and, when given, a fixed per-example weight
        ``example_weight (N,)`` (indexed by ``example_id``) on top of the selector's."""
        net, run = net or self.nets[0], self.run
        units = run.adapter.units(forward, batch)
        unit_loss = net.loss_fn(units.pred, units.target, units.loss_id)
        self.check_finite(unit_loss)
        w = self.selector(
            unit_loss.detach(),
            units.example_id,
            step=run.state.step,
            logits=units.pred.detach(),
            target=units.target,
        )
        if units.weight is not None:  # the adapter's own per-unit weights
            w = w * units.weight
        if example_weight is not None:
            w = w * example_weight.to(unit_loss.device)[units.example_id]
        return StepOutput(weighted_mean(w, unit_loss), units, unit_loss)
