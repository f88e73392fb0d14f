"""Beta-mixture clean probability on per-example loss: Arazo et al., "Unsupervised label noise
modeling and loss correction", ICML 2019."""

from __future__ import annotations

import numpy as np

from labelnoise.common.selection._base import Gather, check_int
from labelnoise.common.selection._memory import LossMixtureSelector
from labelnoise.common.selection.mixture import fit_bmm_1d

__all__ = ["BMMSelector"]


class BMMSelector(LossMixtureSelector):
    """Two-beta mixture on the epoch's per-example losses (EM with ``max_iter`` steps, default
    10 as the paper). The clean posterior is used as the weight (``soft=True``, default, as in
    the paper's dynamic bootstrapping) or thresholded at ``p_threshold``.
    """

    def __init__(
        self,
        *,
        num_examples: int,
        gather: Gather | None = None,
        p_threshold: float = 0.5,
        soft: bool = True,
        warmup_epochs: int = 1,
        max_iter: int = 10,
    ) -> None:
        super().__init__(
            num_examples=num_examples,
            gather=gather,
            p_threshold=p_threshold,
            soft=soft,
            warmup_epochs=warmup_epochs,
        )
        self.max_iter = check_int("max_iter", max_iter, 1)

    def _fit(self, losses: np.ndarray) -> np.ndarray:
        return fit_bmm_1d(losses, max_iter=self.max_iter)
