"""GMM clean/noisy split on per-example loss: Li, Socher & Hoi, "DivideMix: learning with noisy
labels as semi-supervised learning", ICLR 2020."""

from __future__ import annotations

import numpy as np

from labelnoise.common._checks import check_in_range
from labelnoise.common.selection._base import Gather, check_int
from labelnoise.common.selection._memory import LossMixtureSelector
from labelnoise.common.selection.mixture import fit_gmm_1d

__all__ = ["GMMSelector"]


class GMMSelector(LossMixtureSelector):
    """Two-Gaussian mixture on the epoch's min-max normalised per-example losses; weight 1 for
    examples whose clean posterior exceeds ``p_threshold`` (DivideMix: 0.5), or the posterior
    itself with ``soft=True``. EM settings default to DivideMix's (``max_iter=10, tol=1e-2,
    reg_covar=5e-4``). See :class:`~._memory.LossMixtureSelector` for the other options.
    """

    def __init__(
        self,
        *,
        num_examples: int,
        gather: Gather | None = None,
        p_threshold: float = 0.5,
        soft: bool = False,
        warmup_epochs: int = 1,
        max_iter: int = 10,
        tol: float = 1e-2,
        reg_covar: float = 5e-4,
    ) -> None:
        super().__init__(
            num_examples=num_examples,
            gather=gather,
            p_threshold=p_threshold,
            soft=soft,
            warmup_epochs=warmup_epochs,
        )
        self.max_iter = check_int("max_iter", max_iter, 1)
        self.tol = check_in_range("tol", tol, 0.0, float("inf"))
        self.reg_covar = check_in_range("reg_covar", reg_covar, 0.0, float("inf"))

    def _fit(self, losses: np.ndarray) -> np.ndarray:
        return fit_gmm_1d(losses, max_iter=self.max_iter, tol=self.tol, reg_covar=self.reg_covar)
