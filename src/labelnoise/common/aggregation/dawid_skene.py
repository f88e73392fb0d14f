"""Dawid-Skene: per-annotator confusion matrices fitted by EM (Dawid & Skene, 1979)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from labelnoise.common.aggregation._base import Answers, CategoricalAggregator, majority_probas

__all__ = ["DawidSkene"]

#: Floor of probabilities before taking logs (crowd-kit's ``_EPS``).
EPS = 1e-10


def gold_codes(answers: Answers, gold: Mapping | pd.Series | None) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``gold`` (item id -> class) and return ``(item codes, class codes)``."""
    if gold is None:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    g = pd.Series(gold) if not isinstance(gold, pd.Series) else gold
    pos = answers.items.get_indexer(g.index)
    if (pos < 0).any():
        raise ValueError(
            f"gold items must appear in the answers; got {int((pos < 0).sum())} unknown, "
            f"e.g. {g.index[pos < 0][0]!r}"
        )
    cls = pd.Index(answers.categories).get_indexer(pd.Index(g.to_numpy()))
    if (cls < 0).any():
        raise ValueError(
            f"gold labels must be classes seen in the answers {list(answers.categories)}; "
            f"got {g.to_numpy()[cls < 0][0]!r}"
        )
    return pos.astype(np.int64), cls.astype(np.int64)


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


class DawidSkene(CategoricalAggregator):
    """Dawid-Skene EM with one full confusion matrix per annotator.

    Dawid & Skene, "Maximum likelihood estimation of observer error-rates using the EM
    algorithm", JRSS C 28(1), 1979. Follows crowd-kit's ``DawidSkene`` step for step
    (majority-vote initialisation, M-step then E-step, the same evidence lower bound as
    stopping rule -- with the class prior counted once per answer, as crowd-kit does --, probabilities floored at 1e-10) but on sparse matrices: one
    ``(N, A*C) @ (A*C, C)`` product per E-step and its transpose per M-step.

    Args:
        n_iter: maximum EM iterations (default 100).
        tol: stop when the ELBO per answer improves by less than ``tol`` (default 1e-5).
        smoothing: pseudo-count added to every confusion cell before normalising
            (default 0.0; > 0 is Laplace smoothing).
        diagonal_prior: pseudo-count added to the diagonal cells (default 0.05): a weak
            Dirichlet prior that annotators tend to be right, so a confusion row with no
            evidence (an annotator who never met that class) becomes "answers correctly"
            instead of uniform. ``smoothing=0, diagonal_prior=0`` is crowd-kit's algorithm.

    ``fit(..., gold=Series)`` clamps the posteriors of gold items (item id -> class) to
    their gold class at every iteration. Fitted: ``probas_`` ``(N, C)``, ``labels_``,
    ``priors_`` ``(C,)``, ``confusions_`` (``TransitionMatrix`` ``(A, C, C)``),
    ``skills_`` (prior-weighted diagonal of each confusion), ``n_iter_``, ``loss_history_``.
    """

    def __init__(
        self,
        *,
        n_iter: int = 100,
        tol: float = 1e-5,
        smoothing: float = 0.0,
        diagonal_prior: float = 0.05,
    ) -> None:
        if int(n_iter) < 1:
            raise ValueError(f"n_iter must be >= 1; got {n_iter}")
        for name, value in (("smoothing", smoothing), ("diagonal_prior", diagonal_prior)):
            if not float(value) >= 0:
                raise ValueError(f"{name} must be >= 0; got {value}")
        self.n_iter = int(n_iter)
        self.tol = float(tol)
        self.smoothing = float(smoothing)
        self.diagonal_prior = float(diagonal_prior)

    def fit(
        self,
        item: Any,
        annotator: Any = None,
        label: Any = None,
        *,
        gold: Mapping | pd.Series | None = None,
        **kwargs: Any,
    ) -> Self:
        """Fit by EM; ``gold`` optionally maps some item ids to known classes (other keyword
        arguments are refused by ``_fit``)."""
        return super().fit(item, annotator, label, gold=gold, **kwargs)

    def _errors(self, pairs_t: sp.csr_matrix, probas: np.ndarray, a: int, c: int) -> np.ndarray:
        """M-step: ``errors[a, observed, true]`` normalised over ``observed``."""
        counts = np.asarray(pairs_t @ probas).reshape(a, c, c) + self.smoothing
        counts += self.diagonal_prior * np.eye(c)
        np.clip(counts, EPS, None, out=counts)
        return counts / counts.sum(1, keepdims=True)

    def _fit(self, answers: Answers, gold: Mapping | pd.Series | None = None) -> np.ndarray:
        a, c = answers.n_annotators, answers.n_classes
        gold_item, gold_cls = gold_codes(answers, gold)
        pairs = answers.pair_matrix()
        pairs_t = pairs.T.tocsr()
        n_per_item = np.asarray(pairs.sum(1)).ravel()
        n_answers = len(answers.item)

        def clamp(p: np.ndarray) -> np.ndarray:
            if len(gold_item):
                p[gold_item] = 0.0
                p[gold_item, gold_cls] = 1.0
            return p

        probas = clamp(majority_probas(answers))
        priors = probas.mean(0)
        errors = self._errors(pairs_t, probas, a, c)
        loglik = pairs @ np.log(errors).reshape(a * c, c)
        loss, self.loss_history_ = -np.inf, []
        for _ in range(self.n_iter):
            probas = clamp(softmax_rows(loglik + np.log(np.clip(priors, EPS, None))))
            priors = probas.mean(0)
            errors = self._errors(pairs_t, probas, a, c)
            loglik = pairs @ np.log(errors).reshape(a * c, c)
            q = np.clip(probas, EPS, None)
            new_loss = (
                float((probas * loglik).sum())
                + float(n_per_item @ probas @ np.log(np.clip(priors, EPS, None)))
                - float((q * np.log(q)).sum())
            ) / n_answers
            self.loss_history_.append(new_loss)
            if new_loss - loss < self.tol:
                break
            loss = new_loss
        self.n_iter_ = len(self.loss_history_)
        self.priors_ = pd.Series(priors, index=pd.Index(answers.categories, name="label"))
        self._set_confusions(errors)
        self._set_skills(answers, self._skills(priors, errors))
        return probas

    def _skills(self, priors: np.ndarray, errors: np.ndarray) -> np.ndarray:
        """``(A,)`` expected accuracy ``sum_c prior_c P(says c | true c)``."""
        return np.einsum("c,acc->a", priors, errors)
