"""Zero-based skill: weighted majority vote with skills pulled towards their agreement rates."""

from __future__ import annotations

import numpy as np

from labelnoise.common.aggregation._base import (
    Answers,
    CategoricalAggregator,
    annotator_accuracy,
    majority_probas,
)

__all__ = ["ZeroBasedSkill"]


class ZeroBasedSkill(CategoricalAggregator):
    """Zero-based skill (ZBS), as crowd-kit's ``ZeroBasedSkill`` (Toloka's heuristic; no paper).

    Every skill starts at ``1 / C + eps``. Each of ``n_iter`` rounds takes a majority vote
    weighted by the skills, then moves each skill a step ``lr`` towards the share of that
    annotator's answers that agree with the vote (a gradient step on the squared error between
    skill and agreement rate); ``lr`` starts at ``lr_init`` and is multiplied by
    ``lr_reduce_factor`` on every round whose number is a multiple of ``lr_steps_to_reduce``.
    The result is the weighted vote with the final skills. Like crowd-kit it always runs
    ``n_iter`` rounds (``eps`` only offsets the start); exact ties go to the smallest class.

    Args:
        n_iter: rounds (default 100).
        lr_init: first step size (default 1.0).
        lr_steps_to_reduce: rounds between step-size cuts (default 20).
        lr_reduce_factor: step-size multiplier (default 0.5).
        eps: offset of the initial skill (default 1e-5).

    Fitted: ``probas_`` ``(N, C)`` share of the skill-weighted votes, ``labels_``,
    ``skills_`` (per annotator).
    """

    def __init__(
        self,
        *,
        n_iter: int = 100,
        lr_init: float = 1.0,
        lr_steps_to_reduce: int = 20,
        lr_reduce_factor: float = 0.5,
        eps: float = 1e-5,
    ) -> None:
        if int(n_iter) < 1 or int(lr_steps_to_reduce) < 1:
            raise ValueError(
                f"n_iter and lr_steps_to_reduce must be >= 1; got {n_iter} and {lr_steps_to_reduce}"
            )
        if not float(lr_init) > 0 or not 0 < float(lr_reduce_factor) <= 1:
            raise ValueError(
                f"lr_init must be > 0 and lr_reduce_factor in (0, 1]; got {lr_init} and "
                f"{lr_reduce_factor}"
            )
        self.n_iter = int(n_iter)
        self.lr_init = float(lr_init)
        self.lr_steps_to_reduce = int(lr_steps_to_reduce)
        self.lr_reduce_factor = float(lr_reduce_factor)
        self.eps = float(eps)

    def _fit(self, answers: Answers) -> np.ndarray:
        skills = np.full(answers.n_annotators, 1.0 / answers.n_classes + self.eps)
        lr = self.lr_init
        for it in range(1, self.n_iter + 1):
            if it % self.lr_steps_to_reduce == 0:
                lr *= self.lr_reduce_factor
            probas = majority_probas(answers, skills)
            skills = skills + lr * (annotator_accuracy(answers, probas) - skills)
        self._set_skills(answers, skills)
        return majority_probas(answers, skills)
