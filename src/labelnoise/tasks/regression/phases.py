"""Phases of a multi-network regression method inside the one loop.

The regression methods ``mixture_refit``, ``trimmed_refit`` and ``confrag``
(:mod:`labelnoise.methods`) train several networks one after the other within one run of
:func:`labelnoise.engine.train`: a pilot (or ConFrag's experts) first, then the refitted
regressor (network 0). Each network trains only in its own phase and gets its own learning-rate
schedule over its phase -- the configured ``optim.scheduler`` (warm-up, cosine, ...) run over
the phase's steps, as if it were a run of its own -- so a refit after a pilot sees the same
schedule as a standalone run. Outside its phase a network receives no gradient (the optimizer
skips parameters without one).

:func:`split_epochs` shares ``train.epochs`` between phases; :class:`PhaseSchedules` replaces
the loop's schedulers of the networks (``Net.scheduler``) by phase-local ones. The phase
starts and lengths are part of the method's checkpointed state (:meth:`state_dict`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch

__all__ = ["PhaseSchedules", "split_epochs", "stack_split"]


def split_epochs(epochs: int, shares: Sequence[float]) -> list[int]:
    """Epochs of each phase: ``round(share * epochs)`` for every phase but the last, which gets
    the rest (so they sum to ``epochs``; a phase may get 0 epochs when ``epochs`` is tiny)."""
    out: list[int] = []
    for s in shares[:-1]:
        out.append(min(int(round(s * epochs)), epochs - sum(out)))
    out.append(epochs - sum(out))
    return out


def stack_split(adapter: Any, dataset: Any) -> dict[str, torch.Tensor]:
    """Every item of ``dataset`` collated into one batch (the regression splits are small)."""
    return adapter.collate([dataset[i] for i in range(len(dataset))])


class PhaseSchedules:
    """Phase-local LR schedules of a method's networks.

    ``install(nets, cfg)`` replaces every network's scheduler by a ``LambdaLR`` on the same
    optimizer whose factor at loop step ``s`` is the configured schedule's factor at
    ``s - start[k]`` over ``length[k]`` steps (before the phase starts: its first factor).
    ``begin(k, start, length)`` fixes network ``k``'s phase when it is known.
    ``constant`` lists networks with a constant factor (ConFrag's experts, as the reference).
    """

    def __init__(self) -> None:
        self.start: dict[int, int] = {}
        self.length: dict[int, int] = {}
        self._factors: dict[tuple[int, bool], Callable[[int], float]] = {}
        self._cfg: Any = None
        self._constant: set[int] = set()

    def install(self, nets: Sequence[Any], cfg: Any, constant: Sequence[int] = ()) -> None:
        self._cfg, self._constant = cfg, set(constant)
        for k, net in enumerate(nets):
            raw = getattr(net.optimizer, "optimizer", net.optimizer)  # AcceleratedOptimizer
            net.scheduler = torch.optim.lr_scheduler.LambdaLR(raw, self._factor_fn(k))

    def begin(self, k: int, start: int, length: int) -> None:
        self.start[k], self.length[k] = int(start), max(1, int(length))

    def _factor_fn(self, k: int) -> Callable[[int], float]:
        def factor(step: int) -> float:
            if k not in self.start:
                return self._base(k, 1)(0)
            return self._base(k, self.length[k])(max(0, step - self.start[k]))

        return factor

    def _base(self, k: int, length: int) -> Callable[[int], float]:
        """The configured schedule's factor over ``length`` steps (from ``build_optimizer``)."""
        from labelnoise.engine.setup import build_optimizer

        constant = k in self._constant
        key = (length, constant)
        if key not in self._factors:
            cfg = self._cfg
            if constant:
                optim = dataclasses.replace(cfg.optim, scheduler="constant", warmup_steps=0)
                cfg = dataclasses.replace(cfg, optim=optim)
            dummy = [torch.zeros(1, requires_grad=True)]
            self._factors[key] = build_optimizer(cfg, dummy, length)[1].lr_lambdas[0]
        return self._factors[key]

    def state_dict(self) -> dict[str, Any]:
        return {"start": dict(self.start), "length": dict(self.length)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.start = {int(k): int(v) for k, v in state["start"].items()}
        self.length = {int(k): int(v) for k, v in state["length"].items()}
