"""Select-then-refit with a clean / uniform-noise mixture on the residuals of a robust fit.

A two-stage method for symmetric target noise (uniform replacement):

1. **Robust fit.** An MLP trained with the trimmed MSE (least trimmed squares, Rousseeuw
   1984; the ``trim`` largest squared errors of each batch get no gradient).
2. **Mixture on its residuals.** The training labels are modelled as
   ``(1 - rho) N(a + b f(x), sigma^2) + rho U[min y, max y]`` with ``f`` the robust fit, and
   EM (Aitkin & Wilson, Technometrics 1980;
   :func:`labelnoise.common.detection.regression.fit_uniform_mixture`) gives each sample its
   posterior probability of being clean. No noise rate is needed: ``rho`` is estimated.
3. **Refit.** A fresh MLP is trained with the MSE, each sample weighted by its posterior --
   the same network, epochs and number of optimisation steps as any other fit, so the soft
   selection costs one extra training run and no change of schedule.

Stage 3 is one M-step of EM for the mixture with the network as the mean function; the
posterior weights of clean labels stay close to 1, so the refit keeps the efficiency of the
MSE on them while the corrupted ones (weight close to 0) no longer pull it towards the centre
of the target range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelnoise.common.detection.regression import fit_uniform_mixture
from labelnoise.tasks.regression.training import FittedMLP, TrainConfig, _check_xy, fit_mlp

__all__ = ["MixtureRefit", "fit_mixture_refit"]


@dataclass(frozen=True)
class MixtureRefit:
    """Result of :func:`fit_mixture_refit`.

    Attributes:
        robust: the stage-1 trimmed-MSE model.
        weight: ``(N,)`` posterior probability that each training label is clean.
        noise_rate: the mixture's estimate of the corrupted fraction.
    """

    robust: FittedMLP
    weight: np.ndarray
    noise_rate: float


def fit_mixture_refit(
    x: np.ndarray,
    y: np.ndarray,
    *,
    trim: float = 0.3,
    config: TrainConfig | None = None,
    seed: int = 0,
) -> tuple[FittedMLP, MixtureRefit]:
    """Robust fit, mixture posterior on its residuals, weighted MSE refit (module docstring).

    Args:
        x: ``(N, D)`` features; y: ``(N,)`` noisy targets.
        trim: fraction of each batch the stage-1 trimmed MSE drops, in ``[0, 1)`` (default
            0.3, the trimmed method's setting in the benchmark).
        config: :class:`TrainConfig` of both MLPs.
        seed: initialisation and shuffling seed of both MLPs.

    Returns:
        ``(refitted model, MixtureRefit)``.
    """
    x, y = _check_xy(x, y)
    if not 0.0 <= trim < 1.0:
        raise ValueError(f"trim must be in [0, 1); got {trim!r}")
    robust = fit_mlp(
        x, y, loss="trimmed_mse", loss_options={"trim": trim}, config=config, seed=seed
    )
    mix = fit_uniform_mixture(y, robust.predict(x))
    weight = mix.clean_posterior if mix.clean_posterior.max() > 0 else np.ones_like(y)
    model = fit_mlp(x, y, sample_weight=weight, config=config, seed=seed)
    return model, MixtureRefit(robust, weight, mix.noise_rate)
