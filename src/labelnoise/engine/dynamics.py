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
    assigned = pred.gather(1, target.view(-1, 1)).squeeze(1)
    other = pred.scatter(1, target.view(-1, 1), float("-inf")).amax(1)
    return assigned - other


class Dynamics:
    """Collects per-example loss / margin (and mean softmax) over epochs for ``n`` examples."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.loss: list[Tensor] = []
        self.margin: list[Tensor] = []
        self.probs_sum: Tensor | None = None
        self.probs_count = torch.zeros(n)
        self._chunks: list[dict[str, Tensor]] = []

    @torch.no_grad()
    def record(self, units: Units, unit_loss: Tensor, batch_index: int) -> None:
        """Add one training batch (per-unit values are reduced to per-example means, as
        :func:`~labelnoise.common.units.reduce_units` does, with one ``unique`` for all)."""
        ids = units.example_id.detach().long().cpu()
        if ids.numel() == 0:
            return
        pred = units.pred.detach().float().cpu()
        target = units.target.detach().cpu()
        ex, inverse = torch.unique(ids, return_inverse=True)
        counts = torch.bincount(inverse, minlength=ex.shape[0])

        def mean(v: Tensor) -> Tensor:  # reduce_units(v, ids, how="mean")[1]
            if not v.is_floating_point():
                v = v.double()
            total = torch.zeros((ex.shape[0], *v.shape[1:]), dtype=v.dtype).index_add_(
                0, inverse, v
            )
            return total / (counts.to(v.dtype) if v.dim() == 1 else counts.unsqueeze(1))

        loss = unit_loss.detach().float().cpu()
        if loss.shape != ids.shape or loss.dim() != 1:
            raise ValueError(
                f"unit_loss and example_id must both have shape (U,); got {tuple(loss.shape)} "
                f"and {tuple(ids.shape)}"
            )
        chunk = {
            "example_id": ex,
            "loss": mean(loss),
            "margin": mean(unit_margin(pred, target)),
            "batch": torch.full_like(ex, batch_index),
        }
        if pred.dim() == 2:  # mean softmax over the example's units (ex is sorted)
            chunk["probs"] = mean(pred.softmax(1))
        self._chunks.append(chunk)

    def end_epoch(self, accelerator: Any) -> None:
        """Gather this epoch's records across processes and store them."""
        chunks = self._chunks
        keys = chunks[0].keys() if chunks else ("example_id", "loss", "margin", "batch")
        local = {k: torch.cat([c[k] for c in chunks]) if chunks else torch.empty(0) for k in keys}
        local["example_id"] = local["example_id"].long()
        local["batch"] = local["batch"].long()
        rec = gather_records(accelerator, local)
        ids = rec["example_id"]
        loss = torch.full((self.n,), float("nan"))
        margin = torch.full((self.n,), float("nan"))
        loss[ids], margin[ids] = rec["loss"].float(), rec["margin"].float()
        self.loss.append(loss)
        self.margin.append(margin)
        if "probs" in rec:
            if self.probs_sum is None:
                self.probs_sum = torch.zeros(self.n, rec["probs"].shape[1])
            self.probs_sum[ids] += rec["probs"]
            self.probs_count[ids] += 1
        self._chunks = []

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
        self._chunks = list(state["chunks"])
