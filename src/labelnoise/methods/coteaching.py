"""``coteaching``: two networks exchange their small-loss units.

Co-teaching (Han et al., NeurIPS 2018) and JoCoR (Wei et al., CVPR 2020; the selector's
``variant: jocor``). Both networks see the same batch; the two-network selector
(``selector: {name: coteaching, ...}``) picks, from each network's per-unit losses, the units
the *other* network trains on::

    units_a, units_b = adapter.units(model_a, batch), adapter.units(model_b, batch)
    loss_a, loss_b = loss_a_fn(units_a...), loss_b_fn(units_b...)          # (U,) each
    w_a, w_b = selector.select(loss_a.detach(), loss_b.detach(), example_id, step=step)
    loss = mean_w(w_a, loss_a) + mean_w(w_b, loss_b)        # JoCoR: 2 x one joint loss

Network A is evaluated, selected and saved; each network keeps its own loss state (ELR's
memory, ...). The reported training loss is the sum of both networks' losses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from labelnoise.common.selection.coteaching import CoTeaching as CoTeachingSelector
from labelnoise.common.selection.coteaching import jocor_loss
from labelnoise.methods.base import (
    Method,
    Net,
    Selector,
    StepOutput,
    TwoNetworkSelector,
    weighted_mean,
)

if TYPE_CHECKING:
    from labelnoise.config import RunConfig

__all__ = ["CoTeaching"]


class CoTeaching(Method):
    """Two networks, each trained on the units its peer selects (module docstring)."""

    name = "coteaching"
    num_networks = 2

    @classmethod
    def check_config(cls, cfg: RunConfig) -> None:
        from labelnoise.common.selection import SELECTORS

        builder = SELECTORS.get(cfg.selector.name)
        if not hasattr(builder, "select"):
            two = sorted(k for k, v in SELECTORS.items() if hasattr(v, "select"))
            raise ValueError(
                f"selector.name must be a two-network selector ({', '.join(two)}) for "
                f"method 'coteaching'; got {cfg.selector.name!r}"
            )

    def setup(self, nets: Sequence[Net], selector: Selector) -> None:
        if not isinstance(selector, TwoNetworkSelector):  # check_config guarantees one
            raise TypeError(f"coteaching needs a two-network selector; got {selector!r}")
        super().setup(nets, selector)
        self.pair: TwoNetworkSelector = selector

    def step(self, batch: Any) -> StepOutput:
        (net_a, net_b), run = self.nets, self.run
        ua = run.adapter.units(net_a.model, batch)
        ub = run.adapter.units(net_b.model, batch)
        la = net_a.loss_fn(ua.pred, ua.target, ua.loss_id)
        lb = net_b.loss_fn(ub.pred, ub.target, ub.loss_id)
        self.check_finite(torch.cat([la, lb]))
        w_a, w_b = self.pair.select(
            la.detach(),
            lb.detach(),
            ua.example_id,
            step=run.state.step,
            logits_a=ua.pred.detach(),
            logits_b=ub.pred.detach(),
        )
        sel = self.pair
        if isinstance(sel, CoTeachingSelector) and sel.variant == "jocor":
            # JoCoR trains both networks on one joint loss (CE + symmetric KL).
            joint = jocor_loss(ua.pred, ub.pred, la, lb, co_lambda=sel.co_lambda)
            loss = 2 * weighted_mean(w_a, joint)
        else:
            loss = weighted_mean(w_a, la) + weighted_mean(w_b, lb)
        return StepOutput(loss, ua, la)
