"""GLAD: annotator ability times item easiness (Whitehill et al., 2009)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from labelnoise.common.aggregation._base import Answers, CategoricalAggregator
from labelnoise.common.aggregation.dawid_skene import softmax_rows

__all__ = ["GLAD"]


class GLAD(CategoricalAggregator):
    """Generative model of Labels, Abilities and Difficulties.

    J. Whitehill, P. Ruvolo, T. Wu, J. Bergsma, J. Movellan, "Whose vote should count more:
    optimal integration of labels from labelers of unknown expertise", NeurIPS 2009.
    ``P(answer = true) = sigmoid(alpha_a * exp(beta_i))``, wrong answers uniform over the other
    ``C - 1`` classes, ``N(alpha_mean, 1)`` and ``N(beta_mean, 1)`` priors, uniform fixed class
    prior. EM as crowd-kit's ``GLAD``: start at ``alpha = beta = 1``; E-step, then an M-step of
    conjugate gradient (``scipy.optimize.minimize(method="CG")``) on the expected
    log-posterior; stop when it improves by less than ``tol`` per (answer, class) pair;
    ``probas_`` come from the last E-step. The objective and its gradient touch each answer
    once (``O(n)`` with ``bincount``), instead of one row per (answer, class) pair.

    Args:
        n_iter: maximum EM iterations (default 100).
        tol: EM tolerance (default 1e-5).
        m_step_max_iter: CG iterations per M-step (default 25).
        m_step_tol: CG tolerance (default 1e-2).
        alpha_mean: prior mean of ability (default 1.0).
        beta_mean: prior mean of log-easiness (default 1.0).

    Fitted: ``alphas_`` (= ``skills_``, per annotator), ``betas_`` (per item), ``n_iter_``,
    ``loss_history_``.
    """

    def __init__(
        self,
        *,
        n_iter: int = 100,
        tol: float = 1e-5,
        m_step_max_iter: int = 25,
        m_step_tol: float = 1e-2,
        alpha_mean: float = 1.0,
        beta_mean: float = 1.0,
    ) -> None:
        if int(n_iter) < 1 or int(m_step_max_iter) < 1:
            raise ValueError(
                f"n_iter and m_step_max_iter must be >= 1; got {n_iter} and {m_step_max_iter}"
            )
        self.n_iter = int(n_iter)
        self.tol = float(tol)
        self.m_step_max_iter = int(m_step_max_iter)
        self.m_step_tol = float(m_step_tol)
        self.alpha_mean = float(alpha_mean)
        self.beta_mean = float(beta_mean)

    def _fit(self, answers: Answers) -> np.ndarray:
        n, a, c = answers.n_items, answers.n_annotators, answers.n_classes
        item, ann = answers.item, answers.annotator
        flat = item * c + answers.label
        log_wrong_share = np.log(c - 1) if c > 1 else 0.0
        log_prior = np.log(1.0 / c)

        def log_probs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """log P(answer right), log P(a given wrong class); one softplus for both."""
            softplus_neg = np.logaddexp(0.0, -x)
            return -softplus_neg, -softplus_neg - x - log_wrong_share

        def e_step(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
            right, wrong = log_probs(alpha[ann] * np.exp(beta)[item])
            logits = np.bincount(item, weights=wrong, minlength=n)[:, None] + np.bincount(
                flat, weights=right - wrong, minlength=n * c
            ).reshape(n, c)
            return softmax_rows(logits + log_prior)

        def neg_q(params: np.ndarray, q_answer: np.ndarray) -> tuple[float, np.ndarray]:
            alpha, beta = params[:a], params[a:]
            easy = np.exp(beta)[item]
            x = alpha[ann] * easy
            right, wrong = log_probs(x)
            da, db = alpha - self.alpha_mean, beta - self.beta_mean
            q = q_answer @ (right - wrong) + wrong.sum() - 0.5 * (da @ da + db @ db)
            g = q_answer - np.exp(right)
            grad_a = np.bincount(ann, weights=g * easy, minlength=a) - da
            grad_b = np.bincount(item, weights=g * x, minlength=n) - db
            return -float(q), -np.concatenate([grad_a, grad_b])

        params = np.ones(a + n)
        last, self.loss_history_ = -np.inf, []
        for _ in range(self.n_iter):
            probas = e_step(params[:a], params[a:])
            q_answer = probas.reshape(-1)[flat]
            res = minimize(
                neg_q,
                params,
                args=(q_answer,),
                jac=True,
                method="CG",
                tol=self.m_step_tol,
                options={"maxiter": self.m_step_max_iter},
            )
            params = res.x
            loss = -float(res.fun) / (len(item) * c)
            self.loss_history_.append(loss)
            if loss - last < self.tol:
                break
            last = loss
        self.n_iter_ = len(self.loss_history_)
        self.alphas_ = pd.Series(params[:a], index=answers.annotators, name="alpha")
        self.betas_ = pd.Series(params[a:], index=answers.items, name="beta")
        self._set_skills(answers, params[:a])
        return probas
