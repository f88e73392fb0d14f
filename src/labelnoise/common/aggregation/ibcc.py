"""IBCC: independent Bayesian classifier combination, mean-field variational Bayes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import digamma

from labelnoise.common.aggregation._base import Answers, CategoricalAggregator, majority_probas
from labelnoise.common.aggregation._ties import snap_ties
from labelnoise.common.aggregation.dawid_skene import softmax_rows

__all__ = ["IBCC", "confusion_prior"]


def confusion_prior(n_classes: int, diagonal: float, off_diagonal: float) -> np.ndarray:
    """``(C, C)`` Dirichlet pseudo-counts ``[true, answered]``: ``diagonal`` on the diagonal."""
    for name, value in (("diagonal_prior", diagonal), ("off_diagonal_prior", off_diagonal)):
        if not float(value) > 0:
            raise ValueError(f"{name} must be > 0; got {value}")
    return np.eye(n_classes) * (diagonal - off_diagonal) + off_diagonal


def expected_log_dirichlet(params: np.ndarray) -> np.ndarray:
    """``E[log p]`` under ``Dirichlet(params)`` over the last axis."""
    return digamma(params) - digamma(params.sum(-1, keepdims=True))


class IBCC(CategoricalAggregator):
    """Independent Bayesian classifier combination, fitted by mean-field variational Bayes.

    Model (H.-C. Kim, Z. Ghahramani, "Bayesian classifier combination", AISTATS 2012):
    class shares ``kappa ~ Dir(class_prior)``, true class ``t_i ~ Cat(kappa)``, per annotator
    and true class a confusion row ``pi[a, k] ~ Dir(prior[k])``, answers
    ``c_ia ~ Cat(pi[a, t_i])``. Kim & Ghahramani sample it by Gibbs; this is the variational
    version (E. Simpson, S. Roberts, I. Psorakis, A. Smith, "Dynamic Bayesian combination of
    multiple imperfect classifiers", 2013; also the IBCC of Li et al.'s
    truth-inference-at-scale code): ``q(t) q(kappa) q(pi)`` with

    * ``q(pi[a, k])`` = ``Dir(prior[k] + sum_i q(t_i = k) [c_ia = l])``,
    * ``q(kappa)`` = ``Dir(class_prior + sum_i q(t_i))``,
    * ``log q(t_i = k)`` = ``E log kappa_k + sum_a E log pi[a, k, c_ia] + const``,

    started from the majority vote, until no posterior moves by more than ``tol``. Classes
    within 1e-12 of an item's best are made exactly equal, so ties go to the smallest class.
    ``prior[k, l]`` is ``diagonal_prior`` if ``k == l`` else ``off_diagonal_prior``; the
    defaults (4 and 1, class prior 1) are the ones of Li et al.'s code, kept after comparing
    a few values on the shared crowd sets (see benchmarks/results/aggregation.md).

    Args:
        diagonal_prior: pseudo-answers "right" per true class (default 4.0).
        off_diagonal_prior: pseudo-answers per wrong class (default 1.0).
        class_prior: Dirichlet pseudo-count per class (default 1.0).
        n_iter: maximum iterations (default 500).
        tol: stop when ``max |q_new - q_old| < tol`` (default 1e-5).

    Fitted: ``probas_`` ``q(t)`` ``(N, C)``, ``labels_``, ``priors_`` (posterior mean of
    ``kappa``), ``confusions_`` (posterior mean of ``pi``, ``(A, C, C)``), ``skills_``
    (prior-weighted diagonal), ``n_iter_``, ``loss_history_`` (max change per iteration).
    """

    def __init__(
        self,
        *,
        diagonal_prior: float = 4.0,
        off_diagonal_prior: float = 1.0,
        class_prior: float = 1.0,
        n_iter: int = 500,
        tol: float = 1e-5,
    ) -> None:
        confusion_prior(2, diagonal_prior, off_diagonal_prior)  # validates
        if not float(class_prior) > 0:
            raise ValueError(f"class_prior must be > 0; got {class_prior}")
        if int(n_iter) < 1:
            raise ValueError(f"n_iter must be >= 1; got {n_iter}")
        self.diagonal_prior = float(diagonal_prior)
        self.off_diagonal_prior = float(off_diagonal_prior)
        self.class_prior = float(class_prior)
        self.n_iter = int(n_iter)
        self.tol = float(tol)

    def _fit(self, answers: Answers) -> np.ndarray:
        a, c = answers.n_annotators, answers.n_classes
        prior = confusion_prior(c, self.diagonal_prior, self.off_diagonal_prior)
        pairs = answers.pair_matrix()
        pairs_t = pairs.T.tocsr()
        probas = majority_probas(answers)
        self.loss_history_ = []
        for _ in range(self.n_iter):
            counts = np.asarray(pairs_t @ probas).reshape(a, c, c)  # [a, answered, true]
            post = counts.transpose(0, 2, 1) + prior  # [a, true, answered]
            nu = self.class_prior + probas.sum(0)
            e_log_pi = expected_log_dirichlet(post)
            e_log_kappa = expected_log_dirichlet(nu)
            logits = pairs @ e_log_pi.transpose(0, 2, 1).reshape(a * c, c) + e_log_kappa
            new = softmax_rows(logits)
            change = float(np.abs(new - probas).max())
            probas = new
            self.loss_history_.append(change)
            if change < self.tol:
                break
        self.n_iter_ = len(self.loss_history_)
        counts = np.asarray(pairs_t @ probas).reshape(a, c, c)
        post = counts.transpose(0, 2, 1) + prior
        nu = self.class_prior + probas.sum(0)
        self.priors_ = pd.Series(nu / nu.sum(), index=pd.Index(answers.categories, name="label"))
        self._set_confusions(post.transpose(0, 2, 1))
        mean = post / post.sum(-1, keepdims=True)
        self._set_skills(answers, np.einsum("k,akk->a", nu / nu.sum(), mean))
        return snap_ties(probas)
