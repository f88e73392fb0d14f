"""The loss registry (name -> functional loss) and :func:`build_loss`, the per-unit factory the
training loop uses."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, Literal

import torch
from torch import Tensor, nn

from labelnoise.common.losses.apl import nce, nce_mae, nce_rce
from labelnoise.common.losses.asl import asl
from labelnoise.common.losses.binary import bce, bootstrap_binary, gce_binary, ls_binary, sce_binary
from labelnoise.common.losses.bootstrap import bootstrap_hard, bootstrap_soft
from labelnoise.common.losses.correction import (
    as_transition,
    backward_correction,
    forward_correction,
)
from labelnoise.common.losses.cross_entropy import ce, label_smoothing, nls
from labelnoise.common.losses.elr import ELRLoss, elr
from labelnoise.common.losses.focal import focal
from labelnoise.common.losses.gce import gce, tlq
from labelnoise.common.losses.ldr import ldr
from labelnoise.common.losses.logitnorm import logitnorm
from labelnoise.common.losses.mae import mae
from labelnoise.common.losses.maxsup import maxsup
from labelnoise.common.losses.regression import cauchy, gaussian_nll, huber, mse, trimmed_mse
from labelnoise.common.losses.sce import rce, sce

__all__ = ["BINARY_LOSSES", "LOSSES", "REGRESSION_LOSSES", "UnitLoss", "build_loss"]

LOSSES: dict[str, Callable[..., Tensor]] = {
    "ce": ce,
    "label_smoothing": label_smoothing,
    "nls": nls,
    "logitnorm": logitnorm,
    "maxsup": maxsup,
    "gce": gce,
    "tlq": tlq,
    "sce": sce,
    "rce": rce,
    "mae": mae,
    "nce": nce,
    "nce_rce": nce_rce,
    "nce_mae": nce_mae,
    "bootstrap_soft": bootstrap_soft,
    "bootstrap_hard": bootstrap_hard,
    "focal": focal,
    "forward": forward_correction,
    "backward": backward_correction,
    "elr": elr,
    "ldr": ldr,
    "bce": bce,
    "gce_binary": gce_binary,
    "sce_binary": sce_binary,
    "bootstrap_binary": bootstrap_binary,
    "ls_binary": ls_binary,
    "asl": asl,
    "mse": mse,
    "huber": huber,
    "cauchy": cauchy,
    "trimmed_mse": trimmed_mse,
    "gaussian_nll": gaussian_nll,
}

#: Losses over sigmoid outputs (see :mod:`labelnoise.common.losses.binary`).
BINARY_LOSSES = frozenset(
    {"bce", "gce_binary", "sce_binary", "bootstrap_binary", "ls_binary", "asl"}
)
#: Losses over continuous targets (see :mod:`labelnoise.common.losses.regression`).
REGRESSION_LOSSES = frozenset({"mse", "huber", "cauchy", "trimmed_mse", "gaussian_nll"})

_INTERNAL = {"reduction", "ema_target"}


class UnitLoss(nn.Module):
    """Per-unit loss ``m(pred, target, example_id=None) -> (U,)`` around a registry function.

    Classification: ``pred (U, C)``, ``target (U,)`` long or ``(U, C)`` soft.
    Two-class losses with ``units="two_class"``: ``pred (U, 2)`` from
    :func:`~labelnoise.common.units.two_class_units` (the sigmoid logit is
    ``pred[:, 1] - pred[:, 0]``), ``target (U,)`` in {0, 1} or ``(U, 2)`` soft; with
    ``units="sigmoid"``: ``pred`` and ``target`` ``(U,)`` or ``(U, K)``, the ``K`` outputs of a
    unit summed. Regression: as :mod:`~labelnoise.common.losses.regression`.
    """

    def __init__(
        self,
        name: str,
        options: dict[str, Any],
        *,
        units: Literal["two_class", "sigmoid"] = "two_class",
    ) -> None:
        super().__init__()
        self.name, self.fn, self.units = name, LOSSES[name], units
        opts = dict(options)
        if opts.get("weight") is not None:
            self.register_buffer(
                "class_weight", torch.as_tensor(opts.pop("weight"), dtype=torch.float32)
            )
        else:
            opts.pop("weight", None)
            self.class_weight = None
        if "transition" in opts:
            self.register_buffer("transition", opts.pop("transition"))
        else:
            self.transition = None
        self.options = opts

    def forward(self, pred: Tensor, target: Tensor, example_id: Tensor | None = None) -> Tensor:
        kwargs = dict(self.options)
        if self.class_weight is not None:
            kwargs["weight"] = self.class_weight
        if self.transition is not None:
            kwargs["transition"] = self.transition
        if self.name not in BINARY_LOSSES:
            return self.fn(pred, target, reduction="none", **kwargs)
        if self.units == "sigmoid":
            loss = self.fn(pred, target, reduction="none", **kwargs)
            return loss.sum(1) if loss.dim() == 2 else loss
        if pred.dim() != 2 or pred.shape[1] != 2:
            raise ValueError(f"two-class pred must have shape (U, 2); got {tuple(pred.shape)}")
        x = pred[:, 1] - pred[:, 0]
        if target.is_floating_point() and target.dim() == 2:
            target = target[:, 1]
        return self.fn(x, target, reduction="none", **kwargs)

    def extra_repr(self) -> str:
        return f"{self.name}, {self.options}"


def check_loss_options(name: str, keys: Iterable[str]) -> None:
    """Raise ValueError naming the first of ``keys`` that loss ``name`` (a key of
    :data:`LOSSES`) does not take."""
    allowed = {
        p.name
        for p in inspect.signature(LOSSES[name]).parameters.values()
        if p.kind is p.KEYWORD_ONLY
    } - _INTERNAL
    if name in BINARY_LOSSES:
        allowed.add("units")
    if name == "elr":
        allowed.add("beta")
    for key in keys:
        if key not in allowed:
            raise ValueError(
                f"unknown option {key!r} for loss {name!r}; expected one of {', '.join(sorted(allowed))}"
            )


def build_loss(
    name: str, *, num_classes: int = 0, num_examples: int | None = None, **options: Any
) -> nn.Module:
    """Build the per-unit loss module ``m(pred, target, example_id=None) -> (U,)``.

    Args:
        name: a key of :data:`LOSSES`.
        num_classes: ``C`` (needed by ``elr``; used to check options early).
        num_examples: size of the per-id memory of stateful losses (``elr``).
        **options: the loss's keyword options (``q=0.5``, ``transition=[[...]]``,
            ``weight=[...]``); two-class losses also take ``units``. Unknown -> ValueError.
    """
    if name not in LOSSES:
        raise ValueError(f"name must be one of {', '.join(LOSSES)}; got {name!r}")
    check_loss_options(name, options)
    if name == "elr":
        if num_examples is None:
            raise ValueError("num_examples must be given for loss 'elr'; got None")
        weight = options.pop("weight", None)
        return ELRLoss(
            num_examples,
            num_classes,
            weight=None if weight is None else torch.as_tensor(weight, dtype=torch.float32),
            **options,
        )
    if name in ("forward", "backward"):
        if "transition" not in options:
            raise ValueError(
                f"transition must be given for loss {name!r}; got no transition option"
            )
        size = options["transition"]
        c = num_classes or len(size.matrix if hasattr(size, "matrix") else size)
        options["transition"] = as_transition(options["transition"], c).float()
    units = options.pop("units", "two_class")
    if units not in ("two_class", "sigmoid"):
        raise ValueError(f"units must be 'two_class' or 'sigmoid'; got {units!r}")
    module = UnitLoss(name, options, units=units)
    _dry_run(module, name, num_classes)
    return module


def _dry_run(module: UnitLoss, name: str, num_classes: int) -> None:
    """Call the loss once on a tiny input so that bad option values fail at build time."""
    if name in REGRESSION_LOSSES:
        pred = torch.zeros(2, 2) if name == "gaussian_nll" else torch.zeros(2)
        module(pred, torch.zeros(2))
        return
    if name in BINARY_LOSSES:
        target = (
            torch.zeros(1, 2) if module.units == "sigmoid" else torch.zeros(1, dtype=torch.long)
        )
        module(torch.zeros(1, 2), target)
        return
    c = module.transition.shape[0] if module.transition is not None else max(num_classes, 2)
    module(torch.zeros(1, c), torch.zeros(1, dtype=torch.long))
