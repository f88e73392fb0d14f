"""``rent``: per-sample weights from an estimated transition matrix, drawn through a Dirichlet
distribution (DWS) or by resampling (RENT).

Bae, Shin, Na & Moon, "Dirichlet-based Per-Sample Weighting by Transition Matrix for Noisy
Label Learning", ICLR 2024. With ``T[i, j] = P(noisy = j | clean = i)`` and the network's
softmax ``p(x)`` read as the clean posterior, the importance weight of an example with noisy
label ``y~`` is (Liu & Tao, TPAMI 2016)::

    w(x, y~) = p_y~(x) / sum_i p_i(x) T[i, y~]            # P(y = y~ | x) / P(noisy = y~ | x)

and the risk ``sum_n v_n loss_n`` is minimised with per-sample weights ``v`` drawn each step:

* ``sampling: resample`` (RENT, default): ``M = round(ratio * B)`` indices drawn with
  replacement from ``w / sum w``; ``v_n = count_n / M`` (the paper's resampled cross-entropy);
* ``sampling: dirichlet`` (DWS): ``v ~ Dirichlet(alpha * w)``, averaged over ``draws`` draws
  (the paper draws ``B``); a small ``alpha`` adds risk variance (their robustness analysis),
  ``alpha -> inf`` is reweighting;
* ``sampling: reweight`` (importance reweighting): ``v = w / B``.

``w`` is computed from the detached logits, so no gradient flows through the weights.

**The phases, in the one loop.** For ``warmup_epochs`` epochs the step is the standard step
(the configured loss and selector). At the start of the next epoch the network predicts the
whole training split in eval mode and ``T`` is estimated with the core's estimators
(:func:`~labelnoise.common.detection.estimate_transition_anchor`, the anchor points of
Patrini et al. at the 0.97 quantile as in the authors' code, or
:func:`~labelnoise.common.detection.estimate_transition_confident_joint`); a recipe may give
``T`` instead (``transition:``, rows = clean classes). Then every step uses the drawn weights
on the configured loss (cross-entropy in the paper). ``T`` is part of the checkpointed state
and is written to ``transition.npy`` after training.

Simplified from the authors' code: their anchor estimate uses the softmax recorded during the
last warm-up epoch (train mode, moving weights); we use one eval-mode pass after it. The
configured selector is not applied after the warm-up.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from labelnoise.methods.base import StepOutput
from labelnoise.methods.standard import Standard

__all__ = ["Rent", "RentOptions", "draw_weights", "importance_weights"]


@dataclass
class RentOptions:
    """The recipe's ``method:`` options.

    Attributes:
        warmup_epochs: standard epochs before ``T`` is estimated, ``>= 1`` (default 5).
        sampling: ``resample`` (RENT, default), ``dirichlet`` (DWS) or ``reweight``.
        ratio: draws per batch over the batch size for ``resample`` (> 0, default 1.0).
        alpha: Dirichlet concentration for ``dirichlet`` (> 0, default 1.0).
        draws: Dirichlet draws averaged per step (>= 1, default 1).
        estimator: ``anchor`` (default) or ``confident_joint``, when ``transition`` is null.
        quantile: the anchor quantile (default 0.97, as in the authors' code).
        transition: a given ``C x C`` matrix (rows: clean class), or null to estimate it.
    """

    warmup_epochs: int = 5
    sampling: Literal["resample", "dirichlet", "reweight"] = "resample"
    ratio: float = 1.0
    alpha: float = 1.0
    draws: int = 1
    estimator: Literal["anchor", "confident_joint"] = "anchor"
    quantile: float = 0.97
    transition: list[list[float]] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.warmup_epochs, bool) or self.warmup_epochs < 1:
            raise ValueError(f"method.warmup_epochs must be >= 1; got {self.warmup_epochs!r}")
        for key in ("ratio", "alpha"):
            v = getattr(self, key)
            if not np.isfinite(v) or v <= 0:
                raise ValueError(f"method.{key} must be a finite number > 0; got {v!r}")
        if isinstance(self.draws, bool) or self.draws < 1:
            raise ValueError(f"method.draws must be >= 1; got {self.draws!r}")
        if not 0.0 < self.quantile <= 1.0:
            raise ValueError(f"method.quantile must be in (0, 1]; got {self.quantile!r}")
        if self.transition is not None:
            from labelnoise.common.transition import TransitionMatrix

            try:
                TransitionMatrix(self.transition, atol=1e-3)
            except ValueError as e:
                raise ValueError(f"method.transition: {e}") from None


def importance_weights(logits: Tensor, noisy: Tensor, transition: Tensor) -> Tensor:
    """``(B,)`` ``p_y~(x) / sum_i p_i(x) T[i, y~]`` from ``logits (B, C)``, ``noisy (B,)``
    and ``transition (C, C)`` (row-stochastic, rows = clean class); computed without grad."""
    with torch.no_grad():
        p = logits.detach().float().softmax(-1)
        t = transition.to(p.device, p.dtype)
        y = noisy.long().reshape(-1, 1)
        clean = p.gather(1, y).squeeze(1)
        noisy_p = (p @ t).gather(1, y).squeeze(1)
        return (clean + 1e-12) / (noisy_p + 1e-12)


def draw_weights(
    w: Tensor,
    sampling: str,
    *,
    ratio: float = 1.0,
    alpha: float = 1.0,
    draws: int = 1,
) -> Tensor:
    """``(B,)`` per-sample weights ``v`` (summing to 1) drawn from importance weights ``w (B,)``.

    ``resample``: multinomial counts of ``round(ratio * B)`` draws over ``w / sum w``, over the
    number of draws; ``dirichlet``: the mean of ``draws`` samples of ``Dirichlet(alpha * w)``;
    ``reweight``: ``w / B`` (sums to ``mean(w)``, not 1: the unnormalised importance risk).
    """
    b = w.numel()
    if sampling == "reweight":
        return w / b
    if sampling == "resample":
        m = max(1, round(ratio * b))
        idx = torch.multinomial(w / w.sum(), m, replacement=True)
        return torch.bincount(idx, minlength=b).to(w.dtype) / m
    if sampling == "dirichlet":
        conc = (alpha * w).clamp_min(1e-6).double()
        v = torch.distributions.Dirichlet(conc).sample((draws,))  # (draws, B)
        return v.mean(0).to(w.dtype)
    raise ValueError(f"sampling must be resample, dirichlet or reweight; got {sampling!r}")


class Rent(Standard):
    """Warm-up, estimate ``T``, then Dirichlet / resampled importance weights (module doc)."""

    name = "rent"
    Options = RentOptions
    tasks = frozenset({"classification", "graph"})

    def __init__(self, options: Any, run: Any) -> None:
        super().__init__(options, run)
        given = options.transition
        self.transition: Tensor | None = (
            torch.tensor(given, dtype=torch.float64) if given is not None else None
        )
        self.estimated = False

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        from labelnoise.methods.registry import method_options

        opts = method_options(cfg.method.name, cfg.method.options)
        if opts.warmup_epochs >= cfg.train.epochs:  # legal (a smoke run), but it is plain CE
            warnings.warn(
                f"method.warmup_epochs ({opts.warmup_epochs}) >= train.epochs "
                f"({cfg.train.epochs}): T is never estimated and the run is plain cross-entropy",
                UserWarning,
                stacklevel=2,
            )

    def epoch_batches(self, epoch: int, skip: int) -> Iterable[Any] | None:
        if epoch >= self.options.warmup_epochs and not self.estimated:
            if self.transition is None:
                self.transition = self._estimate()
            self._check_size(self.transition)
            self.estimated = True
        return None

    def _check_size(self, t: Tensor) -> None:
        k = self.run.splits.num_classes
        if k is not None and tuple(t.shape) != (k, k):
            raise ValueError(f"method.transition must be {k} x {k}; got {tuple(t.shape)}")

    def _estimate(self) -> Tensor:
        from labelnoise.common.detection import (
            estimate_transition_anchor,
            estimate_transition_confident_joint,
        )
        from labelnoise.engine.collect import evaluate_units
        from labelnoise.engine.data import eval_loader

        run, acc = self.run, self.run.accelerator
        loader = eval_loader(
            run.train_split,
            run.adapter,
            batch_size=run.cfg.data.eval_batch_size,
            num_process=acc.num_processes,
            process_index=acc.process_index,
        )
        units = evaluate_units(run.adapter, self.nets[0].model, loader, acc, shrink=False)
        order = torch.argsort(units.example_id)
        probs = units.pred[order].double().softmax(-1).numpy()
        if self.options.estimator == "anchor":
            t = estimate_transition_anchor(probs, quantile=self.options.quantile)
        else:
            t = estimate_transition_confident_joint(units.target[order].numpy(), probs)
        return t.matrix.clone()

    def step(self, batch: Any) -> StepOutput:
        if self.transition is None or not self.estimated:  # the warm-up
            return super().step(batch)
        net, run = self.nets[0], self.run
        units = run.adapter.units(net.model, batch)
        unit_loss = net.loss_fn(units.pred, units.target, units.loss_id)
        self.check_finite(unit_loss)
        w = importance_weights(units.pred, units.target, self.transition)
        o = self.options
        v = draw_weights(w, o.sampling, ratio=o.ratio, alpha=o.alpha, draws=o.draws)
        if units.weight is not None:
            v = v * units.weight
        return StepOutput((v.to(unit_loss.dtype) * unit_loss).sum(), units, unit_loss)

    def after_training(self) -> None:
        if self.transition is not None and self.run.accelerator.is_main_process:
            np.save(self.run.run_dir / "transition.npy", self.transition.numpy())

    def state_dict(self) -> dict[str, Any]:
        return {"transition": self.transition, "estimated": self.estimated}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.transition, self.estimated = state["transition"], state["estimated"]
