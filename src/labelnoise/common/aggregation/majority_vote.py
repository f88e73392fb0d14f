"""Majority vote: the share of votes per class."""

from __future__ import annotations

import numpy as np

from labelnoise.common.aggregation._base import (
    Answers,
    CategoricalAggregator,
    annotator_accuracy,
    majority_probas,
)

__all__ = ["MajorityVote"]


class MajorityVote(CategoricalAggregator):
    """Majority vote over the answers of each item.

    ``probas_[i, c]`` is the share of item ``i``'s answers that are ``c``, so tied classes
    split the mass equally. Tie rule for ``labels_``: the smallest class among the tied ones
    (deterministic; the same as crowd-kit's ``idxmax`` on sorted classes). ``skills_`` is each
    annotator's agreement with ``labels_`` (crowd-kit's ``MajorityVote.skills_``).
    """

    def _fit(self, answers: Answers) -> np.ndarray:
        probas = majority_probas(answers)
        self._set_skills(answers, annotator_accuracy(answers, probas))
        return probas
