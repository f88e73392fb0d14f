"""``late_stopping``: rounds of positive-sample selection by the first-k-epoch-learning (FkL)
criterion, then a final network on the selected examples.

Yuan, Feng & Liu, "Late Stopping: Avoiding Confidently Learning from Mislabeled Examples",
ICCV 2023. Clean examples are learned early and stay learned; mislabeled ones are learned late
and unstably. An example is *FkL-learned* at the first epoch where the network has predicted
its (noisy) label ``k`` epochs in a row. Each selection round:

1. a fresh network (re-initialised, optimizer state cleared) trains on the current set;
2. after every epoch the network predicts the current set in eval mode; after the round's
   ``warmup_epochs`` each example's run of consecutive correct predictions is counted, and an
   example enters the round's FkL set when its run first reaches ``k``;
3. the round stops once the FkL set holds ``N * remove_rate ** r`` examples (round ``r``
   counted from 1, ``N`` the full training split, as in the authors' code), or after
   ``max_round_epochs``; the FkL set becomes the next round's training set.

``k`` grows over the rounds (``k_schedule``, default ``[1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]``:
the authors' 4 + 4 + 4 rounds of k = 1, 2, 3). Then a final fresh network trains on the last
set for the remaining epochs of ``train.epochs``; it is the one evaluated and selected (model
selection starts with it). When the rounds are not done ``final_epochs`` before the end of
``train.epochs``, the final round starts anyway (the set so far is kept).

Simplified: the LR schedule is the run's (the authors restart SGD per round and use a step
schedule in the final round; use ``scheduler: constant`` for rounds of equal footing); a round
shorter than ``warmup_epochs + k`` epochs cannot select. ``after_training`` writes
``late_stopping.npz`` (the final set as a 0 / 1 mask and each round's size). One process.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import Subset

from labelnoise.methods.standard import Standard

__all__ = ["LateStopping", "LateStoppingOptions", "fkl_update"]


@dataclass
class LateStoppingOptions:
    """The recipe's ``method:`` options.

    Attributes:
        k_schedule: ``k`` of each selection round (default 4 x 1, 4 x 2, 4 x 3).
        remove_rate: the kept fraction per round, in (0, 1] (default 0.98).
        warmup_epochs: epochs of each round before FkL counting starts, >= 0 (default 6).
        max_round_epochs: the longest a round may train, >= 1 (default 100).
        final_epochs: epochs kept for the final network, >= 1 (default 20).
    """

    k_schedule: list[int] = field(default_factory=lambda: [1] * 4 + [2] * 4 + [3] * 4)
    remove_rate: float = 0.98
    warmup_epochs: int = 6
    max_round_epochs: int = 100
    final_epochs: int = 20

    def __post_init__(self) -> None:
        if not self.k_schedule or any(int(k) < 1 for k in self.k_schedule):
            raise ValueError(f"method.k_schedule must be integers >= 1; got {self.k_schedule!r}")
        if not 0.0 < self.remove_rate <= 1.0:
            raise ValueError(f"method.remove_rate must be in (0, 1]; got {self.remove_rate!r}")
        if self.warmup_epochs < 0:
            raise ValueError(f"method.warmup_epochs must be >= 0; got {self.warmup_epochs!r}")
        for key in ("max_round_epochs", "final_epochs"):
            if getattr(self, key) < 1:
                raise ValueError(f"method.{key} must be >= 1; got {getattr(self, key)!r}")


def fkl_update(run: np.ndarray, correct: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """One epoch of FkL counting: ``run (n,)`` consecutive correct predictions so far,
    ``correct (n,)`` bool this epoch; returns the new runs and the ``(n,)`` mask of examples
    whose run reaches ``k`` for the first time this epoch."""
    new = np.where(correct, run + 1, 0)
    return new, (new == k) & (run < k) & correct


class LateStopping(Standard):
    """Rounds of FkL selection, then a final network on the selected set (module docstring)."""

    name = "late_stopping"
    Options = LateStoppingOptions
    tasks = frozenset({"classification"})
    single_process = True

    def __init__(self, options: Any, run: Any) -> None:
        super().__init__(options, run)
        self.round = 0  # selection rounds 0 .. R-1, then the final round R
        self.round_start = 0  # epoch the current round started at
        self.started = -1  # the round whose fresh network was initialised
        self.members: np.ndarray | None = None  # (n,) example ids of the current set
        self.runs = np.zeros(0, dtype=np.int64)  # consecutive correct predictions (members)
        self.learned = np.zeros(0, dtype=bool)  # FkL-learned in this round (members)
        self.sizes: list[int] = []

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        from labelnoise.methods.registry import method_options

        opts = method_options(cfg.method.name, cfg.method.options)
        if opts.final_epochs >= cfg.train.epochs:
            raise ValueError(
                f"method.final_epochs must be < train.epochs ({cfg.train.epochs}); got "
                f"{opts.final_epochs}"
            )
        if cfg.train.early_stopping is not None:
            raise ValueError(
                "train.early_stopping must be null for method 'late_stopping' (the rounds "
                f"end by FkL counts); got {cfg.train.early_stopping!r}"
            )

    # ------------------------------------------------------------------ hooks

    @property
    def final(self) -> bool:
        return self.round >= len(self.options.k_schedule)

    def epoch_batches(self, epoch: int, skip: int) -> Iterable[Any] | None:
        run = self.run
        if self.members is None:
            self.members = np.arange(len(run.train_split))
            self._reset_counts()
        if not self.final and run.cfg.train.epochs - epoch <= self.options.final_epochs:
            self.round = len(self.options.k_schedule)  # out of budget: the final round now
            self.round_start = epoch
        if self.started != self.round:
            self._fresh_network()
            self.started = self.round
            if self.final:  # model selection only among the final network's epochs
                state = run.state
                state.best_value, state.best_epoch, state.bad_evals = None, None, 0
        return self._batches(epoch, skip)

    def _batches(self, epoch: int, skip: int) -> Iterator[Any]:
        from labelnoise.engine.data import make_loader
        from labelnoise.tasks.base import move_to

        run = self.run
        assert self.members is not None
        subset = Subset(run.train_split, self.members.tolist())
        loader = make_loader(
            subset,
            run.adapter,
            batch_size=run.cfg.data.batch_size,
            seed=run.cfg.seed,
            shuffle=True,
            num_workers=run.cfg.data.num_workers,
        )
        loader.sampler.set_epoch(epoch)  # type: ignore[attr-defined]
        for b, batch in enumerate(loader):
            if b >= skip:
                yield move_to(batch, run.accelerator.device)

    def _fresh_network(self) -> None:
        """Re-initialise network 0 from ``(seed, round)`` and clear its optimizer state."""
        net, seed = self.nets[0], self.run.cfg.seed
        model = self.run.accelerator.unwrap_model(net.model)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed * 1_000 + self.round)
            for m in model.modules():
                if m is not model and hasattr(m, "reset_parameters"):
                    m.reset_parameters()
        opt = getattr(net.optimizer, "optimizer", net.optimizer)
        opt.state.clear()

    def _reset_counts(self) -> None:
        assert self.members is not None
        self.runs = np.zeros(len(self.members), dtype=np.int64)
        self.learned = np.zeros(len(self.members), dtype=bool)

    def on_epoch_end(self, epoch: int) -> None:
        if self.final:
            return
        opts, n_all = self.options, len(self.run.train_split)
        in_round = epoch - self.round_start + 1  # epochs trained in this round
        if in_round > opts.warmup_epochs:
            correct = self._correct()
            k = int(opts.k_schedule[self.round])
            self.runs, first = fkl_update(self.runs, correct, k)
            self.learned |= first
        target = int(n_all * opts.remove_rate ** (self.round + 1))
        if int(self.learned.sum()) >= max(target, 1) or in_round >= opts.max_round_epochs:
            assert self.members is not None
            if self.learned.any():
                self.members = self.members[self.learned]
            self.sizes.append(len(self.members))
            self.round += 1
            self.round_start = epoch + 1
            self._reset_counts()

    @torch.no_grad()
    def _correct(self) -> np.ndarray:
        """``(n,)`` does the network predict each member's given label (eval mode)?"""
        from labelnoise.engine.collect import evaluate_units
        from labelnoise.engine.data import eval_loader

        run, acc = self.run, self.run.accelerator
        assert self.members is not None
        subset = Subset(run.train_split, self.members.tolist())
        loader = eval_loader(subset, run.adapter, batch_size=run.cfg.data.eval_batch_size)
        units = evaluate_units(run.adapter, self.nets[0].model, loader, acc, shrink=False)
        pred = units.pred.argmax(-1).numpy()
        ok = pred == units.target.long().numpy()
        pos = {int(i): j for j, i in enumerate(self.members)}
        out = np.zeros(len(self.members), dtype=bool)
        out[[pos[int(i)] for i in units.example_id]] = ok
        return out

    def after_training(self) -> None:
        if not self.run.accelerator.is_main_process or self.members is None:
            return
        mask = np.zeros(len(self.run.train_split), dtype=bool)
        mask[self.members] = True
        np.savez(self.run.run_dir / "late_stopping.npz", selected=mask, sizes=np.array(self.sizes))

    def state_dict(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "round_start": self.round_start,
            "started": self.started,
            "members": None if self.members is None else torch.as_tensor(self.members),
            "runs": torch.as_tensor(self.runs),
            "learned": torch.as_tensor(self.learned),
            "sizes": list(self.sizes),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.round, self.round_start = state["round"], state["round_start"]
        self.started = state["started"]
        m = state["members"]
        self.members = None if m is None else m.numpy()
        self.runs, self.learned = state["runs"].numpy(), state["learned"].numpy()
        self.sizes = list(state["sizes"])
