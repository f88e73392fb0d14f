"""Median of numeric answers."""

from __future__ import annotations

import numpy as np

from labelnoise.common.aggregation._base import Answers, NumericAggregator

__all__ = ["MedianAggregator"]


def item_medians(item: np.ndarray, value: np.ndarray, n_items: int) -> np.ndarray:
    """``(N,)`` median of ``value`` per item code (mean of the two middle values when even)."""
    order = np.lexsort((value, item))
    v = value[order]
    counts = np.bincount(item, minlength=n_items)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    lo = start + (counts - 1) // 2
    hi = start + counts // 2
    return (v[lo] + v[hi]) / 2


class MedianAggregator(NumericAggregator):
    """The median answer per item; robust to a minority of outlying raters.

    Fitted: ``labels_`` (float Series per item), ``stderr_`` (root mean squared deviation
    from the median over the square root of the answer count).
    """

    def _fit(self, answers: Answers) -> np.ndarray:
        return item_medians(answers.item, answers.label, answers.n_items)
