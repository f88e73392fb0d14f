"""``standard``: one network, the configured core loss and selector on every unit.

The step of empirical risk minimisation with a robust loss (GCE, SCE, ELR, ...) and/or a
sample selector (small-loss, AUM, ...), each from the core registries::

    units = adapter.units(model, batch)
    unit_loss = loss_fn(units.pred, units.target, units.loss_id)            # (U,)
    w = selector(unit_loss.detach(), units.example_id, step=step, logits=..., target=...)
    w = w * units.weight                         # when the adapter sets per-unit weights
    loss = (w * unit_loss).sum() / w.sum().clamp_min(1.0)

Without a selector (``selector: none``), per-unit weights or an example weight, ``w`` is all
ones and the step is ``unit_loss.sum() / max(U, 1)``: the same float32 numbers (loss and
gradients) without the selector call and the weight tensor's ops; the finite-loss check
then reads that scalar (finite iff every unit loss is, the weights being ones) and only
falls back to the per-unit check when it is not (or on an accelerator / several processes).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from labelnoise.common.selection.uniform import NoSelection
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
        if (
            example_weight is None
            and units.weight is None
            and type(self.selector) is NoSelection
            and unit_loss.dtype == torch.float32
        ):
            return self._unweighted(units, unit_loss)
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

    def _unweighted(self, units: Any, unit_loss: Tensor) -> StepOutput:
        """:func:`weighted_mean` with ``w = 1`` (float32 ``unit_loss``): ``sum / max(U, 1)``,
        the same float32 sum and division (and gradient ``1 / U`` per unit) without the
        weight tensor; then the finite-loss check (module docstring)."""
        loss = unit_loss.sum() / float(max(unit_loss.shape[0], 1))
        if not (self._immediate_check(loss) and math.isfinite(loss.item())):
            self.check_finite(unit_loss)  # raises, defers (accelerator) or agrees (processes)
        return StepOutput(loss, units, unit_loss)

    def _immediate_check(self, loss: Tensor) -> bool:
        """Whether the finite check may read ``loss`` at once: a CPU tensor, one process
        (:func:`~labelnoise.engine.run.stop_if_not_finite` would read it there too)."""
        single = self.__dict__.get("_single_process")
        if single is None:
            single = self.__dict__["_single_process"] = self.run.accelerator.num_processes == 1
        return bool(single) and loss.device.type == "cpu"
