"""``aum``: area under the margin with threshold samples, then a network on the kept examples.

Pleiss, Zhang, Elenberg & Weinberger, "Identifying Mislabeled Data using the Area Under the
Margin Ranking", NeurIPS 2020. The margin of an example at a step is ``z_y - max_{k != y} z_k``
(its assigned logit over the largest other); its AUM is the mean margin over the training
steps. Mislabeled examples have low (negative) AUMs. Which AUM is low enough is learned from
*threshold samples*: ``N / (C + 1)`` examples deliberately relabelled to a fake class ``C``
(a ``C + 1``-way network), so they are mislabeled by construction; the threshold is the
``percentile``-th (99th) percentile of their AUMs.

In the one loop, ``passes`` identification phases (default 2, as in the paper) each train a
fresh ``C + 1``-way network for ``identify_epochs`` epochs with their own threshold set (the
sets are disjoint, so most examples are scored in every pass and each is scored in at least
``passes - 1``); an example is flagged when its AUM falls below the pass's threshold in every
pass that scored it. Then network 0 (``C``-way) trains on the unflagged examples for the rest
of ``train.epochs`` with the configured loss; it alone is evaluated and selected (model
selection starts with its phase). Each phase runs the configured LR schedule over its own
steps (the paper identifies before the first LR drop: use a constant schedule or enough
epochs). ``after_training`` writes ``aum.npz`` (per pass: AUM, threshold-sample mask,
threshold; the final keep mask). One process.

Simplified: the paper's identification networks train on all examples with the threshold
labels, as here, but stop at the first LR decay; the flag rule for examples scored twice
(both passes) is our reading.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from labelnoise.common.selection.aum import margins
from labelnoise.methods.base import StepOutput, weighted_mean
from labelnoise.methods.standard import Standard
from labelnoise.tasks.regression.phases import PhaseSchedules

__all__ = ["Aum", "AumOptions", "threshold_sets"]


@dataclass
class AumOptions:
    """The recipe's ``method:`` options.

    Attributes:
        identify_epochs: epochs of each identification network, >= 1 (default 20).
        passes: identification passes with disjoint threshold sets, >= 1 (default 2).
        percentile: the threshold samples' AUM percentile, in [0, 100] (default 99).
        threshold_fraction: share of threshold samples per pass (null: ``1 / (C + 1)``).
    """

    identify_epochs: int = 20
    passes: int = 2
    percentile: float = 99.0
    threshold_fraction: float | None = None

    def __post_init__(self) -> None:
        for key in ("identify_epochs", "passes"):
            if getattr(self, key) < 1:
                raise ValueError(f"method.{key} must be >= 1; got {getattr(self, key)!r}")
        if not 0.0 <= self.percentile <= 100.0:
            raise ValueError(f"method.percentile must be in [0, 100]; got {self.percentile!r}")
        f = self.threshold_fraction
        if f is not None and not (0.0 < f and f * self.passes <= 1.0):
            raise ValueError(
                f"method.threshold_fraction must be in (0, 1 / passes]; got {f!r} "
                f"with {self.passes} passes"
            )


def threshold_sets(n: int, size: int, passes: int, seed: int) -> Tensor:
    """``(passes, n)`` bool: disjoint random threshold sets of ``size`` examples each."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    out = torch.zeros(passes, n, dtype=torch.bool)
    for p in range(passes):
        out[p, perm[p * size : (p + 1) * size]] = True
    return out


class Aum(Standard):
    """AUM identification passes, then a network on the kept examples (module docstring)."""

    name = "aum"
    Options = AumOptions
    tasks = frozenset({"classification"})
    single_process = True

    def __init__(self, options: Any, run: Any) -> None:
        super().__init__(options, run)
        self.passes = options.passes
        self.num_networks = options.passes + 1  # network 0 = the final C-way one
        n, c = len(run.splits.train), int(run.splits.num_classes)
        frac = options.threshold_fraction or 1.0 / (c + 1)
        self.is_threshold = threshold_sets(n, int(round(frac * n)), self.passes, run.cfg.seed)
        self.margin_sum = torch.zeros(self.passes, n, dtype=torch.float64)
        self.margin_count = torch.zeros(self.passes, n, dtype=torch.float64)
        self.thresholds = torch.full((self.passes,), float("nan"), dtype=torch.float64)
        self.keep: Tensor | None = None
        self.schedules = PhaseSchedules()
        self.num_classes = c
        self._built = 0

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        from labelnoise.methods.registry import method_options

        opts = method_options(cfg.method.name, cfg.method.options)
        need = opts.identify_epochs * opts.passes
        if cfg.train.epochs <= need:
            raise ValueError(
                f"train.epochs must exceed method.identify_epochs x method.passes ({need}) for "
                f"method 'aum' (the final network trains after); got {cfg.train.epochs}"
            )
        if cfg.train.early_stopping is not None:
            raise ValueError(
                "train.early_stopping must be null for method 'aum'; got "
                f"{cfg.train.early_stopping!r}"
            )

    def build_model(self, splits: Any) -> nn.Module:
        k, self._built = self._built, self._built + 1
        if k == 0:
            return super().build_model(splits)
        wider = dataclasses.replace(splits, num_classes=self.num_classes + 1)
        return self.run.adapter.build_model(wider)  # an identification network: C + 1 way

    def setup(self, nets: Any, selector: Any) -> None:
        super().setup(nets, selector)
        self.schedules.install(self.nets, self.run.cfg)

    def phase_of(self, epoch: int) -> int:
        """0 .. passes-1: identification passes; ``passes``: the final network."""
        return min(epoch // self.options.identify_epochs, self.passes)

    def epoch_batches(self, epoch: int, skip: int) -> Iterable[Any] | None:
        p = self.phase_of(epoch)
        k = (p + 1) % self.num_networks  # identification pass p trains network p + 1
        if k not in self.schedules.start:
            run, cfg = self.run, self.run.cfg
            per_epoch = math.ceil(len(run.train_loader) / cfg.train.grad_accum)
            first = p * self.options.identify_epochs
            last = cfg.train.epochs if p == self.passes else first + self.options.identify_epochs
            self.schedules.begin(k, run.state.step, (last - first) * per_epoch)
            if p == self.passes:
                self._flag()
                state = run.state  # model selection among network 0's epochs only
                state.best_value, state.best_epoch, state.bad_evals = None, None, 0
        return None

    def _flag(self) -> None:
        aum = self.margin_sum / self.margin_count.clamp_min(1)
        below = torch.ones(aum.shape[1], dtype=torch.bool)
        for p in range(self.passes):
            ref = aum[p][self.is_threshold[p] & (self.margin_count[p] > 0)]
            thr = float(np.percentile(ref.numpy(), self.options.percentile)) if ref.numel() else 0.0
            self.thresholds[p] = thr
            scored = ~self.is_threshold[p] & (self.margin_count[p] > 0)
            below &= ~scored | (aum[p] < thr)  # flagged in every pass that scored it
        scored_any = ((~self.is_threshold) & (self.margin_count > 0)).any(0)
        self.keep = (~(below & scored_any)).float()

    def step(self, batch: Any) -> StepOutput:
        p = self.phase_of(self.run.state.epoch)
        if p == self.passes:
            return self.weighted_step(self.nets[0].model, batch, example_weight=self.keep)
        net = self.nets[p + 1]
        units = self.run.adapter.units(net.model, batch)
        ids = units.example_id.long()
        flag = self.is_threshold[p].to(ids.device)[ids]
        target = torch.where(flag, torch.full_like(units.target, self.num_classes), units.target)
        unit_loss = net.loss_fn(units.pred, target, units.loss_id)
        self.check_finite(unit_loss)
        m = margins(units.pred, target).double().cpu()
        self.margin_sum[p].index_add_(0, ids.cpu(), m)
        self.margin_count[p].index_add_(0, ids.cpu(), torch.ones_like(m))
        w = torch.ones_like(unit_loss) if units.weight is None else units.weight
        return StepOutput(weighted_mean(w, unit_loss))

    def after_training(self) -> None:
        if not self.run.accelerator.is_main_process or self.keep is None:
            return
        aum = self.margin_sum / self.margin_count.clamp_min(1)
        np.savez(
            self.run.run_dir / "aum.npz",
            aum=aum.numpy(),
            is_threshold=self.is_threshold.numpy(),
            threshold=self.thresholds.numpy(),
            keep=self.keep.numpy(),
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "schedules": self.schedules.state_dict(),
            "margin_sum": self.margin_sum,
            "margin_count": self.margin_count,
            "thresholds": self.thresholds,
            "keep": self.keep,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.schedules.load_state_dict(state["schedules"])
        self.margin_sum, self.margin_count = state["margin_sum"], state["margin_count"]
        self.thresholds, self.keep = state["thresholds"], state["keep"]
