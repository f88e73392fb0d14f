"""Units: the common currency of every task.

A *unit* is the smallest thing that carries a label and a class dimension: a token (NER),
a pixel (segmentation), an edge pixel or a tag (two-class units), a node (graph), an image
(CLIP), a target (regression). Every unit remembers the example it belongs to
(``example_id``), so per-unit scores reduce to per-example scores the same way everywhere.

Shapes follow ``F.cross_entropy``: logits ``(N, C, *)``, hard targets ``(N, *)`` or soft
targets ``(N, C, *)``; ``ignore_index`` (default -100) marks units without a label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from labelnoise.common._checks import check_in_range

__all__ = ["IGNORE_INDEX", "Units", "flatten_units", "reduce_units", "two_class_units"]

IGNORE_INDEX = -100


@dataclass(frozen=True)
class Units:
    """Flat units.

    Attributes:
        pred: ``(U, C)`` logits (classification) or ``(U,)`` / ``(U, D)`` predictions (regression).
        target: ``(U,)`` long class ids, ``(U, C)`` soft targets, or ``(U,)`` float targets.
        example_id: ``(U,)`` long id of the example each unit belongs to.
        weight: optional ``(U,)`` float per-unit weight.
        unit_id: optional ``(U,)`` long id of each unit within its split, for losses that keep
            per-unit state (ELR's target memory) when an example has many units (pixels);
            None: such losses key on ``example_id``.
    """

    pred: Tensor
    target: Tensor
    example_id: Tensor
    weight: Tensor | None = None
    unit_id: Tensor | None = None

    def __len__(self) -> int:
        return int(self.example_id.shape[0])

    def __getitem__(self, index: Tensor | slice) -> Units:
        w = None if self.weight is None else self.weight[index]
        u = None if self.unit_id is None else self.unit_id[index]
        return Units(self.pred[index], self.target[index], self.example_id[index], w, u)

    @property
    def loss_id(self) -> Tensor:
        """The id stateful losses key on: ``unit_id`` when set, else ``example_id``."""
        return self.example_id if self.unit_id is None else self.unit_id


def _move_class_last(x: Tensor) -> Tensor:
    """``(N, C, *)`` -> ``(N * prod(*), C)``."""
    if x.dim() == 2:
        return x
    return x.movedim(1, -1).reshape(-1, x.shape[1])


def flatten_units(
    logits: Tensor,
    target: Tensor,
    *,
    example_id: Tensor | None = None,
    weight: Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> Units:
    """Flatten ``(N, C, *)`` logits and targets into units, dropping ``ignore_index`` units.

    Args:
        logits: ``(N, C, *)``, at least 2-D.
        target: ``(N, *)`` long class ids, or ``(N, C, *)`` soft targets (float).
        example_id: ``(N,)`` ids of the examples; defaults to ``arange(N)``.
        weight: optional ``(N, *)`` per-unit weights.
        ignore_index: hard-target value of units without a label (soft targets: none dropped).

    Returns:
        :class:`Units` with ``pred (U, C)``, ``target (U,)`` or ``(U, C)``, ``example_id (U,)``.
    """
    if logits.dim() < 2:
        raise ValueError(
            f"logits must have shape (N, C, *) with at least 2 dims; got {tuple(logits.shape)}"
        )
    n, c = logits.shape[0], logits.shape[1]
    spatial = tuple(logits.shape[2:])
    soft = target.is_floating_point() and target.dim() == logits.dim()
    expected = (n, c, *spatial) if soft else (n, *spatial)
    if tuple(target.shape) != expected:
        raise ValueError(
            f"target must have shape {expected} for logits of shape {tuple(logits.shape)}; "
            f"got {tuple(target.shape)}"
        )
    if example_id is None:
        example_id = torch.arange(n, device=logits.device)
    elif tuple(example_id.shape) != (n,):
        raise ValueError(f"example_id must have shape ({n},); got {tuple(example_id.shape)}")
    per_unit_ids = example_id.long().view(n, *([1] * len(spatial))).expand(n, *spatial).reshape(-1)
    pred = _move_class_last(logits)
    tgt = _move_class_last(target) if soft else target.reshape(-1)
    w = None
    if weight is not None:
        if tuple(weight.shape) != (n, *spatial):
            raise ValueError(f"weight must have shape {(n, *spatial)}; got {tuple(weight.shape)}")
        w = weight.reshape(-1)
    if not soft:
        keep = tgt != ignore_index
        if not bool(keep.all()):
            pred, tgt, per_unit_ids = pred[keep], tgt[keep], per_unit_ids[keep]
            w = None if w is None else w[keep]
    return Units(pred, tgt, per_unit_ids, w)


def two_class_units(
    logits: Tensor,
    target: Tensor,
    *,
    example_id: Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> Units:
    """Two-class view of binary / multi-label / edge outputs.

    Each of the ``K`` sigmoid outputs of an example (a tag of a clip, an edge pixel) becomes a
    unit with logits ``[0, x]``, so ``softmax([0, x]) = [1 - sigmoid(x), sigmoid(x)]`` and
    every multi-class loss and detector applies unchanged.

    Args:
        logits: ``(N, K, *)`` sigmoid logits.
        target: ``(N, K, *)`` in ``{0, 1}`` (or ``ignore_index``), any dtype; or float soft
            targets in ``[0, 1]`` (probability of the positive class).
        example_id: ``(N,)``; defaults to ``arange(N)``.

    Returns:
        Units with ``pred (U, 2)`` and ``target (U,)`` long or ``(U, 2)`` soft.
    """
    if logits.dim() < 2:
        raise ValueError(
            f"logits must have shape (N, K, *) with at least 2 dims; got {tuple(logits.shape)}"
        )
    if target.shape != logits.shape:
        raise ValueError(
            f"target must have the shape of logits {tuple(logits.shape)}; got {tuple(target.shape)}"
        )
    n = logits.shape[0]
    if example_id is None:
        example_id = torch.arange(n, device=logits.device)
    elif tuple(example_id.shape) != (n,):
        raise ValueError(f"example_id must have shape ({n},); got {tuple(example_id.shape)}")
    x = logits.reshape(-1)
    ids = example_id.long().view(n, *([1] * (logits.dim() - 1))).expand_as(logits).reshape(-1)
    pred = torch.stack([torch.zeros_like(x), x], dim=1)
    t = target.reshape(-1)
    is_soft = t.is_floating_point() and bool(((t != 0) & (t != 1) & (t != ignore_index)).any())
    if is_soft:
        return Units(pred, torch.stack([1 - t, t], dim=1), ids)
    t = t.long()
    keep = t != ignore_index
    if not bool(keep.all()):
        pred, t, ids = pred[keep], t[keep], ids[keep]
    if t.numel() and (int(t.min()) < 0 or int(t.max()) > 1):
        raise ValueError(
            f"target must be 0, 1 or {ignore_index}; got values in [{int(t.min())}, {int(t.max())}]"
        )
    return Units(pred, t, ids)


Reduction = Literal["mean", "sum", "min", "max", "softmin"]


def reduce_units(
    values: Tensor,
    example_id: Tensor,
    *,
    how: Reduction = "mean",
    temperature: float = 0.1,
) -> tuple[Tensor, Tensor]:
    """Reduce per-unit values to per-example values.

    Args:
        values: ``(U,)`` per-unit values (e.g. label-quality scores or losses).
        example_id: ``(U,)`` example of each unit.
        how: ``mean``, ``sum``, ``min``, ``max`` or ``softmin`` -- the softmin of cleanlab's
            token and segmentation scores: ``sum_u s_u * softmax(-s / temperature)_u``, a
            smooth minimum that lets the worst units dominate.
        temperature: softmin temperature (default 0.1; smaller approaches ``min``).

    Returns:
        ``(ids, reduced)``: the sorted unique example ids ``(E,)`` and their values ``(E,)``.
    """
    if values.shape != example_id.shape or values.dim() != 1:
        raise ValueError(
            f"values and example_id must both have shape (U,); got {tuple(values.shape)} "
            f"and {tuple(example_id.shape)}"
        )
    if how not in ("mean", "sum", "min", "max", "softmin"):
        raise ValueError(f"how must be one of mean, sum, min, max, softmin; got {how!r}")
    ids, inverse = torch.unique(example_id, return_inverse=True)
    e = ids.shape[0]
    v = values if values.is_floating_point() else values.double()
    if how in ("mean", "sum"):
        out = torch.zeros(e, dtype=v.dtype, device=v.device).index_add_(0, inverse, v)
        if how == "mean":
            counts = torch.bincount(inverse, minlength=e).to(v.dtype)
            out = out / counts
        return ids, out
    if how in ("min", "max"):
        init = torch.full(
            (e,), float("inf") if how == "min" else float("-inf"), dtype=v.dtype, device=v.device
        )
        return ids, init.scatter_reduce(0, inverse, v, reduce="amin" if how == "min" else "amax")
    check_in_range("temperature", temperature, 0.0, float("inf"), low_inclusive=False)
    logits = -v / temperature
    group_max = torch.full((e,), float("-inf"), dtype=v.dtype, device=v.device).scatter_reduce(
        0, inverse, logits, reduce="amax"
    )
    w = torch.exp(logits - group_max[inverse])
    denom = torch.zeros(e, dtype=v.dtype, device=v.device).index_add_(0, inverse, w)
    num = torch.zeros(e, dtype=v.dtype, device=v.device).index_add_(0, inverse, w * v)
    return ids, num / denom
