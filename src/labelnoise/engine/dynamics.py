"""Per-example training dynamics: loss and margin of every example in every epoch.

Recorded in the training forward pass (before the update on the batch). The margin is the
assigned-class logit minus the largest other logit, averaged over the example's units
(Pleiss et al., "Identifying mislabeled data using the area under the margin ranking",
NeurIPS 2020). The softmax (mean over an example's units) is also averaged over epochs: the
``dynamics`` detection method scores one-unit examples with it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from labelnoise.common.units import Units
from labelnoise.engine.collect import gather_records

__all__ = ["Dynamics", "unit_margin"]


def unit_margin(pred: Tensor, target: Tensor) -> Tensor:
    """``(U, C)`` logits, ``(U,)`` hard targets -> ``(U,)`` margins (NaN where undefined)."""
    if pred.dim() != 2 or target.dim() != 1 or target.is_floating_point():
        return torch.full((pred.shape[0],), float("nan"))
    idx = target.view(-1, 1)
    assigned = pred.gather(1, idx).squeeze(1)
    if pred.shape[1] == 2:  # the other logit (what the masked max gives; no copy of pred)
        return assigned - pred.gather(1, 1 - idx).squeeze(1)
    other = pred.scatter(1, idx, float("-inf")).amax(1)
    return assigned - other


def _layout(p: tuple[Tensor, Tensor, Tensor, Tensor, int]) -> tuple[Any, ...]:
    """What must agree for two recorded batches to be concatenated."""
    return (p[2].shape[1:], p[2].dtype, p[3].shape[1:], p[3].dtype, p[2].device)


def _group(key: Tensor, low: int) -> tuple[Tensor, Tensor, Tensor]:
    """``torch.unique(key, return_inverse=True)`` and the group sizes, for int64 keys
    ``>= low``: by counting (no sort of the units) when the key range is at most a few
    times the number of units (pixel and token tasks: many units per key), else by
    sorting."""
    span = int(key.max()) - low + 1
    if span <= max(4 * key.shape[0], 1 << 16):
        shifted = key - low  # once (millions of pixel units)
        counts = torch.bincount(shifted, minlength=span)
        present = counts > 0
        dense = torch.cumsum(present, 0) - 1
        return present.nonzero().squeeze(1) + low, dense[shifted], counts[present]
    uniq, inverse = torch.unique(key, return_inverse=True)
    return uniq, inverse, torch.bincount(inverse, minlength=uniq.shape[0])


def _cat(tensors: list[Tensor]) -> Tensor:
    """``torch.cat(tensors)``; one tensor is returned as is (read only here, not copied)."""
    return tensors[0] if len(tensors) == 1 else torch.cat(tensors)


def _softmax(pred: Tensor) -> Tensor:
    """``pred.softmax(1)`` for ``(U, C)`` logits; one column: ``pred - pred + 1`` (the same
    values: 1, or NaN where the logit is not finite) without the softmax kernel."""
    if pred.shape[1] == 1:
        return pred - pred + 1.0
    return pred.softmax(1)


class Dynamics:
    """Collects per-example loss / margin (and mean softmax) over epochs for ``n`` examples.

    :meth:`record` only keeps each batch's detached tensors; :meth:`flush` reduces them in
    one pass (every ``max_pending`` units, at the end of the epoch and before a checkpoint),
    so the per-step cost is a list append instead of a dozen small tensor operations and a
    copy to the host (about 0.25 ms per step on a CPU thread, a tenth of a small MLP's step).
    """

    #: pending elements (units x (classes + 3)) that trigger a reduction: bounds the memory
    #: held for many-unit or many-class tasks (about 32 MB of float32 / int64)
    max_pending: int = 1 << 22

    def __init__(self, n: int, *, probs: bool = True) -> None:
        self.n = n
        #: whether the mean softmax is kept (:meth:`mean_probs`; read only by the
        #: ``dynamics`` detection method): the softmax of every logit is most of the
        #: per-epoch reduction's cost on a CPU (about 0.2 ms for 1,000 x 10 logits)
        self.probs = probs
        self.loss: list[Tensor] = []
        self.margin: list[Tensor] = []
        self.probs_sum: Tensor | None = None
        self.probs_count = torch.zeros(n)
        self._chunks: list[dict[str, Tensor]] = []
        self._unique = False  # the one chunk so far has one record per example
        self._pending: list[tuple[Tensor, Tensor, Tensor, Tensor, int]] = []
        self._pending_units = 0

    def record(self, units: Units, unit_loss: Tensor, batch_index: int) -> None:
        """Keep one training batch for this epoch's reduction: a list append, no tensor
        work and no host sync per step (the detached tensors wait on their device). Per-unit
        values are reduced to per-(batch, example) means, as
        :func:`~labelnoise.common.units.reduce_units` does, by :meth:`flush`: at the end of
        the epoch, before a checkpoint, or once the pending values reach
        :attr:`max_pending` (bounded memory for many-unit tasks)."""
        ids = units.example_id
        if unit_loss.shape != ids.shape or unit_loss.dim() != 1:
            raise ValueError(
                f"unit_loss and example_id must both have shape (U,); got "
                f"{tuple(unit_loss.shape)} and {tuple(ids.shape)}"
            )
        pred, target = units.pred.detach(), units.target
        if target.requires_grad:  # (integer ids and class targets never do)
            target = target.detach()
        if ids.requires_grad:
            ids = ids.detach()
        self._pending.append((ids, unit_loss.detach(), pred, target, batch_index))
        self._pending_units += pred.numel() + 3 * ids.shape[0]
        if self._pending_units >= self.max_pending:
            self.flush()

    @torch.no_grad()
    def flush(self) -> None:
        """Reduce the pending batches (:meth:`_reduce`), like with like: consecutive batches
        whose predictions and targets have the same layout are concatenated."""
        pending, self._pending, self._pending_units = self._pending, [], 0
        run: list[tuple[Tensor, Tensor, Tensor, Tensor, int]] = []
        last = None
        for p in pending:
            if p[0].numel() == 0:
                continue
            layout = _layout(p)
            if run and layout != last:
                self._reduce(run)
                run = []
            run.append(p)
            last = layout
        if run:
            self._reduce(run)

    def _reduce(self, pending: list[tuple[Tensor, Tensor, Tensor, Tensor, int]]) -> None:
        """Reduce batches to per-(batch, example) means in one vectorised pass on the CPU
        (one transfer from the device). The same numbers as reducing each batch on its own:
        the units are grouped by ``(batch, example)``, sorted like the batches then the
        examples, and each group's units are added in their order."""
        ids = _cat([p[0] for p in pending]).long().cpu()
        loss = _cat([p[1] for p in pending]).float().cpu()
        sizes = [p[0].shape[0] for p in pending]  # numpy: a fifth of repeat_interleave's time
        batch = torch.from_numpy(np.repeat(np.array([p[4] for p in pending], np.int64), sizes))
        low, high = (int(v) for v in torch.aminmax(ids))
        if low < 0:
            raise ValueError(f"example_id must be >= 0; got {low}")
        width = high + 1
        if ids.shape[0] <= width and np.bincount(ids.numpy(), minlength=width).max() <= 1:
            # every example once (one unit per example, seen once): each unit is its own
            # (batch, example) group and its mean is its value (``+ 0.0``: as the sum into
            # zeros, -0.0 becomes 0.0); the records' order differs (unit order, not sorted by
            # (batch, example)), which no reader depends on (ids are unique)
            self._unique = not self._chunks
            self._chunks.append(self._one_per_example(pending, ids, loss, batch, self.probs))
            return
        self._unique = False
        key, inverse, counts = _group(batch * width + ids, int(batch.min()) * width)

        def mean(v: Tensor) -> Tensor:  # reduce_units(v, ids, how="mean")[1] per batch
            if not v.is_floating_point():
                v = v.double()
            total = torch.zeros((key.shape[0], *v.shape[1:]), dtype=v.dtype).index_add_(
                0, inverse, v
            )
            return total / (counts.to(v.dtype) if v.dim() == 1 else counts.unsqueeze(1))

        probs = None
        if pending[0][2].dim() == 2:  # class logits: mean softmax and margin over the units
            pred = _cat([p[2] for p in pending]).float().cpu()
            margin = mean(unit_margin(pred, _cat([p[3] for p in pending]).cpu()))
            if self.probs:
                probs = mean(_softmax(pred))
        else:  # no margin (what unit_margin gives, without a pass over the units)
            margin = torch.full((key.shape[0],), float("nan"))
        chunk = {
            "example_id": key % width,
            "loss": mean(loss),
            "margin": margin,
            "batch": key // width,
        }
        if probs is not None:
            chunk["probs"] = probs
        self._chunks.append(chunk)

    @staticmethod
    def _one_per_example(
        pending: list[tuple[Tensor, Tensor, Tensor, Tensor, int]],
        ids: Tensor,
        loss: Tensor,
        batch: Tensor,
        probs: bool,
    ) -> dict[str, Tensor]:
        """:meth:`_reduce`'s records when no example has two units in ``pending``."""
        chunk = {"example_id": ids, "loss": loss + 0.0, "batch": batch}
        first = pending[0][3]  # the batches share the target layout (flush's grouping)
        hard = first.dim() == 1 and not first.is_floating_point()  # else no margin
        if pending[0][2].dim() == 2 and (hard or probs):
            pred = _cat([p[2] for p in pending]).float().cpu()
            if hard:
                target = _cat([p[3] for p in pending]).cpu()
                chunk["margin"] = unit_margin(pred, target).add_(0.0)
            if probs:  # >= +0.0 or NaN: the sum into zeros would not change it
                chunk["probs"] = _softmax(pred)
        if "margin" not in chunk:  # what unit_margin gives, without reading the predictions
            chunk["margin"] = torch.full((ids.shape[0],), float("nan"))
        return chunk

    def end_epoch(self, accelerator: Any) -> None:
        """Gather this epoch's records across processes and store them."""
        self.flush()
        chunks = self._chunks
        if self._unique and len(chunks) == 1 and accelerator.num_processes == 1:
            # one record per example, one process: what gather_records returns
            rec = {k: v for k, v in chunks[0].items() if k != "batch"}
        else:
            keys = chunks[0].keys() if chunks else ("example_id", "loss", "margin", "batch")
            local = {
                k: torch.cat([c[k] for c in chunks]) if chunks else torch.empty(0) for k in keys
            }
            local["example_id"] = local["example_id"].long()
            local["batch"] = local["batch"].long()
            rec = gather_records(accelerator, local)
        ids = rec["example_id"]
        # ids are unique here (gathered records keep one per example): index_copy_ is
        # ``loss[ids] = ...`` at half the cost; loss and margin in one (2, n) tensor
        loss, margin = torch.full((2, self.n), float("nan")).index_copy_(
            1, ids, torch.stack([rec["loss"].float(), rec["margin"].float()])
        )
        self.loss.append(loss)
        self.margin.append(margin)
        if "probs" in rec:
            if self.probs_sum is None:
                self.probs_sum = torch.zeros(self.n, rec["probs"].shape[1])
            self.probs_sum[ids] += rec["probs"]
            self.probs_count[ids] += 1
        self._chunks, self._unique = [], False

    def mean_probs(self) -> np.ndarray | None:
        """``(N, C)`` softmax averaged over the epochs each example was seen (None if n/a)."""
        if self.probs_sum is None:
            return None
        return (self.probs_sum / self.probs_count.clamp_min(1).unsqueeze(1)).numpy()

    def arrays(self) -> dict[str, np.ndarray]:
        """``loss`` and ``margin``, each ``(epochs, N)`` (NaN where an example was not seen)."""
        if not self.loss:
            return {"loss": np.zeros((0, self.n)), "margin": np.zeros((0, self.n))}
        return {
            "loss": torch.stack(self.loss).numpy(),
            "margin": torch.stack(self.margin).numpy(),
        }

    def state_dict(self) -> dict[str, Any]:
        self.flush()  # the epoch so far, reduced (the same records as batch by batch)
        # one (epochs, n) tensor each: a list of per-epoch tensors pickles one record per
        # tensor, which grows with every epoch's checkpoint
        return {
            "loss": torch.stack(self.loss) if self.loss else [],
            "margin": torch.stack(self.margin) if self.margin else [],
            "probs_sum": self.probs_sum,
            "probs_count": self.probs_count,
            "chunks": list(self._chunks),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.loss, self.margin = list(state["loss"]), list(state["margin"])
        self.probs_sum, self.probs_count = state["probs_sum"], state["probs_count"]
        self._chunks, self._unique = list(state["chunks"]), False
        self._pending, self._pending_units = [], 0
