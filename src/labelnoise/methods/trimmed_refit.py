"""``trimmed_refit``: a trimmed-MSE pilot, then a refit on the targets it fits best
(regression).

The select-then-refit form of least trimmed squares (Rousseeuw 1984; the "concentration
step" of Rousseeuw & Van Driessen, Data Min. Knowl. Disc. 2006, with a network as the
regression function):

1. **Pilot.** A network of this run trained with the trimmed MSE (in each batch the ``trim``
   largest squared errors get no gradient).
2. **Trim.** The ``ceil(trim * N)`` training targets with the largest absolute residual
   ``|y_i - f(x_i)|`` under the pilot are dropped (weight 0); the rest keep weight 1.
3. **Refit.** A fresh network (network 0) is trained with the configured loss on the kept
   targets (the configured selector's weights times the 0 / 1 weights). With ``rounds > 1``
   steps 2-3 repeat with the last refitted network as the pilot (more concentration steps).

Unlike ``mixture_refit`` the trimmed fraction is given (set ``trim`` near the noise rate);
the refit's hard 0 / 1 weights are the oracle "corrupted dropped" when the pilot ranks the
corrupted targets last. The phases (pilot, rounds), their share of ``train.epochs``, their
LR schedules, selection and checkpointing are those of ``mixture_refit``
(:class:`labelnoise.methods.mixture_refit.PilotRefit`): a recipe with 40 epochs per fit says
``epochs: 80``. ``after_training`` writes ``clean_weights.npz`` (the 0 / 1 weights).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from labelnoise.methods.mixture_refit import PilotRefit, _check_rounds_trim

__all__ = ["TrimmedRefit", "TrimmedRefitOptions", "trim_weights"]


@dataclass
class TrimmedRefitOptions:
    """The recipe's ``method:`` options.

    Attributes:
        trim: fraction of each pilot batch dropped, and of the training targets dropped
            before each refit, in ``[0, 1)`` (default 0.3).
        rounds: trim + refit rounds, ``>= 1`` (default 1).
    """

    trim: float = 0.3
    rounds: int = 1

    def __post_init__(self) -> None:
        _check_rounds_trim(self.rounds, self.trim)


def trim_weights(y: np.ndarray, pred: np.ndarray, trim: float) -> np.ndarray:
    """``(N,)`` 0 / 1 weights: 0 for the ``ceil(trim * N)`` largest ``|y - pred|`` (ties
    broken by index), 1 for the others."""
    resid = np.abs(np.asarray(y, dtype=np.float64) - np.asarray(pred, dtype=np.float64))
    n_drop = min(math.ceil(trim * resid.size), resid.size - 1)
    w = np.ones(resid.size)
    if n_drop > 0:
        w[np.argsort(-resid, kind="stable")[:n_drop]] = 0.0
    return w


class TrimmedRefit(PilotRefit):
    """Trimmed-MSE pilot, drop the worst-fitted targets, refit (module docstring)."""

    name = "trimmed_refit"
    Options = TrimmedRefitOptions

    def weights_from(self, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
        w = trim_weights(y, pred, self.options.trim)
        self.noise_rate = float(1.0 - w.mean())
        return w
