"""MACE: multi-annotator competence estimation (Hovy et al., 2013)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.special import digamma, logsumexp

from labelnoise.common._random import numpy_rng
from labelnoise.common.aggregation._base import Answers, CategoricalAggregator

__all__ = ["MACE"]


def _vb_normalize(counts: np.ndarray, prior: float | np.ndarray) -> np.ndarray:
    """Variational-Bayes update ``exp(digamma(x + prior) - digamma(sum(x + prior)))``."""
    x = counts + prior
    return np.exp(digamma(x) - digamma(x.sum(1, keepdims=True)))


def _em_normalize(counts: np.ndarray, smoothing: float) -> np.ndarray:
    x = counts + smoothing
    return x / x.sum(1, keepdims=True)


class MACE(CategoricalAggregator):
    """Multi-Annotator Competence Estimation.

    D. Hovy, T. Berg-Kirkpatrick, A. Vaswani, E. Hovy, "Learning whom to trust with MACE",
    NAACL-HLT 2013. Annotator ``a`` knows the answer with probability ``k_a`` and then gives
    the true class; otherwise (spamming) draws a class from its own strategy ``theta_a``. The
    true class has a uniform prior. EM (``method="em"``, the default: fractional counts plus
    ``smoothing = 0.01 / C``, as in the paper) or variational Bayes (``method="vb"``,
    crowd-kit's default: ``Beta(alpha, beta)`` prior on spamming/knowing and a symmetric
    ``Dirichlet(10)`` on the strategies). The E-step works in log space with ``bincount``.

    Restarts: the first run starts from the symmetric point (``k_a = 1/2``, uniform
    strategies), so results do not depend on annotator or item order; each further run
    (``n_restarts > 1``) starts from a random point drawn from ``seed``, and the run with the
    highest marginal likelihood wins.

    Args:
        n_restarts: number of runs (default 1).
        n_iter: EM/VB iterations per run (default 50).
        method: ``"em"`` (default) or ``"vb"``.
        alpha: Beta prior pseudo-count of spamming, VB only (default 0.5).
        beta: Beta prior pseudo-count of knowing, VB only (default 0.5).
        strategy_prior: Dirichlet pseudo-count of the strategies, VB only (default 10.0).
        seed: seed of the random restarts (default 0).

    Fitted: ``skills_`` (``k_a``), ``strategies_`` ``(A, C)``, ``confusions_``
    (``T[a, i, j] = k_a [i == j] + (1 - k_a) theta_a[j]``), ``log_likelihood_``.
    """

    def __init__(
        self,
        *,
        n_restarts: int = 1,
        n_iter: int = 50,
        method: Literal["vb", "em"] = "em",
        alpha: float = 0.5,
        beta: float = 0.5,
        strategy_prior: float = 10.0,
        seed: int = 0,
    ) -> None:
        if method not in ("vb", "em"):
            raise ValueError(f"method must be 'vb' or 'em'; got {method!r}")
        if int(n_restarts) < 1 or int(n_iter) < 1:
            raise ValueError(f"n_restarts and n_iter must be >= 1; got {n_restarts}, {n_iter}")
        self.n_restarts = int(n_restarts)
        self.n_iter = int(n_iter)
        self.method = method
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.strategy_prior = float(strategy_prior)
        self.seed = seed

    def _e_step(
        self, answers: Answers, spam: np.ndarray, theta: np.ndarray
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Log marginal likelihood, posteriors ``(N, C)``, P(knowing) per answer."""
        n, c = answers.n_items, answers.n_classes
        ann, item, lab = answers.annotator, answers.item, answers.label
        p_wrong = spam[ann, 0] * theta[ann, lab]
        p_right = p_wrong + spam[ann, 1]
        log_wrong = np.log(p_wrong)
        logits = np.bincount(item, weights=log_wrong, minlength=n)[:, None] + np.bincount(
            item * c + lab, weights=np.log(p_right) - log_wrong, minlength=n * c
        ).reshape(n, c)
        logits -= np.log(c)
        marginal = logsumexp(logits, axis=1, keepdims=True)
        probas = np.exp(logits - marginal)
        knowing = probas[item, lab] * spam[ann, 1] / p_right
        return float(marginal.sum()), probas, knowing

    def _m_step(self, answers: Answers, knowing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, c = answers.n_annotators, answers.n_classes
        ann = answers.annotator
        know = np.bincount(ann, weights=knowing, minlength=a)
        spamming = np.bincount(ann, weights=1 - knowing, minlength=a)
        strategy = np.bincount(
            ann * c + answers.label, weights=1 - knowing, minlength=a * c
        ).reshape(a, c)
        counts = np.stack([spamming, know], axis=1)
        if self.method == "vb":
            prior = np.array([self.alpha, self.beta])
            return _vb_normalize(counts, prior), _vb_normalize(strategy, self.strategy_prior)
        smoothing = 0.01 / c
        return _em_normalize(counts, smoothing), _em_normalize(strategy, smoothing)

    def _fit(self, answers: Answers) -> np.ndarray:
        a, c = answers.n_annotators, answers.n_classes
        rng = numpy_rng(self.seed)
        best: tuple[float, np.ndarray, np.ndarray] | None = None
        for restart in range(self.n_restarts):
            if restart == 0:
                spam, theta = np.full((a, 2), 0.5), np.full((a, c), 1.0 / c)
            else:
                spam, theta = rng.uniform(1.0, 1.5, (a, 2)), rng.uniform(1.0, 1.5, (a, c))
                spam /= spam.sum(1, keepdims=True)
                theta /= theta.sum(1, keepdims=True)
            for _ in range(self.n_iter):
                _, _, knowing = self._e_step(answers, spam, theta)
                spam, theta = self._m_step(answers, knowing)
            loglik = self._e_step(answers, spam, theta)[0]
            if best is None or loglik > best[0]:
                best = (loglik, spam, theta)
        assert best is not None  # n_restarts >= 1
        self.log_likelihood_, spam, theta = best
        _, probas, _ = self._e_step(answers, spam, theta)
        spam = spam / spam.sum(1, keepdims=True)
        theta = theta / theta.sum(1, keepdims=True)
        self._set_skills(answers, spam[:, 1])
        self.strategies_ = theta
        conf = (1 - spam[:, 1])[:, None, None] * theta[:, None, :] + spam[
            :, 1, None, None
        ] * np.eye(c)
        self._set_confusions(conf.transpose(0, 2, 1))
        return probas
