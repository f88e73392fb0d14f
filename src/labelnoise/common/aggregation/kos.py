"""KOS: belief-propagation-like message passing for binary crowd labels (Karger, Oh, Shah)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from labelnoise.common.aggregation._base import Answers, CategoricalAggregator, majority_probas

__all__ = ["KOS"]


class KOS(CategoricalAggregator):
    """Karger-Oh-Shah iterative inference for **binary** answers.

    D. R. Karger, S. Oh, D. Shah, "Budget-optimal task allocation for reliable crowdsourcing
    systems", Operations Research 62(1), 2014 (arXiv:1110.3564), Algorithm 1. Answers are
    coded ``A = +1`` (first class, in sorted order) or ``-1``. Each answer (edge item ``i`` --
    annotator ``j``) carries two messages, updated ``n_iter`` times:

    * ``x[i->j] = sum over the other answers j' of item i of A[i,j'] * y[j'->i]``
    * ``y[j->i] = sum over the other answers i' of annotator j of A[i',j] * x[i'->j]``

    with ``y`` drawn from ``N(1, 1)`` at the start (per answer in row order, ``random_state``
    seeded, as the paper and crowd-kit do). The estimate is ``sign(sum_j A[i,j] * y[j->i])``.
    The updates are linear, so the messages are rescaled to max ``|.| = 1`` after every
    half-step, separately in every connected component of the item--annotator graph (signs
    unchanged, and a small component does not underflow next to a large one); crowd-kit lets
    them grow and stops when they pass 1e300, which ends its loop earlier but at the same
    signs once the iteration has settled.

    KOS gives no probabilities: ``probas_`` is one-hot on the estimated class. An item whose
    score is exactly 0 (e.g. an item whose annotators answer nothing else, where every message
    is 0, or an exactly balanced item) gets the plain majority vote shares instead (ties in
    that vote: 0.5 each, so the first class). This is our addition: the paper does not say, and
    crowd-kit fails there (``KeyError: 0.0``). ``scores_`` holds the final
    ``sum_j A[i,j] y[j->i]`` (> 0 favours the first class); ``skills_`` is each annotator's
    mean message ``y`` (the paper's reliability estimate, in arbitrary units).

    The update is a linear map, so the messages settle on its leading eigenvector; when the
    answers carry little signal (few, weak annotators) that eigenvector need not be the
    informative one and the signs keep turning (the paper's guarantee needs
    ``(l - 1)(r - 1) q > 1`` on random regular assignments). crowd-kit's KOS does the same.

    Args:
        n_iter: message-passing rounds (default 100, as crowd-kit).
        random_state: seed of the initial messages (default 0).
    """

    def __init__(self, *, n_iter: int = 100, random_state: int | None = 0) -> None:
        if int(n_iter) < 1:
            raise ValueError(f"n_iter must be >= 1; got {n_iter}")
        self.n_iter = int(n_iter)
        self.random_state = random_state

    def _fit(self, answers: Answers) -> np.ndarray:
        if answers.n_classes != 2:
            raise ValueError(
                f"KOS is for binary answers; got {answers.n_classes} classes "
                f"{answers.categories.tolist()}"
            )
        n, a = answers.n_items, answers.n_annotators
        item, ann = answers.item, answers.annotator
        sign = np.where(answers.label == 0, 1.0, -1.0)
        y = np.random.RandomState(self.random_state).normal(1.0, 1.0, len(item))

        graph = sp.coo_matrix((np.ones(len(item)), (item, n + ann)), shape=(n + a, n + a))
        n_comp, comp = connected_components(graph, directed=False)
        edge_comp = comp[item]

        def scaled(v: np.ndarray) -> np.ndarray:
            if n_comp == 1:
                top = np.abs(v).max()
                return v / top if top > 0 else v
            tops = np.zeros(n_comp)
            np.maximum.at(tops, edge_comp, np.abs(v))
            tops = tops[edge_comp]
            return np.divide(v, tops, out=np.zeros_like(v), where=tops > 0)

        for _ in range(self.n_iter):
            ay = sign * y
            x = scaled(np.bincount(item, weights=ay, minlength=n)[item] - ay)
            ax = sign * x
            y = scaled(np.bincount(ann, weights=ax, minlength=a)[ann] - ax)
        score = np.bincount(item, weights=sign * y, minlength=n)
        self.scores_ = pd.Series(score, index=answers.items, name="score")
        probas = np.stack([score > 0, score < 0], 1).astype(np.float64)
        tied = score == 0
        if tied.any():
            probas[tied] = majority_probas(answers)[tied]
        self._set_skills(
            answers, np.bincount(ann, weights=y, minlength=a) / np.bincount(ann, minlength=a)
        )
        return probas
