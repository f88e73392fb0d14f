"""EBCC: enhanced Bayesian classifier combination with item subtypes (Li, Rubinstein, Cohn)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import gammaln

from labelnoise.common.aggregation._base import Answers, CategoricalAggregator, majority_probas
from labelnoise.common.aggregation._ties import snap_ties
from labelnoise.common.aggregation.ibcc import confusion_prior, expected_log_dirichlet

__all__ = ["EBCC"]


def dirichlet_entropy(params: np.ndarray) -> float:
    """Summed entropy of ``Dirichlet(params[..., :])`` over all leading axes."""
    total = params.sum(-1)
    e_log = expected_log_dirichlet(params)
    return float((gammaln(params).sum(-1) - gammaln(total)).sum() - ((params - 1) * e_log).sum())


class EBCC(CategoricalAggregator):
    """Enhanced Bayesian classifier combination, fitted by mean-field variational inference.

    Y. Li, B. I. P. Rubinstein, T. Cohn, "Exploiting worker correlation for label aggregation
    in crowdsourcing", ICML 2019. IBCC (:class:`~labelnoise.common.aggregation.ibcc.IBCC`)
    with ``M`` latent subtypes per class: an item of class ``k`` has subtype
    ``g ~ Cat(pi[k])``, ``pi[k] ~ Dir(subtype_prior / M)``, and annotator ``a`` answers from
    ``Cat(v[a, k, g])``, ``v[a, k, g] ~ Dir(prior[k])``; annotators who err alike on an item
    subtype are thereby correlated. ``q(t, g) q(tau) q(pi) q(v)`` is updated in turn (the
    paper's Eqs. 6-9, as in the authors' ``ebcc_vb``), started from the majority vote split
    over subtypes by a flat Dirichlet draw, until no ``q(t_i)`` moves by more than ``tol``.
    The class prior is ``Dir(class_prior)``, or with ``empirical_prior=True`` (default, the
    authors' experiments) ``Dir(majority-vote class counts)``. ``n_restarts`` random starts
    (seeds from ``random_state``) are run and the one with the highest evidence lower bound
    kept (the authors keep the best of 40). Classes within 1e-12 of an item's best are made
    exactly equal, so ties go to the smallest class.

    Args:
        n_subtypes: ``M`` (default 10).
        subtype_prior: total Dirichlet mass over the subtypes of a class (default 0.1).
        diagonal_prior: confusion pseudo-count on the diagonal (default 4).
        off_diagonal_prior: confusion pseudo-count off the diagonal (default 1).
        class_prior: pseudo-count per class when ``empirical_prior`` is False (default 1.0).
        empirical_prior: class prior from majority-vote counts (default True).
        n_restarts: random starts (default 5).
        n_iter: maximum iterations per start (default 500).
        tol: stop when ``max |q_new(t) - q_old(t)| < tol`` (default 1e-3, the authors').
        random_state: seed (default 0).

    Fitted: ``probas_`` ``q(t)``, ``labels_``, ``elbo_`` (of the kept start), ``priors_``,
    ``confusions_`` (subtype-marginal posterior mean, ``(A, C, C)``), ``skills_``,
    ``n_iter_``.
    """

    def __init__(
        self,
        *,
        n_subtypes: int = 10,
        subtype_prior: float = 0.1,
        diagonal_prior: float = 4.0,
        off_diagonal_prior: float = 1.0,
        class_prior: float = 1.0,
        empirical_prior: bool = True,
        n_restarts: int = 5,
        n_iter: int = 500,
        tol: float = 1e-3,
        random_state: int = 0,
    ) -> None:
        confusion_prior(2, diagonal_prior, off_diagonal_prior)  # validates
        for name, value in (("subtype_prior", subtype_prior), ("class_prior", class_prior)):
            if not float(value) > 0:
                raise ValueError(f"{name} must be > 0; got {value}")
        for name, count in (("n_subtypes", n_subtypes), ("n_restarts", n_restarts)):
            if int(count) < 1:
                raise ValueError(f"{name} must be >= 1; got {count}")
        if int(n_iter) < 1:
            raise ValueError(f"n_iter must be >= 1; got {n_iter}")
        self.n_subtypes = int(n_subtypes)
        self.subtype_prior = float(subtype_prior)
        self.diagonal_prior = float(diagonal_prior)
        self.off_diagonal_prior = float(off_diagonal_prior)
        self.class_prior = float(class_prior)
        self.empirical_prior = bool(empirical_prior)
        self.n_restarts = int(n_restarts)
        self.n_iter = int(n_iter)
        self.tol = float(tol)
        self.random_state = int(random_state)

    def _fit(self, answers: Answers) -> np.ndarray:
        n, a, c, m = answers.n_items, answers.n_annotators, answers.n_classes, self.n_subtypes
        prior = confusion_prior(c, self.diagonal_prior, self.off_diagonal_prior)
        pairs = answers.pair_matrix()  # (N, A*C) columns a*C + answered
        pairs_t = pairs.T.tocsr()
        mv = majority_probas(answers)
        alpha = mv.sum(0) if self.empirical_prior else np.full(c, self.class_prior)
        alpha = np.maximum(alpha, 1e-6)  # a class nobody voted for still has a proper prior

        ones_n, ones_cm, ones_m = np.ones(n), np.ones(c * m), np.ones(m)

        def params(zg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """Posterior Dirichlet parameters ``eta (C, M)``, ``nu (C,)``, ``mu (A, C, M, C)``."""
            col = (ones_n @ zg.reshape(n, c * m)).reshape(c, m)  # BLAS: faster than .sum(0)
            eta = self.subtype_prior / m + col
            nu = alpha + col.sum(1)
            counts = np.asarray(pairs_t @ zg.reshape(n, c * m)).reshape(a, c, c, m)
            mu = counts.transpose(0, 2, 3, 1) + prior[None, :, None, :]  # [a, k, g, l]
            return eta, nu, mu

        def elbo(zg: np.ndarray) -> float:
            eta, nu, mu = params(zg)
            q = zg.reshape(n, -1)
            total = 0.0
            for p in (eta, nu, mu):
                total += float(((p - 1) * expected_log_dirichlet(p)).sum()) + dirichlet_entropy(p)
            return total - float((q * np.log(np.clip(q, 1e-300, None))).sum())

        seeds = np.random.RandomState(self.random_state).randint(0, 2**31 - 1, self.n_restarts)
        best: tuple[float, np.ndarray, int] | None = None
        for seed in seeds:
            zg = np.random.RandomState(seed).dirichlet(np.ones(m), (n, c)) * mv[:, :, None]
            z = mv
            iters = 0
            for _ in range(self.n_iter):
                iters += 1
                eta, nu, mu = params(zg)
                logits = (
                    expected_log_dirichlet(eta)[None] + expected_log_dirichlet(nu)[None, :, None]
                )
                e_log_v = expected_log_dirichlet(mu)  # [a, k, g, l]
                rows = e_log_v.transpose(0, 3, 1, 2).reshape(a * c, c * m)
                logits = logits + np.asarray(pairs @ rows).reshape(n, c, m)
                flat = logits.reshape(n, c * m)
                flat -= flat.max(1, keepdims=True)
                np.exp(flat, out=flat)
                flat /= (flat @ ones_cm)[:, None]  # row sums by BLAS (short rows)
                zg = flat.reshape(n, c, m)
                new_z = (flat.reshape(n * c, m) @ ones_m).reshape(n, c)
                change = float(np.abs(new_z - z).max())
                z = new_z
                if change < self.tol:
                    break
            value = elbo(zg)
            if best is None or value > best[0]:
                best = (value, zg, iters)
        assert best is not None
        self.elbo_, zg, self.n_iter_ = best
        eta, nu, mu = params(zg)
        self.priors_ = pd.Series(nu / nu.sum(), index=pd.Index(answers.categories, name="label"))
        share = eta / eta.sum(1, keepdims=True)  # P(subtype | class)
        conf = np.einsum("kg,akgl->akl", share, mu / mu.sum(-1, keepdims=True))
        self._set_confusions(conf.transpose(0, 2, 1))
        self._set_skills(answers, np.einsum("k,akk->a", nu / nu.sum(), conf))
        return snap_ties(zg.sum(2))
