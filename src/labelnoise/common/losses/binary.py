"""Two-class / multi-label forms over sigmoid outputs (tags of a clip, edge pixels, ...).

Every function takes ``logits (N, K, *)`` (any shape works) and a ``target`` of the same
shape: ``{0, 1}`` (any dtype; ``ignore_index`` marks unlabelled entries) or float soft targets
in ``[0, 1]``. ``weight`` is an optional ``(K,)`` per-output weight along dim 1.
``reduction="none"`` returns the element-wise losses (0 where ignored); ``mean`` is
``sum(w * l) / sum(w)`` over labelled entries.

* :func:`bce` -- binary cross-entropy.
* :func:`gce_binary` -- GCE (Zhang & Sabuncu, NeurIPS 2018) on ``[1 - sigma, sigma]``.
* :func:`sce_binary` -- SCE (Wang et al., ICCV 2019) on ``[1 - sigma, sigma]``.
* :func:`bootstrap_binary` -- soft bootstrapping (Reed et al., 2015).
* :func:`ls_binary` -- label smoothing towards 1/2 (Szegedy et al., 2016).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from labelnoise.common._checks import check_in_range
from labelnoise.common.losses._base import (
    Reduction,
    as_compute_dtype,
    check_nonnegative,
    check_reduction,
)

__all__ = ["bce", "bootstrap_binary", "gce_binary", "ls_binary", "sce_binary"]


@dataclass(frozen=True)
class BinaryTarget:
    t: Tensor
    mask: Tensor | None
    weight: Tensor | None


def prepare_binary(
    logits: Tensor, target: Tensor, *, weight: Tensor | None, ignore_index: int, reduction: str
) -> tuple[Tensor, BinaryTarget]:
    """Validate; return float32-or-wider logits and the target in ``[0, 1]`` (ignored -> 0)."""
    check_reduction(reduction)
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        raise ValueError(
            f"logits must be a floating tensor; got {getattr(logits, 'dtype', logits)}"
        )
    if tuple(target.shape) != tuple(logits.shape):
        raise ValueError(
            f"target must have the shape of logits {tuple(logits.shape)}; got {tuple(target.shape)}"
        )
    x = as_compute_dtype(logits)
    mask = target != ignore_index
    tf = target.to(x.dtype)
    if target.numel():
        labelled = tf[mask]
        if labelled.numel() and (
            not bool(torch.isfinite(labelled).all())
            or float(labelled.min()) < 0
            or float(labelled.max()) > 1
        ):
            raise ValueError(
                f"target must be in [0, 1] (or {ignore_index} to ignore); got values in "
                f"[{float(labelled.min()):.4g}, {float(labelled.max()):.4g}]"
            )
    w = None
    if weight is not None:
        k = logits.shape[1] if logits.dim() >= 2 else 1
        if tuple(weight.shape) != (k,):
            raise ValueError(f"weight must have shape ({k},); got {tuple(weight.shape)}")
        w = (
            weight.to(x.dtype).view(1, -1, *([1] * (x.dim() - 2)))
            if x.dim() >= 2
            else weight.to(x.dtype)
        )
    if bool(mask.all()):
        return x, BinaryTarget(tf, None, w)
    return x, BinaryTarget(tf.masked_fill(~mask, 0.0), mask, w)


def finish_binary(loss: Tensor, bt: BinaryTarget, reduction: str) -> Tensor:
    """Weight, mask and reduce element-wise losses."""
    w = None if bt.weight is None else bt.weight.expand_as(loss)
    if w is not None:
        loss = loss * w
    if bt.mask is not None:
        loss = loss.masked_fill(~bt.mask, 0.0)
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    if w is None:
        n = loss.numel() if bt.mask is None else int(bt.mask.sum())
        return total / loss.new_tensor(float(n))
    return total / (w.sum() if bt.mask is None else w.masked_fill(~bt.mask, 0.0).sum())


def _bce_terms(x: Tensor, t: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(x, t, reduction="none")


def bce(
    logits: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """Binary cross-entropy with logits ``-(t log sigma + (1 - t) log(1 - sigma))``."""
    x, bt = prepare_binary(
        logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction
    )
    return finish_binary(_bce_terms(x, bt.t), bt, reduction)


def gce_binary(
    logits: Tensor,
    target: Tensor,
    *,
    q: float = 0.7,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """``t (1 - sigma^q) / q + (1 - t) (1 - (1 - sigma)^q) / q``, ``q`` in ``(0, 1]``."""
    q = check_in_range("q", q, 0.0, 1.0, low_inclusive=False)
    x, bt = prepare_binary(
        logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction
    )
    pos = -torch.expm1(q * F.logsigmoid(x))
    neg = -torch.expm1(q * F.logsigmoid(-x))
    loss = (bt.t * pos + (1.0 - bt.t) * neg) / q
    return finish_binary(loss, bt, reduction)


def sce_binary(
    logits: Tensor,
    target: Tensor,
    *,
    alpha: float = 0.1,
    beta: float = 1.0,
    min_prob: float = 1e-4,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """``alpha * BCE + beta * RCE`` with ``RCE = -(sigma log t + (1 - sigma) log(1 - t))``,
    ``log 0 -> log(min_prob)``. ``alpha = 1, beta = 0`` is BCE."""
    alpha = check_nonnegative("alpha", alpha)
    beta = check_nonnegative("beta", beta)
    min_prob = check_in_range(
        "min_prob", min_prob, 0.0, 1.0, low_inclusive=False, high_inclusive=False
    )
    x, bt = prepare_binary(
        logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction
    )
    s = torch.sigmoid(x)
    log_t = bt.t.clamp(min_prob, 1.0).log()
    log_1mt = (1.0 - bt.t).clamp(min_prob, 1.0).log()
    rce = -(s * log_t + (1.0 - s) * log_1mt)
    return finish_binary(alpha * _bce_terms(x, bt.t) + beta * rce, bt, reduction)


def bootstrap_binary(
    logits: Tensor,
    target: Tensor,
    *,
    beta: float = 0.95,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """Soft bootstrapping: BCE towards ``beta t + (1 - beta) sigma`` (``sigma`` not detached,
    as Reed et al.). ``beta = 1`` is BCE."""
    beta = check_in_range("beta", beta, 0.0, 1.0)
    x, bt = prepare_binary(
        logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction
    )
    mixed = beta * bt.t + (1.0 - beta) * torch.sigmoid(x)
    loss = -(mixed * F.logsigmoid(x) + (1.0 - mixed) * F.logsigmoid(-x))
    return finish_binary(loss, bt, reduction)


def ls_binary(
    logits: Tensor,
    target: Tensor,
    *,
    smoothing: float = 0.1,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """BCE towards ``(1 - s) t + s / 2`` with ``smoothing = s`` in ``[0, 1]``; ``s = 0`` is BCE."""
    s = check_in_range("smoothing", smoothing, 0.0, 1.0)
    x, bt = prepare_binary(
        logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction
    )
    return finish_binary(_bce_terms(x, (1.0 - s) * bt.t + 0.5 * s), bt, reduction)
