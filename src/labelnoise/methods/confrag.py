"""``confrag``: ConFrag, sample selection by contrastive fragmentation, then a regressor on
the selected samples (regression).

Kim, Moon, Moon, Woo & Kim, "Sample Selection via Contrastive Fragmentation for Noisy Label
Regression", NeurIPS 2024 (arXiv:2502.17771). The noisy target range is cut into ``F``
equal-count fragments; fragment ``j`` is paired with ``j + F/2`` (the maximally contrasting
pairing) and each pair trains an *expert*, a two-way classifier on the samples whose noisy
target falls in one of its fragments, on a jittered window of the sorted targets each epoch.
The experts of a sample's fragment and of its neighbours then vote -- head probability and
K-nearest-neighbour agreement in the expert's feature space -- and the samples scoring
``>= threshold`` are kept; the regressor trains on them only. The arithmetic is in
:mod:`labelnoise.tasks.regression.confrag`.

How the experts train through the loop (the choice): they are networks 1..F/2 of this
method (``num_networks = 1 + F/2``), not sub-runs. The run has two phases: the first
``round(expert_share * train.epochs)`` epochs train every expert -- one loop step takes one
batch of each expert's pair and back-propagates the sum of their losses, so the experts stay
independent -- and the rest train network 0, the regressor, on the selected samples with the
configured loss and selector. The selection runs once, at the start of the regressor phase.
One run therefore holds the whole method: one run directory, one checkpoint (the selection
and the phase schedules are in the method's state), and an exact resume anywhere, which
sub-runs would have to chain by hand.

Simplifications (said, not hidden): an expert is the task's network (``task.hidden``), its
feature space the last hidden layer and its two-way head the network's single output as a
logit (a 2-way softmax is a sigmoid of the logit difference), trained with binary
cross-entropy; the reference's expert is a separate ``hidden + (32,)`` body. The experts use
AdamW at a constant LR with their own weight decay (``expert_weight_decay``, the reference's
1e-4), the regressor the configured optimizer and schedule over its phase
(:mod:`labelnoise.tasks.regression.phases`). ``after_training`` writes
``confrag_selection.npz`` (``score``, ``selected``, ``fragment`` by example id, and the noisy
and clean standardised targets).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from labelnoise.methods.base import StepOutput
from labelnoise.methods.standard import Standard
from labelnoise.tasks.regression.confrag import (
    agreement_score,
    contrastive_pairs,
    expert_votes,
    fragment_of,
    jittered_window,
)
from labelnoise.tasks.regression.phases import PhaseSchedules, split_epochs, stack_split

__all__ = ["ConFrag", "ConFragOptions"]


@dataclass
class ConFragOptions:
    """The recipe's ``method:`` options (defaults: the paper's 4 fragments, K = 5, 0.95).

    Attributes:
        fragments: ``F``, even, ``>= 2``.
        neighbors: ``K`` of the neighbourhood agreement, ``>= 1``.
        coverage: share of the sorted targets in each epoch's jittered window, in ``(0, 1]``.
        threshold: score at or above which a sample is kept, in ``[0, 1]``.
        expert_share: share of ``train.epochs`` that trains the experts, in ``(0, 1)``
            (e.g. 0.6 of 100 epochs: 60 expert and 40 regressor epochs).
        expert_weight_decay: AdamW weight decay of the experts (None: ``optim.weight_decay``).
    """

    fragments: int = 4
    neighbors: int = 5
    coverage: float = 0.95
    threshold: float = 0.5
    expert_share: float = 0.5
    expert_weight_decay: float | None = 1e-4

    def __post_init__(self) -> None:
        if not isinstance(self.fragments, int) or self.fragments < 2 or self.fragments % 2:
            raise ValueError(
                f"method.fragments must be an even integer >= 2; got {self.fragments!r}"
            )
        if self.neighbors < 1:
            raise ValueError(f"method.neighbors must be >= 1; got {self.neighbors!r}")
        if not 0.0 < self.coverage <= 1.0:
            raise ValueError(f"method.coverage must be in (0, 1]; got {self.coverage!r}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"method.threshold must be in [0, 1]; got {self.threshold!r}")
        if not 0.0 < self.expert_share < 1.0:
            raise ValueError(f"method.expert_share must be in (0, 1); got {self.expert_share!r}")
        if self.expert_weight_decay is not None and self.expert_weight_decay < 0:
            raise ValueError(
                f"method.expert_weight_decay must be >= 0 or null; got {self.expert_weight_decay!r}"
            )


class ConFrag(Standard):
    """Experts on contrastive fragment pairs, selection, regressor (module docstring)."""

    name = "confrag"
    Options = ConFragOptions
    tasks = frozenset({"regression"})
    single_process = True

    def __init__(self, options: ConFragOptions, run: Any) -> None:
        super().__init__(options, run)
        self.pairs = contrastive_pairs(options.fragments)
        # per instance (depends on method.fragments): 0 the regressor, 1 + p pair p's expert
        self.num_networks = 1 + len(self.pairs)
        e = run.cfg.train.epochs
        self.expert_epochs = split_epochs(e, [options.expert_share, 1 - options.expert_share])[0]
        self.schedules = PhaseSchedules()
        self.selected: torch.Tensor | None = None  # (N,) bool
        self.score: torch.Tensor | None = None
        self.data: dict[str, torch.Tensor] = {}

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        if cfg.train.early_stopping is not None:
            raise ValueError(
                "train.early_stopping must be null for method 'confrag' (network 0 only trains "
                f"after the experts); got {cfg.train.early_stopping!r}"
            )
        if getattr(cfg.task.options, "variance_head", False):
            raise ValueError("task.variance_head must be false for method 'confrag'; got true")

    def train_dataset(self, train: Any) -> Any:
        self.data = stack_split(self.run.adapter, train)
        if len(train) < 2 * self.options.fragments:
            raise ValueError(
                f"the training split must hold at least {2 * self.options.fragments} rows for "
                f"method.fragments={self.options.fragments}; got {len(train)}"
            )
        return train

    def setup(self, nets: Any, selector: Any) -> None:
        super().setup(nets, selector)
        experts = list(range(1, self.num_networks))
        self.schedules.install(self.nets, self.run.cfg, constant=experts)
        for k in experts:
            self.schedules.begin(k, 0, 1)
            if self.options.expert_weight_decay is not None:
                for group in self.nets[k].optimizer.param_groups:
                    group["weight_decay"] = self.options.expert_weight_decay

    # ------------------------------------------------------------------ batches

    def epoch_batches(self, epoch: int, skip: int) -> Iterable[Any] | None:
        if epoch < self.expert_epochs:
            return self._expert_batches(epoch, skip)
        if self.selected is None:  # the regressor phase starts: select once
            keep = int(self._select().sum())
            bs, cfg = self.run.cfg.data.batch_size, self.run.cfg
            per_epoch = math.ceil(math.ceil(keep / bs) / cfg.train.grad_accum)
            length = (cfg.train.epochs - self.expert_epochs) * per_epoch
            self.schedules.begin(0, self.run.state.step, length)
            state = self.run.state  # model selection only among the regressor's epochs
            state.best_value, state.best_epoch, state.bad_evals = None, None, 0
        return self._regressor_batches(epoch, skip)

    def _rng(self, epoch: int, phase: int) -> np.random.Generator:
        return np.random.default_rng([self.run.cfg.seed, phase, epoch])

    def _expert_batches(self, epoch: int, skip: int) -> Iterator[dict[str, Any]]:
        """One batch per expert per step (an expert out of batches sits the step out)."""
        rng, o = self._rng(epoch, 0), self.options
        y = self.data["target"].numpy()
        window, frag = jittered_window(y, o.fragments, o.coverage, rng)
        bs, dev = self.run.cfg.data.batch_size, self.run.accelerator.device
        per_expert = []
        for a, b in self.pairs:
            mine = (frag == a) | (frag == b)
            idx, label = window[mine], (frag[mine] == b).astype(np.float32)
            perm = rng.permutation(idx.size)
            per_expert.append((idx[perm], label[perm]))
        steps = max(math.ceil(idx.size / bs) for idx, _ in per_expert)
        for s in range(skip, steps):
            parts = []
            for idx, label in per_expert:
                sl = slice(s * bs, (s + 1) * bs)
                parts.append((self.data["x"][idx[sl]].to(dev), torch.from_numpy(label[sl]).to(dev)))
            yield {"experts": parts}

    def _regressor_batches(self, epoch: int, skip: int) -> Iterator[dict[str, Any]]:
        assert self.selected is not None
        keep = np.flatnonzero(self.selected.numpy())
        keep = keep[self._rng(epoch, 1).permutation(keep.size)]
        bs, dev = self.run.cfg.data.batch_size, self.run.accelerator.device
        for s in range(skip, math.ceil(keep.size / bs)):
            idx = torch.from_numpy(keep[s * bs : (s + 1) * bs])
            yield {k: self.data[k][idx].to(dev) for k in ("x", "target", "example_id")}

    # ------------------------------------------------------------------ step and selection

    def step(self, batch: Any) -> StepOutput:
        if "experts" not in batch:
            return self.weighted_step(self.nets[0].model, batch)
        losses = []
        for k, (x, label) in enumerate(batch["experts"], start=1):
            if label.numel():
                logit = self.nets[k].model(x).reshape(-1)
                losses.append(F.binary_cross_entropy_with_logits(logit, label))
        loss = torch.stack(losses).sum()
        self.check_finite(loss.detach().reshape(1))
        return StepOutput(loss)

    @torch.no_grad()
    def _select(self) -> torch.Tensor:
        """Score every training sample with the experts; keep and return the selection."""
        acc, o = self.run.accelerator, self.options
        x = self.data["x"].to(acc.device)
        y = self.data["target"].numpy()
        frag, _ = fragment_of(y, o.fragments)
        votes = np.zeros((y.size, o.fragments))
        for p, pair in enumerate(self.pairs):
            model = acc.unwrap_model(self.nets[1 + p].model)
            model.eval()
            feats = model.embed(x).float().cpu().numpy()
            prob_b = torch.sigmoid(model(x).reshape(-1).float()).cpu().numpy()
            model.train()
            votes[:, pair[0]], votes[:, pair[1]] = expert_votes(
                feats, prob_b, frag, pair, o.neighbors
            )
        score = agreement_score(votes, frag)
        sel = score >= o.threshold
        if sel.sum() < 2:  # too few kept: train on everything
            sel = np.ones_like(sel)
        self.score, self.selected = torch.from_numpy(score), torch.from_numpy(sel)
        return self.selected

    def after_training(self) -> None:
        if self.selected is None or self.score is None or not self.run.accelerator.is_main_process:
            return
        np.savez(
            self.run.run_dir / "confrag_selection.npz",
            score=self.score.numpy(),
            selected=self.selected.numpy(),
            fragment=fragment_of(self.data["target"].numpy(), self.options.fragments)[0],
            target=self.data["target"].numpy(),
            clean_target=self.data["clean_target"].numpy(),
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "schedules": self.schedules.state_dict(),
            "selected": self.selected,
            "score": self.score,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.schedules.load_state_dict(state["schedules"])
        self.selected, self.score = state["selected"], state["score"]
