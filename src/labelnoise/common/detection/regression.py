"""Label-issue scores for continuous targets: residuals, a noise mixture, neighbour agreement.

All scores are label quality in ``[0, 1]``, higher = cleaner (cleanlab's convention, so
they sit side by side with ``cleanlab.regression.rank.get_label_quality_scores``).

* :func:`residual_quality` -- ``exp(-|y - y_hat| / s)``: the residual of an out-of-sample
  prediction (cross-validated, or from a model trained with a robust method) in units of a
  robust scale ``s`` (1.4826 x the median absolute residual), or of a per-sample predicted
  standard deviation (a variance head, Nix & Weigend 1994) -- standardised residuals. By
  default the predictions are first recalibrated, ``y_hat -> a + b y_hat`` with ``(a, b)``
  a robust (Cauchy-weighted, iteratively reweighted least squares) fit of the labels on the
  predictions: a model trained on noisy targets shrinks its predictions towards the centre
  of the corrupting distribution (e.g. by ``1 - rate`` under uniform replacement), which
  inflates the residuals of clean labels far from the centre; the robust fit, led by the
  clean majority, undoes that shrinkage.
* :func:`neighbor_agreement_quality` -- how well a label agrees with the labels of its
  ``k`` nearest neighbours in a feature space: ``mean_j exp(-(y_i - y_j)^2 / (2 tau^2))``
  over the neighbours ``j`` (self excluded), ``tau`` a robust scale of the neighbour
  disagreements. Needs no trained regressor; it is the kNN agreement idea of ConFrag
  (Kim et al., NeurIPS 2024) and of kNN label cleaning (Bahri et al., ICML 2020) for a
  continuous label.
* :func:`fit_uniform_mixture` / :func:`mixture_quality` -- the label model of symmetric
  regression noise: a clean label is ``N(a + b y_hat, sigma^2)`` around the (recalibrated)
  prediction, a corrupted one is uniform over the observed label range, with rate ``rho``.
  EM (Aitkin & Wilson, "Mixture models, outliers, and the EM algorithm", Technometrics 1980)
  fits ``(a, b, sigma, rho)``; the quality is the posterior probability that a label is clean.
  Unlike a median-based scale, the clean component's ``sigma`` and the recalibration line are
  weighted by the clean posterior, which matters once most labels are corrupted.
  :func:`fit_linear_uniform_mixture` is the same EM with a linear model of the features as
  the clean mean: robust linear regression that needs no trained model.
* :func:`combined_quality` -- the geometric mean of the neighbour agreement and the residual
  quality ``exp(-|y - a - b y_hat| / sigma)`` under the fitted mixture: two independent views
  of a label (the model's prediction and the labels of its neighbours in feature space).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy.spatial import cKDTree
from scipy.special import expit

__all__ = [
    "UniformMixtureFit",
    "combined_quality",
    "fit_linear_uniform_mixture",
    "fit_uniform_mixture",
    "mixture_quality",
    "neighbor_agreement_quality",
    "recalibrate",
    "residual_quality",
    "robust_scale",
]

_MAD_TO_STD = 1.4826
_TINY = 1e-12


def _as_float(name: str, x: object) -> np.ndarray:
    """A float64 numpy copy of a numeric array-like or tensor."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be a numeric array; got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _vector(name: str, x: object, n: int | None = None) -> np.ndarray:
    arr = _as_float(name, x)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must have shape (N,); got {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty; got 0 elements")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},); got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; got {'NaN' if np.isnan(arr).any() else 'inf'}")
    return arr


def robust_scale(x: np.ndarray) -> float:
    """``1.4826 * median(|x - median(x)|)`` (the MAD, a consistent std estimate for normal
    data); falls back to the standard deviation, then 1, when the MAD is 0."""
    mad = _MAD_TO_STD * float(np.median(np.abs(x - np.median(x))))
    if mad > _TINY:
        return mad
    sd = float(np.std(x))
    return sd if sd > _TINY else 1.0


def recalibrate(labels: np.ndarray, predictions: np.ndarray, *, iterations: int = 20) -> np.ndarray:
    """``a + b * predictions`` with ``(a, b)`` a robust linear fit of ``labels`` on
    ``predictions``: IRLS with Cauchy weights ``1 / (1 + (r / s)^2)``, ``s`` the robust scale
    of the current residuals (``(N,)`` float64 arrays in and out)."""
    design = np.stack([np.ones_like(predictions), predictions], axis=1)
    return design @ _cauchy_irls(design, labels, np.array([0.0, 1.0]), iterations)


def _cauchy_irls(
    design: np.ndarray, y: np.ndarray, coef: np.ndarray, iterations: int
) -> np.ndarray:
    """Cauchy-weighted iteratively reweighted least squares of ``y`` on ``design`` from ``coef``."""
    for _ in range(iterations):
        r = y - design @ coef
        w = np.sqrt(1.0 / (1.0 + (r / robust_scale(r)) ** 2))
        coef = np.linalg.lstsq(design * w[:, None], y * w, rcond=None)[0]
    return coef


def residual_quality(
    labels: np.ndarray | torch.Tensor,
    predictions: np.ndarray | torch.Tensor,
    *,
    std: np.ndarray | torch.Tensor | None = None,
    scale: float | None = None,
    recalibrated: bool = True,
) -> np.ndarray:
    """Residual label quality ``exp(-|labels - predictions| / s)``.

    Args:
        labels: ``(N,)`` given (possibly noisy) targets.
        predictions: ``(N,)`` out-of-sample predictions.
        std: optional ``(N,)`` predicted standard deviation per sample (``> 0``); then
            ``s = std`` (standardised residuals).
        scale: global ``s`` (``> 0``); default the robust scale of the residuals. Ignored
            when ``std`` is given.
        recalibrated: first map the predictions through :func:`recalibrate` (default True;
            False with ``scale=1`` is cleanlab's ``method="residual"``).

    Returns:
        ``(N,)`` float64 in ``[0, 1]``; higher = cleaner.
    """
    y = _vector("labels", labels)
    p = _vector("predictions", predictions, y.shape[0])
    if recalibrated and np.ptp(p) > 0:
        p = recalibrate(y, p)
    r = np.abs(y - p)
    if std is not None:
        s = _vector("std", std, y.shape[0])
        if float(s.min()) <= 0:
            raise ValueError(f"std must be positive; got min {float(s.min()):.4g}")
        return np.exp(-r / s)
    if scale is None:
        s0 = robust_scale(y - p)
    else:
        s0 = float(scale)
        if not np.isfinite(s0) or s0 <= 0:
            raise ValueError(f"scale must be a positive number; got {scale!r}")
    return np.exp(-r / s0)


def neighbor_agreement_quality(
    labels: np.ndarray | torch.Tensor,
    features: np.ndarray | torch.Tensor,
    *,
    k: int = 10,
    bandwidth: float | None = None,
) -> np.ndarray:
    """Agreement of each label with its ``k`` nearest neighbours' labels in ``features``.

    Args:
        labels: ``(N,)`` targets.
        features: ``(N, D)`` features (inputs, or a network's embedding); Euclidean distance.
        k: neighbours per sample (self excluded), ``1 <= k < N`` (default 10).
        bandwidth: kernel width ``tau``; default the robust scale of ``y_i - median(y_nbrs)``.

    Returns:
        ``(N,)`` float64 in ``[0, 1]``: ``mean_j exp(-(y_i - y_j)^2 / (2 tau^2))``.
    """
    y = _vector("labels", labels)
    x = _as_float("features", features)
    n = y.shape[0]
    if x.ndim != 2 or x.shape[0] != n:
        raise ValueError(f"features must have shape ({n}, D); got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("features must be finite; got NaN or inf")
    if not isinstance(k, (int, np.integer)) or not 1 <= k < n:
        raise ValueError(f"k must be an integer in [1, {n}); got {k!r}")
    _, idx = cKDTree(x).query(x, k=k + 1)
    nbr = _drop_self(idx, np.arange(n))
    diff = y[:, None] - y[nbr]
    if bandwidth is None:
        tau = robust_scale(y - np.median(y[nbr], axis=1))
    else:
        tau = float(bandwidth)
        if not np.isfinite(tau) or tau <= 0:
            raise ValueError(f"bandwidth must be a positive number; got {bandwidth!r}")
    return np.exp(-(diff**2) / (2 * tau * tau)).mean(axis=1)


def _drop_self(idx: np.ndarray, self_idx: np.ndarray) -> np.ndarray:
    """``(N, k + 1)`` neighbour lists -> ``(N, k)`` without the query point itself (duplicate
    points may put it anywhere in the list, or push it out)."""
    is_self = idx == self_idx[:, None]
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), idx.shape[1] - 1)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(idx.shape[0]), drop] = False
    return idx[keep].reshape(idx.shape[0], idx.shape[1] - 1)


@dataclass(frozen=True)
class UniformMixtureFit:
    """Result of :func:`fit_uniform_mixture` and :func:`fit_linear_uniform_mixture`.

    Attributes:
        fitted: ``(N,)`` clean-component mean (``a + b * predictions``, or ``X @ w + a``).
        scale: ``sigma`` of the clean component.
        noise_rate: ``rho``, the estimated fraction of corrupted labels.
        clean_posterior: ``(N,)`` posterior probability that each label is clean.
        coef: the clean component's regression coefficients, intercept first
            (``(2,)``: ``(a, b)``; ``(D + 1,)`` for :func:`fit_linear_uniform_mixture`).
    """

    fitted: np.ndarray
    scale: float
    noise_rate: float
    clean_posterior: np.ndarray
    coef: np.ndarray

    def predict(self, features: np.ndarray | torch.Tensor) -> np.ndarray:
        """Clean-component mean for new ``(M, D)`` features (``D = len(coef) - 1``)."""
        x = _as_float("features", features)
        if x.ndim != 2 or x.shape[1] != len(self.coef) - 1:
            raise ValueError(f"features must have shape (M, {len(self.coef) - 1}); got {x.shape}")
        return self.coef[0] + x @ self.coef[1:]


def fit_uniform_mixture(
    labels: np.ndarray | torch.Tensor,
    predictions: np.ndarray | torch.Tensor,
    *,
    max_iter: int = 200,
    tol: float = 1e-8,
) -> UniformMixtureFit:
    """EM for ``labels ~ (1 - rho) N(a + b predictions, sigma^2) + rho U[min, max]``.

    Args:
        labels: ``(N,)`` given targets; predictions: ``(N,)`` predictions of them.
        max_iter: EM iterations at most (default 200); tol: stop when no parameter of
            ``(a, b, sigma, rho)`` moves by more than ``tol`` (relative to the label range).

    Starts from the Cauchy-weighted line of :func:`recalibrate` and its robust scale, with
    ``rho = 0.5``. Returns :class:`UniformMixtureFit`.
    """
    y = _vector("labels", labels)
    p = _vector("predictions", predictions, y.shape[0])
    _check_max_iter(max_iter)
    if np.ptp(p) > 0:
        design = np.stack([np.ones_like(p), p], axis=1)
        start = _cauchy_irls(design, y, np.array([0.0, 1.0]), 20)
    else:
        design, start = np.ones((len(p), 1)), np.array([np.median(y)])
    fit = _fit_uniform_mixture(y, design, start, int(max_iter), float(tol))
    if fit.coef.shape[0] == 1:  # constant predictions: report slope 0
        fit = replace(fit, coef=np.array([fit.coef[0], 0.0]))
    return fit


def fit_linear_uniform_mixture(
    labels: np.ndarray | torch.Tensor,
    features: np.ndarray | torch.Tensor,
    *,
    max_iter: int = 200,
    tol: float = 1e-8,
) -> UniformMixtureFit:
    """EM for ``labels ~ (1 - rho) N(a + features @ w, sigma^2) + rho U[min, max]``.

    Mixture-model robust linear regression (Aitkin & Wilson, Technometrics 1980): the clean
    labels follow a linear model with Gaussian errors, the corrupted ones (symmetric /
    uniform-replacement noise) are uniform over the observed label range. Needs no trained
    model and no noise rate; on a few hundred rows it is a stable first stage for
    the ``mixture_refit`` method (:mod:`labelnoise.methods.mixture_refit`, ``pilot: linear``).

    Args:
        labels: ``(N,)`` given targets; features: ``(N, D)`` with ``N > D + 1``.
        max_iter: as :func:`fit_uniform_mixture`.
        tol: as :func:`fit_uniform_mixture`.

    Starts from ordinary least squares refined by Cauchy-weighted IRLS (20 iterations), its
    robust residual scale and ``rho = 0.5``. Returns :class:`UniformMixtureFit` (``coef``:
    ``(D + 1,)``, intercept first; ``predict`` applies it to new features).
    """
    y = _vector("labels", labels)
    x = _as_float("features", features)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"features must have shape ({y.shape[0]}, D); got {x.shape}")
    if x.shape[0] <= x.shape[1] + 1:
        raise ValueError(f"features must have more rows than columns + 1; got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("features must be finite; got NaN or inf")
    _check_max_iter(max_iter)
    design = np.concatenate([np.ones((len(y), 1)), x], axis=1)
    start = _cauchy_irls(design, y, np.linalg.lstsq(design, y, rcond=None)[0], 20)
    return _fit_uniform_mixture(y, design, start, int(max_iter), float(tol))


def _check_max_iter(max_iter: object) -> None:
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1; got {max_iter!r}")


def _fit_uniform_mixture(
    y: np.ndarray, design: np.ndarray, coef: np.ndarray, max_iter: int, tol: float
) -> UniformMixtureFit:
    """EM from the regression coefficients ``coef`` of ``y`` on ``design``."""
    span = float(np.ptp(y))
    fitted = design @ coef
    if span <= _TINY:
        return UniformMixtureFit(y.copy(), 1.0, 0.0, np.ones_like(y), coef)
    sigma, rho = robust_scale(y - fitted), 0.5
    floor = 1e-9 * span
    for _ in range(max_iter):
        w = _clean_posterior(y - fitted, sigma, rho, span)
        rho_new = float(np.clip(1.0 - w.mean(), 1e-6, 1.0 - 1e-6))
        sw = np.sqrt(w)
        coef_new = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)[0]
        fitted = design @ coef_new
        sigma_new = max(float(np.sqrt((w * (y - fitted) ** 2).sum() / w.sum())), floor)
        moved = max(
            float(np.abs(coef_new - coef).max()) / span,
            abs(sigma_new - sigma) / span,
            abs(rho_new - rho),
        )
        coef, sigma, rho = coef_new, sigma_new, rho_new
        if moved < tol:
            break
    post = _clean_posterior(y - fitted, sigma, rho, span)
    return UniformMixtureFit(fitted, sigma, rho, post, coef)


def _clean_posterior(r: np.ndarray, sigma: float, rho: float, span: float) -> np.ndarray:
    """``P(clean | r)`` for a ``N(0, sigma^2)`` clean and a ``U`` (width ``span``) noisy part."""
    log_clean = np.log1p(-rho) - 0.5 * (r / sigma) ** 2 - np.log(sigma * np.sqrt(2 * np.pi))
    log_noisy = np.log(rho) - np.log(span)
    return expit(log_clean - log_noisy)


def mixture_quality(
    labels: np.ndarray | torch.Tensor, predictions: np.ndarray | torch.Tensor
) -> np.ndarray:
    """Posterior probability that each label is clean under :func:`fit_uniform_mixture`.

    Args:
        labels: ``(N,)`` given (possibly noisy) targets.
        predictions: ``(N,)`` out-of-sample predictions.

    Returns:
        ``(N,)`` float64 in ``[0, 1]``; higher = cleaner.
    """
    return fit_uniform_mixture(labels, predictions).clean_posterior


def combined_quality(
    labels: np.ndarray | torch.Tensor,
    predictions: np.ndarray | torch.Tensor,
    features: np.ndarray | torch.Tensor,
    *,
    k: int = 10,
) -> np.ndarray:
    """Geometric mean of the mixture residual quality and :func:`neighbor_agreement_quality`.

    Args:
        labels: ``(N,)`` targets; predictions: ``(N,)`` out-of-sample predictions;
        features: ``(N, D)`` features for the neighbours; k: neighbours (default 10).

    Returns:
        ``(N,)`` float64 in ``[0, 1]``: ``sqrt(exp(-|y - a - b y_hat| / sigma) * agreement)``
        with ``(a, b, sigma)`` from :func:`fit_uniform_mixture`; higher = cleaner.
    """
    fit = fit_uniform_mixture(labels, predictions)
    res = np.exp(-np.abs(_vector("labels", labels) - fit.fitted) / fit.scale)
    nbr = neighbor_agreement_quality(labels, features, k=k)
    return np.sqrt(res * nbr)
