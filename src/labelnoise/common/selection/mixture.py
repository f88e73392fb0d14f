"""One-dimensional two-component mixtures fitted by EM on per-example losses.

* :func:`fit_gmm_1d` -- Gaussian mixture as DivideMix uses it (Li et al., ICLR 2020:
  sklearn ``GaussianMixture(n_components=2, max_iter=10, tol=1e-2, reg_covar=5e-4)`` on
  min-max normalised losses), k-means initialised like sklearn's default.
* :func:`fit_bmm_1d` -- beta mixture of Arazo et al., "Unsupervised label noise modeling and
  loss correction", ICML 2019 (weighted method of moments in the M-step).

Both return the posterior of the low-loss ("clean") component for every input value.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["fit_bmm_1d", "fit_gmm_1d"]

_EPS = 10 * np.finfo(np.float64).eps


def _gauss_log_lik(x: np.ndarray, means: np.ndarray, var: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``log(w_k N(x | mean_k, var_k))``: ``(n,)`` -> ``(n, 2)``."""
    return np.log(w)[None, :] - 0.5 * (
        np.log(2 * np.pi * var)[None, :] + (x[:, None] - means[None, :]) ** 2 / var[None, :]
    )


def _gauss_m_step(x: np.ndarray, resp: np.ndarray, reg_covar: float) -> tuple[np.ndarray, ...]:
    nk = resp.sum(0) + _EPS
    means = resp.T @ x / nk
    var = (resp * (x[:, None] - means[None, :]) ** 2).sum(0) / nk + reg_covar
    return means, var, nk / x.shape[0]


def _kmeans_2(x: np.ndarray, iters: int = 100) -> np.ndarray:
    """Hard 2-means labels of 1-D ``x`` (Lloyd's algorithm from the extreme quartiles)."""
    centers = np.quantile(x, [0.25, 0.75])
    labels = np.zeros(x.shape[0], dtype=int)
    for _ in range(iters):
        new = (np.abs(x - centers[1]) < np.abs(x - centers[0])).astype(int)
        if (new == labels).all() and _ > 0:
            break
        labels = new
        for k in range(2):
            if (labels == k).any():
                centers[k] = x[labels == k].mean()
    return labels


def fit_gmm_1d(
    x: np.ndarray, *, max_iter: int = 10, tol: float = 1e-2, reg_covar: float = 5e-4
) -> np.ndarray:
    """Posterior of the lower-mean component of a 2-Gaussian mixture fitted to ``x (n,)``.

    EM stops when the mean log-likelihood changes by less than ``tol`` (as sklearn).
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if x.shape[0] < 2 or np.ptp(x) == 0:
        return np.ones_like(x)
    resp = np.eye(2)[_kmeans_2(x)]
    means, var, w = _gauss_m_step(x, resp, reg_covar)
    lower = -np.inf
    for _ in range(max_iter):
        log_lik = _gauss_log_lik(x, means, var, w)
        norm = np.logaddexp(log_lik[:, 0], log_lik[:, 1])
        resp = np.exp(log_lik - norm[:, None])
        means, var, w = _gauss_m_step(x, resp, reg_covar)
        prev, lower = lower, norm.mean()
        if abs(lower - prev) < tol:
            break
    log_lik = _gauss_log_lik(x, means, var, w)
    post = np.exp(log_lik - np.logaddexp(log_lik[:, 0], log_lik[:, 1])[:, None])
    return post[:, int(np.argmin(means))]


def _beta_moments(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted method-of-moments ``(alpha, beta)``."""
    mean = float((w * x).sum() / w.sum())
    var = float((w * (x - mean) ** 2).sum() / w.sum())
    common = max(mean * (1 - mean) / max(var, 1e-12) - 1.0, 1e-3)
    return max(mean * common, 1e-2), max((1 - mean) * common, 1e-2)


def fit_bmm_1d(
    x: np.ndarray, *, max_iter: int = 10, eps: float = 1e-4, trim: float = 5.0
) -> np.ndarray:
    """Posterior of the lower-mean component of a 2-beta mixture fitted to losses ``x (n,)``.

    As Arazo et al.: losses are scaled to ``[0, 1]`` between their ``trim`` and
    ``100 - trim`` percentiles (clipped to ``[eps, 1 - eps]``), the mixture is initialised at
    ``Beta(1, 2)`` / ``Beta(2, 1)`` with equal weights and fitted on the values inside the
    percentile range. As the authors' lookup-table fix, the clean posterior is made
    non-increasing in the loss (a U-shaped clean component must not claim the largest losses).
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    lo, hi = np.percentile(x, [trim, 100 - trim]) if x.shape[0] else (0.0, 0.0)
    if x.shape[0] < 2 or hi <= lo:
        return np.ones_like(x)
    inside = x[(x >= lo) & (x <= hi)]

    def scale(v: np.ndarray) -> np.ndarray:
        return np.clip((v - lo) / (hi - lo), eps, 1 - eps)

    fit_x = scale(inside)
    a, b, w = np.array([1.0, 2.0]), np.array([2.0, 1.0]), np.array([0.5, 0.5])

    def responsibilities(v: np.ndarray) -> np.ndarray:
        lik = np.stack([w[k] * stats.beta.pdf(v, a[k], b[k]) for k in range(2)])
        lik = np.maximum(lik, 1e-12)
        return lik / lik.sum(0, keepdims=True)

    for _ in range(max_iter):
        r = responsibilities(fit_x)
        for k in range(2):
            a[k], b[k] = _beta_moments(fit_x, r[k])
        w = r.sum(1) / r.sum()
    clean = int(np.argmin(a / (a + b)))
    post = responsibilities(scale(x))[clean]
    order = np.argsort(x, kind="stable")
    post[order] = np.minimum.accumulate(post[order])
    return post
