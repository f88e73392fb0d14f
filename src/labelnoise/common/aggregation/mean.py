"""Mean of numeric answers."""

from __future__ import annotations

import numpy as np

from labelnoise.common.aggregation._base import Answers, NumericAggregator

__all__ = ["MeanAggregator"]


class MeanAggregator(NumericAggregator):
    """The mean answer per item (numeric ratings, e.g. Snow et al. 2008's emotion scores).

    Fitted: ``labels_`` (float Series per item), ``stderr_`` (standard error of the mean).
    """

    def _fit(self, answers: Answers) -> np.ndarray:
        n = answers.n_items
        total = np.bincount(answers.item, weights=answers.label, minlength=n)
        return total / np.bincount(answers.item, minlength=n)
