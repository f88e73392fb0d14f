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

``nested_std`` adds the compression regularizer of Chen et al. ("Boosting Co-teaching with
Compression Regularization for Label Noise", CVPR-W 2021): nested dropout on both networks'
classifier inputs, one truncation per batch shared by both
(:mod:`labelnoise.methods.nested_dropout`). Simplified: one stage (the authors first train
each network with nested dropout alone, then fine-tune with co-teaching: here the selector's
gradual forget-rate ramp plays the first stage), and the test-time truncation ``K`` is not
chosen on validation data (all features are used in eval mode, for selection and test).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

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

__all__ = ["CoTeaching", "CoTeachingOptions"]


@dataclass
class CoTeachingOptions:
    """The recipe's ``method:`` options.

    Attributes:
        nested_std: std of the nested-dropout distribution over kept features (null: off,
            default; the authors use 100 to 500 for 512-2048 features).
        nested_mu: its mean (default 0).
    """

    nested_std: float | None = None
    nested_mu: float = 0.0

    def __post_init__(self) -> None:
        if self.nested_std is not None and not (
            math.isfinite(self.nested_std) and self.nested_std > 0
        ):
            raise ValueError(f"method.nested_std must be > 0 or null; got {self.nested_std!r}")
        if not math.isfinite(self.nested_mu):
            raise ValueError(f"method.nested_mu must be finite; got {self.nested_mu!r}")


class CoTeaching(Method):
    """Two networks, each trained on the units its peer selects (module docstring)."""

    name = "coteaching"
    Options = CoTeachingOptions
    num_networks = 2

    def __init__(self, options: Any, run: Any) -> None:
        super().__init__(options, run)
        self.nested = None
        if options.nested_std is not None:
            from labelnoise.methods.nested_dropout import NestedDropout

            self.nested = NestedDropout(options.nested_mu, options.nested_std)

    def build_model(self, splits: Any) -> nn.Module:
        model = super().build_model(splits)
        if self.nested is not None:
            self.nested.attach(model)
        return model

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
        if self.nested is not None:
            self.nested.draw()
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
