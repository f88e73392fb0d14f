"""``mixture_refit``: a robust pilot, a clean / uniform-noise mixture on its residuals, and a
refit weighted by the clean posterior (regression, symmetric target noise).

1. **Pilot.** A first, noise-robust estimate ``f`` of the clean regression function:
   ``pilot: trimmed`` (default) a network of this run trained with the trimmed MSE (least
   trimmed squares, Rousseeuw 1984: the ``trim`` largest squared errors of each batch get no
   gradient); ``pilot: linear`` a linear model fitted in closed form by the mixture EM itself
   (:func:`labelnoise.common.detection.regression.fit_linear_uniform_mixture`, which also gives
   step 2's posterior): seed-free and stable on a few hundred rows, where a flexible pilot
   trained on noisy targets varies from seed to seed.
2. **Mixture on its residuals.** The training targets are modelled as
   ``(1 - rho) N(a + b f(x), sigma^2) + rho U[min y, max y]`` and EM (Aitkin & Wilson,
   Technometrics 1980; :func:`labelnoise.common.detection.regression.fit_uniform_mixture`)
   gives each target its posterior probability ``w_i`` of being clean. No noise rate needed.
3. **Refit.** A fresh network (network 0) is trained with the configured loss (``mse`` in the
   recipes), each unit weighted by ``w_i`` (times the configured selector's weight). With
   ``rounds > 1``, steps 2-3 repeat with the last refitted network as ``f``, each round on a
   fresh network (a linear pilot cannot follow a nonlinear target; one more round can).

In the one loop: the pilot and every round are networks of this method (``num_networks =
rounds`` + 1 for a trimmed pilot), trained one after the other in *phases*; ``train.epochs``
is shared equally (the last phase gets the remainder), and each network runs the configured
LR schedule over its own phase (:mod:`labelnoise.tasks.regression.phases`), so e.g. a recipe
with 40 epochs per fit says ``epochs: 80`` with a trimmed pilot. The mixture is fitted at
the start of the phase that needs it, on the whole training split in eval mode; model
selection only considers the last phase (network 0 is untrained before it), and
``train.early_stopping`` is refused with more than one phase. The weights are part of the
checkpointed state. Stage 3 is one M-step of EM with the network as the mean function.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from labelnoise.common.detection.regression import (
    fit_linear_uniform_mixture,
    fit_uniform_mixture,
)
from labelnoise.common.losses.regression import trimmed_mse
from labelnoise.methods.base import StepOutput
from labelnoise.methods.standard import Standard
from labelnoise.tasks.regression.phases import PhaseSchedules, split_epochs, stack_split

__all__ = ["MixtureRefit", "MixtureRefitOptions", "PilotRefit"]


def _check_rounds_trim(rounds: Any, trim: Any) -> None:
    if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 1:
        raise ValueError(f"method.rounds must be an integer >= 1; got {rounds!r}")
    if not 0.0 <= trim < 1.0:
        raise ValueError(f"method.trim must be in [0, 1); got {trim!r}")


@dataclass
class MixtureRefitOptions:
    """The recipe's ``method:`` options.

    Attributes:
        pilot: ``trimmed`` (a trimmed-MSE network, default) or ``linear`` (closed form).
        rounds: mixture + refit rounds, ``>= 1`` (default 1).
        trim: fraction of each batch the trimmed pilot drops, in ``[0, 1)`` (default 0.3).
    """

    pilot: Literal["trimmed", "linear"] = "trimmed"
    rounds: int = 1
    trim: float = 0.3

    def __post_init__(self) -> None:
        if self.pilot not in ("trimmed", "linear"):
            raise ValueError(f"method.pilot must be 'trimmed' or 'linear'; got {self.pilot!r}")
        _check_rounds_trim(self.rounds, self.trim)


class PilotRefit(Standard):
    """A pilot phase (trimmed-MSE network or closed form), then weighted refit phases.

    Subclasses set :attr:`trimmed_pilot` and implement :meth:`weights_from` (``(N,)`` weights
    of the training targets from ``(N,)`` predictions of the previous phase's network) and,
    for a closed-form pilot, :meth:`closed_form_weights`.
    """

    tasks = frozenset({"regression"})
    single_process = True

    def __init__(self, options: Any, run: Any) -> None:
        super().__init__(options, run)
        self.phases = self.num_phases(options)
        # per instance: the count depends on the options; phase p trains network phases-1-p
        self.num_networks = self.phases
        epochs = split_epochs(run.cfg.train.epochs, [1.0 / self.phases] * self.phases)
        self.phase_end = np.cumsum(epochs).tolist()
        self.schedules = PhaseSchedules()
        self.weight: Tensor | None = None  # (N,) of the current refit phase
        self.weight_phase = -1  # the phase the weights were fitted for
        self.noise_rate = float("nan")
        self.data: dict[str, Tensor] = {}

    # ------------------------------------------------------------------ subclass interface

    @classmethod
    def num_phases(cls, options: Any) -> int:
        return options.rounds + int(cls.trimmed_pilot(options))

    @classmethod
    def trimmed_pilot(cls, options: Any) -> bool:
        return True

    def closed_form_weights(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def weights_from(self, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # ------------------------------------------------------------------ config-time checks

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        from labelnoise.methods.registry import method_options

        opts = method_options(cfg.method.name, cfg.method.options)
        if cls.num_phases(opts) > 1 and cfg.train.early_stopping is not None:
            raise ValueError(
                f"train.early_stopping must be null for method {cls.name!r} with more than one "
                f"phase (network 0 only trains in the last); got {cfg.train.early_stopping!r}"
            )
        if getattr(cfg.task.options, "variance_head", False) and cls.trimmed_pilot(opts):
            raise ValueError(
                f"task.variance_head must be false for method {cls.name!r} (the pilot's trimmed "
                "MSE takes one output); got true"
            )

    # ------------------------------------------------------------------ hooks

    def phase_of(self, epoch: int) -> int:
        return next(p for p, end in enumerate(self.phase_end) if epoch < end)

    def train_dataset(self, train: Any) -> Any:
        self.data = stack_split(self.run.adapter, train)
        return train

    def setup(self, nets: Any, selector: Any) -> None:
        super().setup(nets, selector)
        self.schedules.install(self.nets, self.run.cfg)

    def epoch_batches(self, epoch: int, skip: int) -> Iterable[Any] | None:
        p = self.phase_of(epoch)
        k = self.phases - 1 - p
        if k not in self.schedules.start:  # the phase starts: schedule, weights, selection
            state, cfg = self.run.state, self.run.cfg
            per_epoch = math.ceil(len(self.run.train_loader) / cfg.train.grad_accum)
            first = self.phase_end[p - 1] if p else 0
            self.schedules.begin(k, state.step, (self.phase_end[p] - first) * per_epoch)
            self._fit_weights(p)
            if k == 0:  # model selection only among network 0's epochs
                state.best_value, state.best_epoch, state.bad_evals = None, None, 0
        return None

    def _fit_weights(self, p: int) -> None:
        if self.trimmed_pilot(self.options) and p == 0:
            return  # the pilot trains unweighted
        y = self.data["target"].double().numpy()
        if p == 0:
            w = self.closed_form_weights(self.data["x"].double().numpy(), y)
        else:
            prev = self.nets[self.phases - p].model  # the previous phase's network
            w = self.weights_from(y, self._predict(prev))
        self.weight = torch.as_tensor(w, dtype=torch.float32)
        self.weight_phase = p

    @torch.no_grad()
    def _predict(self, model: torch.nn.Module) -> np.ndarray:
        acc = self.run.accelerator
        model.eval()
        out = acc.unwrap_model(model)(self.data["x"].to(acc.device)).float().cpu()
        model.train()
        return (out[:, 0] if out.dim() == 2 else out).double().numpy()

    def step(self, batch: Any) -> StepOutput:
        run = self.run
        p = self.phase_of(run.state.epoch)
        net = self.nets[self.phases - 1 - p]
        if self.weight is not None:  # a refit: the standard step times the clean weights
            return self.weighted_step(net.model, batch, net=net, example_weight=self.weight)
        units = run.adapter.units(net.model, batch)  # the trimmed pilot
        unit_loss = trimmed_mse(units.pred, units.target, trim=self.options.trim, reduction="none")
        self.check_finite(unit_loss)
        loss = trimmed_mse(units.pred, units.target, trim=self.options.trim)
        return StepOutput(loss, units, unit_loss)

    def after_training(self) -> None:
        """Write ``clean_weights.npz``: the last refit's weights ``(N,)`` by example id, and
        the noisy and clean training targets (standardised) beside them."""
        if self.weight is None or not self.run.accelerator.is_main_process:
            return
        np.savez(
            self.run.run_dir / "clean_weights.npz",
            weight=self.weight.numpy(),
            target=self.data["target"].numpy(),
            clean_target=self.data["clean_target"].numpy(),
            noise_rate=np.float64(self.noise_rate),
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "schedules": self.schedules.state_dict(),
            "weight": self.weight,
            "weight_phase": self.weight_phase,
            "noise_rate": self.noise_rate,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.schedules.load_state_dict(state["schedules"])
        self.weight, self.weight_phase = state["weight"], state["weight_phase"]
        self.noise_rate = state["noise_rate"]


class MixtureRefit(PilotRefit):
    """Pilot, mixture posterior on its residuals, weighted refit (module docstring)."""

    name = "mixture_refit"
    Options = MixtureRefitOptions

    @classmethod
    def trimmed_pilot(cls, options: Any) -> bool:
        return options.pilot == "trimmed"

    def closed_form_weights(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self._posterior(fit_linear_uniform_mixture(y, x))

    def weights_from(self, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
        return self._posterior(fit_uniform_mixture(y, pred))

    def _posterior(self, mix: Any) -> np.ndarray:
        self.noise_rate = float(mix.noise_rate)
        post = np.asarray(mix.clean_posterior, dtype=np.float64)
        return post if post.max() > 0 else np.ones_like(post)
