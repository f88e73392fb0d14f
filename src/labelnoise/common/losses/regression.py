"""Robust losses for continuous targets (regression units).

Functional first, thin ``nn.Module`` wrappers after. Every function takes ``pred`` and
``target`` positionally and returns per-unit losses ``(U,)`` (``reduction="none"``), their
mean or their sum. ``pred`` is ``(U,)`` or ``(U, 1)``; :func:`gaussian_nll` takes ``(U, 2)``
columns ``[mean, log_var]`` (a network with a variance head).

* :func:`mse` -- squared error ``r^2`` (the noise-free baseline).
* :func:`huber` -- Huber, "Robust estimation of a location parameter", Ann. Math. Stat. 1964:
  ``r^2 / 2`` for ``|r| <= delta``, ``delta * (|r| - delta / 2)`` beyond (as
  ``torch.nn.functional.huber_loss``).
* :func:`cauchy` -- the Cauchy / Lorentzian loss ``c^2 / 2 * log(1 + (r / c)^2)`` (Black &
  Anandan 1996; Barron, "A general and adaptive robust loss function", CVPR 2019, alpha = 0).
* :func:`trimmed_mse` -- least trimmed squares (Rousseeuw 1984): the ``ceil(trim * U)``
  largest squared errors of the batch get zero loss.
* :func:`gaussian_nll` -- heteroscedastic Gaussian negative log-likelihood
  ``(log_var + r^2 / exp(log_var)) / 2`` (Nix & Weigend 1994; Kendall & Gal, NeurIPS 2017),
  without the constant ``log(2 pi) / 2``, as ``torch.nn.functional.gaussian_nll_loss``.

``r = pred - target``.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from labelnoise.common._checks import check_in_range, check_rate

__all__ = [
    "CauchyLoss",
    "GaussianNLLLoss",
    "HuberLoss",
    "TrimmedMSELoss",
    "cauchy",
    "gaussian_nll",
    "huber",
    "mse",
    "trimmed_mse",
]

Reduction = Literal["none", "mean", "sum"]


def _check(pred: Tensor, target: Tensor, reduction: str, *, columns: int = 1) -> Tensor:
    """Validate shapes and ``reduction``; return ``pred`` as ``(U,)`` (or ``(U, columns)``)."""
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction must be one of none, mean, sum; got {reduction!r}")
    if target.dim() != 1:
        raise ValueError(f"target must have shape (U,); got {tuple(target.shape)}")
    u = target.shape[0]
    if columns == 1:
        if pred.dim() == 2 and pred.shape[1] == 1:
            pred = pred[:, 0]
        if tuple(pred.shape) != (u,):
            raise ValueError(f"pred must have shape ({u},) or ({u}, 1); got {tuple(pred.shape)}")
    elif tuple(pred.shape) != (u, columns):
        raise ValueError(f"pred must have shape ({u}, {columns}); got {tuple(pred.shape)}")
    if not target.is_floating_point():
        raise ValueError(f"target must be a floating-point tensor; got dtype {target.dtype}")
    return pred


def _reduce(loss: Tensor, reduction: str, count: int | None = None) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    n = loss.numel() if count is None else count
    return loss.sum() / max(n, 1)


def mse(pred: Tensor, target: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """Squared error. ``pred (U,)`` or ``(U, 1)``, ``target (U,)`` float."""
    pred = _check(pred, target, reduction)
    return _reduce((pred - target.to(pred.dtype)) ** 2, reduction)


def huber(
    pred: Tensor, target: Tensor, *, delta: float = 1.0, reduction: Reduction = "mean"
) -> Tensor:
    """Huber loss (Huber 1964). ``delta > 0`` is where quadratic turns linear (default 1.0)."""
    pred = _check(pred, target, reduction)
    check_in_range("delta", delta, 0.0, math.inf, low_inclusive=False, high_inclusive=False)
    a = (pred - target.to(pred.dtype)).abs()
    loss = torch.where(a <= delta, 0.5 * a**2, delta * (a - 0.5 * delta))
    return _reduce(loss, reduction)


def cauchy(
    pred: Tensor, target: Tensor, *, c: float = 1.0, reduction: Reduction = "mean"
) -> Tensor:
    """Cauchy loss ``c^2 / 2 * log(1 + ((pred - target) / c)^2)``; scale ``c > 0`` (default 1.0).

    Its influence ``r / (1 + (r / c)^2)`` vanishes for large residuals, so gross outliers stop
    pulling the fit (Barron, CVPR 2019, alpha = 0).
    """
    pred = _check(pred, target, reduction)
    check_in_range("c", c, 0.0, math.inf, low_inclusive=False, high_inclusive=False)
    r = (pred - target.to(pred.dtype)) / c
    return _reduce(0.5 * c * c * torch.log1p(r * r), reduction)


def trimmed_mse(
    pred: Tensor, target: Tensor, *, trim: float = 0.1, reduction: Reduction = "mean"
) -> Tensor:
    """Least trimmed squares (Rousseeuw 1984) within the batch.

    The ``ceil(trim * U)`` units with the largest squared error get loss 0 (and no gradient);
    ``reduction="mean"`` divides by the number of kept units, ``"none"`` returns ``(U,)`` with
    the trimmed units at 0. ``trim`` in ``[0, 1)`` (default 0.1).
    """
    pred = _check(pred, target, reduction)
    check_rate("trim", trim)
    sq = (pred - target.to(pred.dtype)) ** 2
    u = sq.numel()
    k = min(math.ceil(trim * u), u - 1) if u else 0
    if k > 0:
        drop = torch.topk(sq.detach(), k).indices
        keep = torch.ones_like(sq, dtype=torch.bool)
        keep[drop] = False
        sq = torch.where(keep, sq, torch.zeros_like(sq))
    return _reduce(sq, reduction, count=u - k)


def gaussian_nll(
    pred: Tensor, target: Tensor, *, min_log_var: float = -10.0, reduction: Reduction = "mean"
) -> Tensor:
    """Heteroscedastic Gaussian NLL (Nix & Weigend 1994; Kendall & Gal, NeurIPS 2017).

    Args:
        pred: ``(U, 2)`` columns ``[mean, log_var]`` of a network with a variance head.
        target: ``(U,)`` float.
        min_log_var: ``log_var`` is clamped from below here for stability (default -10).
        reduction: ``none``, ``mean`` or ``sum``.

    Returns:
        ``0.5 * (log_var + (mean - target)^2 / exp(log_var))`` per unit, reduced.
    """
    pred = _check(pred, target, reduction, columns=2)
    mean, log_var = pred[:, 0], pred[:, 1].clamp_min(min_log_var)
    r2 = (mean - target.to(pred.dtype)) ** 2
    return _reduce(0.5 * (log_var + r2 * torch.exp(-log_var)), reduction)


class HuberLoss(nn.Module):
    """Module form of :func:`huber`."""

    def __init__(self, *, delta: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__()
        self.delta, self.reduction = delta, reduction

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return huber(pred, target, delta=self.delta, reduction=self.reduction)


class CauchyLoss(nn.Module):
    """Module form of :func:`cauchy`."""

    def __init__(self, *, c: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__()
        self.c, self.reduction = c, reduction

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return cauchy(pred, target, c=self.c, reduction=self.reduction)


class TrimmedMSELoss(nn.Module):
    """Module form of :func:`trimmed_mse`."""

    def __init__(self, *, trim: float = 0.1, reduction: Reduction = "mean") -> None:
        super().__init__()
        self.trim, self.reduction = trim, reduction

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return trimmed_mse(pred, target, trim=self.trim, reduction=self.reduction)


class GaussianNLLLoss(nn.Module):
    """Module form of :func:`gaussian_nll`."""

    def __init__(self, *, min_log_var: float = -10.0, reduction: Reduction = "mean") -> None:
        super().__init__()
        self.min_log_var, self.reduction = min_log_var, reduction

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return gaussian_nll(pred, target, min_log_var=self.min_log_var, reduction=self.reduction)
