"""Cross-entropy and its label-smoothing family.

* :func:`ce` -- ``F.cross_entropy`` behind the shared boundary checks.
* :func:`label_smoothing` -- Szegedy et al., "Rethinking the Inception architecture", CVPR 2016
  (``F.cross_entropy(label_smoothing=...)``, smoothing in ``[0, 1]``).
* :func:`nls` -- negative label smoothing, Wei et al., "To smooth or not? When label smoothing
  meets noisy labels", ICML 2022: target ``(1 - r) * y + r / C`` with ``r`` in ``[-1, 1]``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from labelnoise.common._checks import check_in_range
from labelnoise.common.losses._base import Reduction, finish, log_probs, prepare

__all__ = ["ce", "label_smoothing", "nls"]


def _as_index(target: Tensor) -> Tensor:
    """Hard targets of any integer dtype as long (``F.cross_entropy`` wants int64)."""
    return target if target.is_floating_point() else target.long()


def ce(
    logits: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """Cross-entropy, exactly ``F.cross_entropy``. logits ``(N, C, *)``, target ``(N, *)`` or
    ``(N, C, *)``; returns ``(N, *)`` for ``reduction="none"``, else a scalar."""
    prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    return F.cross_entropy(
        logits, _as_index(target), weight=weight, ignore_index=ignore_index, reduction=reduction
    )


def label_smoothing(
    logits: Tensor,
    target: Tensor,
    *,
    smoothing: float = 0.1,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """Cross-entropy with label smoothing ``smoothing`` in ``[0, 1]`` (Szegedy et al., 2016).

    ``smoothing = 0`` is cross-entropy. Same semantics as
    ``F.cross_entropy(..., label_smoothing=smoothing)``.
    """
    s = check_in_range("smoothing", smoothing, 0.0, 1.0)
    prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    return F.cross_entropy(
        logits,
        _as_index(target),
        weight=weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=s,
    )


def nls(
    logits: Tensor,
    target: Tensor,
    *,
    smoothing: float = -0.2,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """Negative label smoothing (Wei et al., ICML 2022): ``(1 - r) CE(t) + r * mean_c(-log p_c)``.

    The smoothed target is ``(1 - r) t + r / C``; ``smoothing = r`` in ``[-1, 1]`` (negative
    values push probability away from the non-target classes). ``r = 0`` is cross-entropy.
    """
    r = check_in_range("smoothing", smoothing, -1.0, 1.0)
    t = prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    lp = log_probs(logits)
    loss = -(1.0 - r) * t.pick(lp) - r * lp.mean(1)
    return finish(loss, t, weight, reduction)
