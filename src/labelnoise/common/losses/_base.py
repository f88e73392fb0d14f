"""Shared plumbing of the classification losses: boundary validation, targets, reduction.

Every loss follows ``F.cross_entropy``:

* ``logits``: ``(N, C, *)``; the class dimension is dim 1.
* ``target``: ``(N, *)`` long class ids (``ignore_index`` marks units without a label) or
  ``(N, C, *)`` floating soft targets (non-negative, summing to 1 over dim 1).
* ``weight``: optional ``(C,)`` class weights. A unit's weight is ``weight[y]`` for a hard
  target and ``sum_c weight[c] * t[c]`` for a soft one.
* ``reduction``: ``none`` -> ``(N, *)`` weighted per-unit losses (0 at ignored units);
  ``sum``; ``mean`` -> ``sum(w * l) / sum(w)`` over labelled units for hard targets, and
  ``sum(w * l) / (N * prod(*))`` for soft ones (as ``F.cross_entropy``).

The losses compute in float32 when ``logits`` are float16 / bfloat16 (autocast), as
``F.cross_entropy`` does under autocast.

Losses are written as per-unit kernels on the ``(N, C, *)`` layout (class ops over dim 1), so
``(N, C, H, W)`` inputs need no transpose and give the same values as flattened units.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from labelnoise.common._checks import check_in_range

Reduction = Literal["mean", "sum", "none"]
_REDUCTIONS = ("mean", "sum", "none")
_LOW_PRECISION = (torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class Target:
    """A validated target: exactly one of ``hard`` (``(N, *)`` long, ignored units set to 0)
    and ``soft`` (``(N, C, *)`` float) is set; ``mask`` is ``(N, *)`` bool of labelled units
    (None when all are labelled)."""

    hard: Tensor | None
    soft: Tensor | None
    mask: Tensor | None

    def pick(self, x: Tensor) -> Tensor:
        """``sum_c t_c x_c`` over dim 1: ``x (N, C, *)`` -> ``(N, *)``."""
        if self.hard is not None:
            return x.gather(1, self.hard.unsqueeze(1)).squeeze(1)
        assert self.soft is not None  # exactly one of hard / soft is set
        return (self.soft * x).sum(1)

    def pick_map(self, x: Tensor, fn: Callable[[Tensor], Tensor]) -> Tensor:
        """``sum_c t_c fn(x)_c`` for an element-wise ``fn``; hard targets pick first, so ``fn``
        runs on ``(N, *)`` instead of ``(N, C, *)``."""
        if self.hard is not None:
            return fn(self.pick(x))
        return self.pick(fn(x))

    def probs(self, like: Tensor) -> Tensor:
        """The target as a distribution ``(N, C, *)`` (one-hot for hard targets)."""
        if self.soft is not None:
            return self.soft.to(like.dtype)
        assert self.hard is not None  # exactly one of hard / soft is set
        return torch.zeros_like(like).scatter_(1, self.hard.unsqueeze(1), 1.0)


def as_compute_dtype(logits: Tensor) -> Tensor:
    """Upcast float16 / bfloat16 logits to float32."""
    return logits.float() if logits.dtype in _LOW_PRECISION else logits


def check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of mean, sum, none; got {reduction!r}")


def check_positive(name: str, value: float) -> float:
    return check_in_range(name, value, 0.0, float("inf"), low_inclusive=False)


def check_nonnegative(name: str, value: float) -> float:
    return check_in_range(name, value, 0.0, float("inf"))


def prepare(
    logits: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None,
    ignore_index: int,
    reduction: str,
) -> Target:
    """Validate the common arguments of a classification loss and split the target."""
    check_reduction(reduction)
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        raise ValueError(
            f"logits must be a floating tensor; got {getattr(logits, 'dtype', logits)}"
        )
    if logits.dim() < 2:
        raise ValueError(f"logits must have shape (N, C, *); got {tuple(logits.shape)}")
    n, c = logits.shape[0], logits.shape[1]
    spatial = tuple(logits.shape[2:])
    if weight is not None and tuple(weight.shape) != (c,):
        raise ValueError(f"weight must have shape ({c},); got {tuple(weight.shape)}")
    if target.is_floating_point():
        if tuple(target.shape) != tuple(logits.shape):
            raise ValueError(
                f"soft target must have the shape of logits {tuple(logits.shape)} (or be long "
                f"class ids of shape {(n, *spatial)}); got {tuple(target.shape)}"
            )
        atol = 1e-2 if target.dtype in _LOW_PRECISION else 1e-4
        if target.numel():
            t = target.float()
            if not bool(torch.isfinite(t).all()) or float(t.min()) < 0:
                raise ValueError("soft target must be finite and non-negative; got a bad entry")
            err = (t.sum(1) - 1).abs().max()
            if float(err) > atol:
                raise ValueError(
                    f"soft target must sum to 1 over the class dim 1 (atol {atol}); "
                    f"got a row off by {float(err):.4g}"
                )
        return Target(None, target, None)
    if target.dtype in (torch.bool,) or target.is_complex():
        raise ValueError(f"target must be long class ids or float soft targets; got {target.dtype}")
    if tuple(target.shape) != (n, *spatial):
        raise ValueError(
            f"target must have shape {(n, *spatial)} for logits of shape {tuple(logits.shape)}; "
            f"got {tuple(target.shape)}"
        )
    target = target.long()
    if target.numel() == 0:
        return Target(target, None, None)
    lo, hi = (int(v) for v in torch.aminmax(target))
    if lo >= 0 and hi < c:  # every unit labelled and in range: one pass, no copy
        return Target(target, None, None)
    mask = target != ignore_index
    safe = target.masked_fill(~mask, 0)
    lo, hi = (int(v) for v in torch.aminmax(safe))
    if lo < 0 or hi >= c:
        got = f"min {lo}" if lo < 0 else f"max {hi}"
        raise ValueError(f"target must be in [0, {c}) (or {ignore_index} to ignore); got {got}")
    return Target(safe, None, mask)


def unit_weight(t: Target, weight: Tensor | None, like: Tensor) -> Tensor | None:
    """Per-unit weight ``(N, *)`` from class weights, or None."""
    if weight is None:
        return None
    w = weight.to(dtype=like.dtype, device=like.device)
    if t.hard is not None:
        return w[t.hard]
    assert t.soft is not None  # exactly one of hard / soft is set
    return (t.soft.to(like.dtype) * w.view(1, -1, *([1] * (t.soft.dim() - 2)))).sum(1)


def finish(loss: Tensor, t: Target, weight: Tensor | None, reduction: str) -> Tensor:
    """Apply class weights, the ignore mask and the reduction to per-unit ``loss (N, *)``."""
    w = unit_weight(t, weight, loss)
    if w is not None:
        loss = loss * w
    if t.mask is not None:
        loss = loss.masked_fill(~t.mask, 0.0)
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    if t.soft is not None:
        return total / loss.new_tensor(float(loss.numel()))
    if w is not None:
        denom = w.sum() if t.mask is None else w.masked_fill(~t.mask, 0.0).sum()
    else:
        denom = loss.new_tensor(float(loss.numel() if t.mask is None else int(t.mask.sum())))
    return total / denom


def log_probs(logits: Tensor) -> Tensor:
    """``log_softmax`` over the class dim 1 in the compute dtype."""
    return torch.log_softmax(as_compute_dtype(logits), dim=1)
