"""Two-network small-loss exchange.

* Co-teaching: Han et al., "Co-teaching: robust training of deep neural networks with
  extremely noisy labels", NeurIPS 2018 -- each network trains on the small-loss units chosen
  by its peer.
* JoCoR: Wei et al., "Combating noisy labels by agreement: a joint training method with
  co-regularization", CVPR 2020 -- both networks train on the small-loss units of the joint
  loss ``(1 - lambda)(l_a + l_b) + lambda (KL(p_a||p_b) + KL(p_b||p_a))`` (:func:`jocor_loss`).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from labelnoise.common._checks import check_rate
from labelnoise.common.selection._base import Gather, Level, check_int
from labelnoise.common.selection.small_loss import SmallLossSelector, small_loss_mask

__all__ = ["CoTeaching", "jocor_loss"]


def jocor_loss(
    logits_a: Tensor, logits_b: Tensor, loss_a: Tensor, loss_b: Tensor, *, co_lambda: float = 0.9
) -> Tensor:
    """JoCoR's per-unit joint loss ``(U,)`` from ``logits (U, C)`` and per-unit losses ``(U,)``.

    ``co_lambda`` in ``[0, 1)`` (default 0.9, the paper's CIFAR value).
    """
    lam = check_rate("co_lambda", co_lambda)
    if logits_a.shape != logits_b.shape or logits_a.dim() != 2:
        raise ValueError(
            f"logits_a and logits_b must both have shape (U, C); got {tuple(logits_a.shape)} "
            f"and {tuple(logits_b.shape)}"
        )
    if loss_a.shape != (logits_a.shape[0],) or loss_b.shape != loss_a.shape:
        raise ValueError(
            f"loss_a and loss_b must have shape ({logits_a.shape[0]},); got {tuple(loss_a.shape)} "
            f"and {tuple(loss_b.shape)}"
        )
    la = torch.log_softmax(logits_a.float(), 1)
    lb = torch.log_softmax(logits_b.float(), 1)
    sym_kl = (la.exp() * (la - lb)).sum(1) + (lb.exp() * (lb - la)).sum(1)
    return (1 - lam) * (loss_a + loss_b) + lam * sym_kl


class CoTeaching(SmallLossSelector):
    """The selection of a two-network method, with Co-teaching's forget-rate schedule.

    ``select(loss_a, loss_b, example_id, *, step, logits_a=None, logits_b=None)`` returns
    ``(weights_for_a, weights_for_b)``: with ``variant="coteaching"`` network A gets the
    small-loss units of B and vice versa; with ``variant="jocor"`` both get the small-loss
    units of :func:`jocor_loss` (needs the logits). Schedule options as
    :class:`~.small_loss.SmallLossSelector`; call :meth:`on_epoch_end` every epoch.
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
        variant: Literal["coteaching", "jocor"] = "coteaching",
        co_lambda: float = 0.9,
    ) -> None:
        super().__init__(
            num_examples=num_examples,
            gather=gather,
            forget_rate=forget_rate,
            num_gradual=num_gradual,
            exponent=exponent,
            level=level,
        )
        if variant not in ("coteaching", "jocor"):
            raise ValueError(f"variant must be 'coteaching' or 'jocor'; got {variant!r}")
        self.variant = variant
        self.co_lambda = check_rate("co_lambda", co_lambda)

    def select(
        self,
        loss_a: Tensor,
        loss_b: Tensor,
        example_id: Tensor,
        *,
        step: int,
        logits_a: Tensor | None = None,
        logits_b: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """``(weights_for_a, weights_for_b)``, each ``(U,)`` in {0, 1}."""
        check_int("step", step, 0)
        if loss_a.shape != loss_b.shape:
            raise ValueError(
                f"loss_a and loss_b must have the same shape; got {tuple(loss_a.shape)} and "
                f"{tuple(loss_b.shape)}"
            )
        if self.variant == "jocor":
            if logits_a is None or logits_b is None:
                raise ValueError("variant 'jocor' needs logits_a and logits_b; got None")
            joint = jocor_loss(
                logits_a.detach(),
                logits_b.detach(),
                loss_a.detach(),
                loss_b.detach(),
                co_lambda=self.co_lambda,
            )
            w = self(joint, example_id, step=step)
            return w, w.clone()
        w_for_b = self(loss_a, example_id, step=step)
        w_for_a = self(loss_b, example_id, step=step)
        return w_for_a, w_for_b

    def _select(self, unit_loss: Tensor, example_id: Tensor, **_: Any) -> Tensor:
        return small_loss_mask(
            unit_loss, self.rate, self.gather, level=self.level, example_id=example_id
        )
