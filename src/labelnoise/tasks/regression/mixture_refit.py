"""Select-then-refit with a clean / uniform-noise mixture on the residuals of a robust fit.

A two-stage method for symmetric target noise (uniform replacement):

1. **Pilot.** A first, noise-robust estimate of the clean regression function:
   ``pilot="trimmed"`` (default) an MLP trained with the trimmed MSE (least trimmed squares,
   Rousseeuw 1984; the ``trim`` largest squared errors of each batch get no gradient), or
   ``pilot="linear"`` a linear model fitted by the mixture EM itself
   (:func:`labelnoise.common.detection.regression.fit_linear_uniform_mixture`, which also
   gives step 2's posterior): seed-free and stable on a few hundred rows, where a flexible
   pilot trained on noisy targets varies from seed to seed.
2. **Mixture on its residuals.** The training labels are modelled as
   ``(1 - rho) N(a + b f(x), sigma^2) + rho U[min y, max y]`` with ``f`` the pilot, and
   EM (Aitkin & Wilson, Technometrics 1980;
   :func:`labelnoise.common.detection.regression.fit_uniform_mixture`) gives each sample its
   posterior probability of being clean. No noise rate is needed: ``rho`` is estimated.
3. **Refit.** A fresh MLP is trained with the MSE, each sample weighted by its posterior --
   the same network, epochs and number of optimisation steps as any other fit. With
   ``rounds > 1`` steps 2-3 repeat with the refitted MLP as ``f`` (a linear pilot cannot
   follow a nonlinear target; one more round with the MLP can).

Stage 3 is one M-step of EM for the mixture with the network as the mean function; the
posterior weights of clean labels stay close to 1, so the refit keeps the efficiency of the
MSE on them while the corrupted ones (weight close to 0) no longer pull it towards the centre
of the target range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from labelnoise.common.detection.regression import (
    fit_linear_uniform_mixture,
    fit_uniform_mixture,
)
from labelnoise.tasks.regression.training import FittedMLP, TrainConfig, _check_xy, fit_mlp

__all__ = ["MixtureRefit", "fit_mixture_refit"]


@dataclass(frozen=True)
class MixtureRefit:
    """Result of :func:`fit_mixture_refit`.

    Attributes:
        pilot: ``(N,)`` the pilot's predictions of the training targets.
        weight: ``(N,)`` posterior probability that each training label is clean (last round).
        noise_rate: the mixture's estimate of the corrupted fraction (last round).
    """

    pilot: np.ndarray
    weight: np.ndarray
    noise_rate: float


def fit_mixture_refit(
    x: np.ndarray,
    y: np.ndarray,
    *,
    pilot: Literal["trimmed", "linear"] = "trimmed",
    rounds: int = 1,
    trim: float = 0.3,
    config: TrainConfig | None = None,
    seed: int = 0,
) -> tuple[FittedMLP, MixtureRefit]:
    """Robust pilot, mixture posterior on its residuals, weighted MSE refit (module docstring).

    Args:
        x: ``(N, D)`` features; y: ``(N,)`` noisy targets.
        pilot: ``"trimmed"`` (a trimmed-MSE MLP, default) or ``"linear"`` (mixture-EM linear
            regression on the standardised features).
        rounds: mixture + refit rounds, ``>= 1`` (default 1).
        trim: fraction of each batch the trimmed-MSE pilot drops, in ``[0, 1)`` (default
            0.3, the trimmed method's setting in the benchmark; unused by the linear pilot).
        config: :class:`TrainConfig` of every MLP.
        seed: initialisation and shuffling seed of every MLP.

    Returns:
        ``(refitted model, MixtureRefit)``.
    """
    x, y = _check_xy(x, y)
    if pilot not in ("trimmed", "linear"):
        raise ValueError(f"pilot must be 'trimmed' or 'linear'; got {pilot!r}")
    if not isinstance(rounds, (int, np.integer)) or isinstance(rounds, bool) or rounds < 1:
        raise ValueError(f"rounds must be an integer >= 1; got {rounds!r}")
    if not 0.0 <= trim < 1.0:
        raise ValueError(f"trim must be in [0, 1); got {trim!r}")
    if pilot == "linear":
        sd = x.std(0)
        mix = fit_linear_uniform_mixture(y, (x - x.mean(0)) / np.where(sd > 0, sd, 1.0))
        first = mix.fitted
    else:
        robust = fit_mlp(
            x, y, loss="trimmed_mse", loss_options={"trim": trim}, config=config, seed=seed
        )
        first = robust.predict(x)
        mix = fit_uniform_mixture(y, first)
    for r in range(int(rounds)):
        weight = mix.clean_posterior if mix.clean_posterior.max() > 0 else np.ones_like(y)
        model = fit_mlp(x, y, sample_weight=weight, config=config, seed=seed)
        if r + 1 < rounds:
            mix = fit_uniform_mixture(y, model.predict(x))
    return model, MixtureRefit(first, weight, mix.noise_rate)
