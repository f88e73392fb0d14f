"""Wawa: worker agreement with aggregate (majority vote weighted by agreement)."""

from __future__ import annotations

import numpy as np

from labelnoise.common.aggregation._base import (
    Answers,
    CategoricalAggregator,
    annotator_accuracy,
    majority_probas,
)

__all__ = ["Wawa"]


class Wawa(CategoricalAggregator):
    """Worker Agreement with Aggregate, as in crowd-kit's ``Wawa``.

    1. majority vote; 2. ``skills_[a]`` = share of annotator ``a``'s answers equal to the
    majority label; 3. majority vote with each answer weighted by its annotator's skill.
    Ties go to the smallest class. Annotators who never agree get weight 0; an item whose
    annotators all have weight 0 gets a uniform ``probas_`` row.
    """

    def _fit(self, answers: Answers) -> np.ndarray:
        skills = annotator_accuracy(answers, majority_probas(answers))
        self._set_skills(answers, skills)
        return majority_probas(answers, skills)
