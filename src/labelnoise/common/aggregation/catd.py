"""CATD: confidence-aware truth discovery for numeric answers (Li et al., 2014)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2

from labelnoise.common.aggregation._base import Answers, NumericAggregator

__all__ = ["CATD"]


class CATD(NumericAggregator):
    """Confidence-Aware Truth Discovery: a reliability-weighted mean of numeric answers.

    Q. Li, Y. Li, J. Gao, L. Su, B. Zhao, M. Demirbas, W. Fan, J. Han, "A confidence-aware
    approach for truth discovery on long-tail data", PVLDB 8(4), 2014. Alternates

    * ``w_a = chi2.ppf(alpha / 2, n_a) / sum_i d_ia``: the upper confidence bound of annotator
      ``a``'s error variance, inverted (few answers -> wide bound -> small weight);
    * ``truth_i = sum_a w_a x_ia / sum_a w_a``,

    starting from the mean. ``d_ia = (x_ia - truth_i)^2 / var_i`` is the normalised squared
    loss of Li et al.'s CRH (SIGMOD 2014), with ``var_i`` the variance of item ``i``'s answers,
    so items on wider scales do not dominate the reliabilities; items whose answers all agree
    contribute 0.

    Args:
        alpha: significance level of the chi-squared bound (default 0.05).
        n_iter: maximum iterations (default 100).
        tol: stop when no estimate moves by more than ``tol`` (default 1e-8).

    Fitted: ``labels_``, ``skills_`` (weights ``w_a``, normalised to sum to 1), ``stderr_``.
    """

    def __init__(self, *, alpha: float = 0.05, n_iter: int = 100, tol: float = 1e-8) -> None:
        if not 0.0 < float(alpha) < 1.0:
            raise ValueError(f"alpha must be in (0, 1); got {alpha}")
        if int(n_iter) < 1:
            raise ValueError(f"n_iter must be >= 1; got {n_iter}")
        self.alpha = float(alpha)
        self.n_iter = int(n_iter)
        self.tol = float(tol)

    def _fit(self, answers: Answers) -> np.ndarray:
        n, a = answers.n_items, answers.n_annotators
        item, ann, x = answers.item, answers.annotator, answers.label
        count = np.bincount(item, minlength=n)
        est = np.bincount(item, weights=x, minlength=n) / count
        var = np.bincount(item, weights=(x - est[item]) ** 2, minlength=n) / count
        inv_var = np.divide(1.0, var, out=np.zeros_like(var), where=var > 0)[item]
        bound = chi2.ppf(self.alpha / 2, np.bincount(ann, minlength=a))
        self.n_iter_ = 0
        for _ in range(self.n_iter):
            self.n_iter_ += 1
            loss = np.bincount(ann, weights=(x - est[item]) ** 2 * inv_var, minlength=a)
            weight = bound / np.maximum(loss, 1e-12)
            new = np.bincount(item, weights=weight[ann] * x, minlength=n) / np.bincount(
                item, weights=weight[ann], minlength=n
            )
            moved = float(np.abs(new - est).max())
            est = new
            if moved <= self.tol:
                break
        self.skills_ = pd.Series(weight / weight.sum(), index=answers.annotators, name="skill")
        return est
