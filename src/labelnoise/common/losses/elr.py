"""Early-learning regularization: Liu et al., "Early-learning regularization prevents
memorization of noisy labels", NeurIPS 2020.

``CE + lam * log(1 - <m, p>)`` where ``m`` is a running average of the model's own
(detached, clamped, renormalised) predictions for the same unit. :func:`elr` takes that memory
for the batch; :class:`ELRLoss` keeps it per id (``num_ids x C`` buffer, checkpointable).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from labelnoise.common._checks import check_in_range
from labelnoise.common.losses._base import (
    Reduction,
    as_compute_dtype,
    check_nonnegative,
    finish,
    log_probs,
    prepare,
)

__all__ = ["ELRLoss", "elr"]

_CLAMP = 1e-4


def elr(
    logits: Tensor,
    target: Tensor,
    *,
    ema_target: Tensor,
    lam: float = 3.0,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """ELR loss given the target memory ``ema_target (N, C, *)`` (rows on the simplex).

    ``lam >= 0`` (default 3, the paper's CIFAR-10 value); ``lam = 0`` is cross-entropy.
    """
    lam = check_nonnegative("lam", lam)
    t = prepare(logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    if ema_target is None or tuple(ema_target.shape) != tuple(logits.shape):
        got = None if ema_target is None else tuple(ema_target.shape)
        raise ValueError(
            f"ema_target must have the shape of logits {tuple(logits.shape)}; got {got}"
        )
    lp = log_probs(logits)
    p = lp.exp().clamp(_CLAMP, 1.0 - _CLAMP)
    inner = (ema_target.detach().to(p.dtype) * p).sum(1)
    loss = -t.pick(lp) + lam * torch.log((1.0 - inner).clamp_min(1e-6))
    return finish(loss, t, weight, reduction)


class ELRLoss(nn.Module):
    """Stateful ELR over units keyed by an integer id.

    Args:
        num_ids: size of the memory: the number of training examples, or of unit slots when
            an example has several units (pass a unit-level id then).
        num_classes: ``C``.
        beta: memory momentum in ``[0, 1)`` (default 0.7, the paper's CIFAR-10 value).
        lam: regularization weight (default 3).

    ``forward(pred (U, C), target (U,) or (U, C), example_id (U,))`` updates the memory of the
    ids (units sharing an id in one call are averaged) and returns per-unit losses ``(U,)``
    (``reduction`` default ``"none"``). The memory is the buffer ``memory`` (in ``state_dict``).
    """

    memory: Tensor  # (num_ids, C) buffer
    class_weight: Tensor | None  # (C,) buffer

    def __init__(
        self,
        num_ids: int,
        num_classes: int,
        *,
        beta: float = 0.7,
        lam: float = 3.0,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: Reduction = "none",
    ) -> None:
        super().__init__()
        if isinstance(num_ids, bool) or not isinstance(num_ids, int) or num_ids < 1:
            raise ValueError(f"num_examples must be a positive int for elr; got {num_ids!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2 for elr; got {num_classes!r}")
        self.beta = check_in_range("beta", beta, 0.0, 1.0, high_inclusive=False)
        self.lam = check_nonnegative("lam", lam)
        self.ignore_index, self.reduction = ignore_index, reduction
        self.register_buffer("memory", torch.zeros(num_ids, num_classes))
        self.register_buffer("class_weight", weight)

    def forward(self, pred: Tensor, target: Tensor, example_id: Tensor | None = None) -> Tensor:
        if example_id is None or tuple(example_id.shape) != (pred.shape[0],) or pred.dim() != 2:
            raise ValueError(
                f"elr needs pred (U, C) and example_id (U,); got pred {tuple(pred.shape)} and "
                f"example_id {None if example_id is None else tuple(example_id.shape)}"
            )
        ids = example_id.long()
        if ids.numel():
            low, high = (int(v) for v in torch.aminmax(ids))  # one pass over the ids
            if low < 0 or high >= self.memory.shape[0]:
                raise ValueError(
                    f"example_id must be in [0, {self.memory.shape[0]}); got [{low}, {high}]"
                )
        self._update(pred, ids)
        return elr(
            pred,
            target,
            ema_target=self.memory[ids],
            lam=self.lam,
            weight=self.class_weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )

    def _update(self, pred: Tensor, ids: Tensor) -> None:
        """``memory[id] = beta * memory[id] + (1 - beta) * mean of the id's clamped,
        renormalised softmax rows``. No autograd context is needed: ``pred`` is detached and
        the memory is a buffer (no graph is built; the ``no_grad`` decorator cost ~8 us a
        step). Ids that occur once (one unit per example) skip the per-id mean: the same
        numbers (a row's mean is the row)."""
        p = torch.softmax(as_compute_dtype(pred.detach()), dim=1).clamp(_CLAMP, 1.0 - _CLAMP)
        p = (p / p.sum(1, keepdim=True)).to(self.memory.dtype)
        uniq, inv = torch.unique(ids, return_inverse=True)
        if uniq.shape[0] == ids.shape[0]:  # every id once
            self.memory[ids] = self.beta * self.memory[ids] + (1.0 - self.beta) * p
            return
        summed = torch.zeros(uniq.shape[0], p.shape[1], dtype=p.dtype, device=p.device)
        summed.index_add_(0, inv, p)
        counts = torch.bincount(inv, minlength=uniq.shape[0]).to(p.dtype).unsqueeze(1)
        self.memory[uniq] = self.beta * self.memory[uniq] + (1.0 - self.beta) * summed / counts
