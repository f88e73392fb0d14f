"""Regression label-quality scores against cleanlab's on the same predictions."""

from __future__ import annotations

import numpy as np
import pytest
from cleanlab.regression.rank import get_label_quality_scores
from sklearn.linear_model import LinearRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import KFold, cross_val_predict

from labelnoise.common.detection.regression import (
    combined_quality,
    fit_linear_uniform_mixture,
    fit_uniform_mixture,
    mixture_quality,
    neighbor_agreement_quality,
    recalibrate,
    residual_quality,
    robust_scale,
)


def _noisy_linear(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=n)
    bad = rng.random(n) < 0.3
    y_noisy = np.where(bad, rng.uniform(y.min(), y.max(), n), y)
    pred = cross_val_predict(
        LinearRegression(), x, y_noisy, cv=KFold(5, shuffle=True, random_state=0)
    )
    return x, y_noisy, bad, pred


def test_residual_quality_equals_cleanlab_residual_at_unit_scale():
    _, y, _, pred = _noisy_linear()
    ref = get_label_quality_scores(y, pred, method="residual")
    np.testing.assert_allclose(
        residual_quality(y, pred, scale=1.0, recalibrated=False), ref, rtol=1e-12
    )


def test_detection_auprc_at_least_cleanlab_outre_on_same_predictions():
    x, y, bad, pred = _noisy_linear()
    outre = average_precision_score(bad, 1 - get_label_quality_scores(y, pred))
    ours = average_precision_score(bad, 1 - residual_quality(y, pred))
    both = average_precision_score(bad, 1 - combined_quality(y, pred, x))
    assert ours >= outre
    assert both >= outre - 0.02
    # the recalibration is what beats cleanlab here: the raw residual does not
    raw = average_precision_score(bad, 1 - residual_quality(y, pred, recalibrated=False))
    assert raw < ours
    nbr = average_precision_score(bad, 1 - neighbor_agreement_quality(y, x, k=10))
    assert nbr > 0.6  # chance level is the noise rate, ~0.3


def test_scores_in_unit_interval_and_standardised_residuals():
    _, y, _, pred = _noisy_linear(80)
    q = residual_quality(y, pred, std=np.full(80, 2.0), recalibrated=False)
    np.testing.assert_allclose(q, np.exp(-np.abs(y - pred) / 2.0))
    for s in (residual_quality(y, pred), neighbor_agreement_quality(y, y[:, None], k=3)):
        assert s.min() >= 0 and s.max() <= 1
    r = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    assert robust_scale(r) == pytest.approx(1.4826)  # MAD of r is 1


def test_neighbour_agreement_by_hand_and_duplicates():
    y = np.array([0.0, 0.0, 0.0, 10.0])
    x = np.array([[0.0], [0.0], [1.0], [1.0]])  # duplicates at 0: self may not come first
    q = neighbor_agreement_quality(y, x, k=1, bandwidth=1.0)
    np.testing.assert_allclose(q, [1.0, 1.0, np.exp(-50.0), np.exp(-50.0)])


def test_recalibration_undoes_shrinkage():
    rng = np.random.default_rng(1)
    y = rng.normal(size=200)
    shrunk = 0.5 * y + 3.0 + 0.01 * rng.normal(size=200)  # predictions shrunk by noise
    labels = y.copy()
    labels[:50] = rng.uniform(-8, 8, size=50)  # a corrupted minority of labels
    err = np.abs(recalibrate(labels, shrunk) - y)[50:]
    ols = np.polyval(np.polyfit(shrunk, labels, 1), shrunk)  # least squares is pulled away
    assert err.max() < 0.1 < np.abs(ols - y)[50:].max()


def test_bad_inputs():
    y = np.arange(5.0)
    with pytest.raises(ValueError, match=r"predictions must have shape \(5,\)"):
        residual_quality(y, y[:3])
    with pytest.raises(ValueError, match="labels must be finite; got NaN"):
        residual_quality(np.array([1.0, np.nan]), np.zeros(2))
    with pytest.raises(ValueError, match="std must be positive"):
        residual_quality(y, y, std=np.zeros(5))
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 5\)"):
        neighbor_agreement_quality(y, y[:, None], k=5)
    with pytest.raises(ValueError, match=r"features must have shape \(5, D\)"):
        neighbor_agreement_quality(y, y)


def _mixture_nll(theta, y, p, span):
    a, b, log_s, logit_rho = theta
    s, rho = np.exp(log_s), 1 / (1 + np.exp(-logit_rho))
    clean = (1 - rho) * np.exp(-0.5 * ((y - a - b * p) / s) ** 2) / (s * np.sqrt(2 * np.pi))
    return -np.log(clean + rho / span).sum()


def test_uniform_mixture_em_matches_direct_likelihood_maximisation():
    from scipy.optimize import minimize

    rng = np.random.default_rng(3)
    p = rng.normal(size=400)
    y = 1.0 + 0.6 * p + 0.2 * rng.normal(size=400)  # shrunk predictions: slope 0.6
    bad = rng.random(400) < 0.35
    y[bad] = rng.uniform(y.min(), y.max(), bad.sum())
    fit = fit_uniform_mixture(y, p)
    span = np.ptp(y)
    ref = minimize(
        _mixture_nll,
        x0=[0.0, 1.0, 0.0, 0.0],
        args=(y, p, span),
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 20000, "maxfev": 20000},
    ).x
    a, b = np.polyfit(p, fit.fitted, 1)[::-1]
    np.testing.assert_allclose([a, b], ref[:2], atol=2e-3)
    assert fit.scale == pytest.approx(np.exp(ref[2]), rel=5e-3)
    assert fit.noise_rate == pytest.approx(1 / (1 + np.exp(-ref[3])), abs=2e-3)
    assert abs(fit.noise_rate - bad.mean()) < 0.06
    # the posterior is Bayes' rule at the fitted parameters
    s, rho = fit.scale, fit.noise_rate
    dens = (1 - rho) * np.exp(-0.5 * ((y - fit.fitted) / s) ** 2) / (s * np.sqrt(2 * np.pi))
    np.testing.assert_allclose(fit.clean_posterior, dens / (dens + rho / span), rtol=1e-9)
    np.testing.assert_array_equal(mixture_quality(y, p), fit.clean_posterior)


def test_mixture_scores_beat_cleanlab_outre_on_same_predictions():
    x, y, bad, pred = _noisy_linear(400, seed=4)
    outre = average_precision_score(bad, 1 - get_label_quality_scores(y, pred))
    for q in (mixture_quality(y, pred), combined_quality(y, pred, x)):
        assert q.min() >= 0 and q.max() <= 1
        assert average_precision_score(bad, 1 - q) >= outre


def test_uniform_mixture_degenerate_and_bad_inputs():
    fit = fit_uniform_mixture(np.full(5, 2.0), np.arange(5.0))  # constant labels: all clean
    assert fit.noise_rate == 0.0 and (fit.clean_posterior == 1).all()
    flat = fit_uniform_mixture(np.array([0.0, 1.0, 0.1, 5.0]), np.zeros(4))  # constant preds
    assert flat.clean_posterior[3] < flat.clean_posterior[0]
    with pytest.raises(ValueError, match=r"predictions must have shape \(3,\)"):
        fit_uniform_mixture(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="max_iter must be an integer >= 1"):
        fit_uniform_mixture(np.zeros(3), np.zeros(3), max_iter=0)
    with pytest.raises(ValueError, match="labels must be finite"):
        mixture_quality(np.array([0.0, np.nan]), np.zeros(2))


def _linear_mixture_nll(theta, y, design, span):
    coef, log_s, logit_rho = theta[:-2], theta[-2], theta[-1]
    s, rho = np.exp(log_s), 1 / (1 + np.exp(-logit_rho))
    r = y - design @ coef
    clean = (1 - rho) * np.exp(-0.5 * (r / s) ** 2) / (s * np.sqrt(2 * np.pi))
    return -np.log(clean + rho / span).sum()


def test_linear_mixture_matches_direct_likelihood_and_recovers_the_clean_line():
    from scipy.optimize import minimize

    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 2))
    y = 0.5 + x @ np.array([2.0, -1.0]) + 0.3 * rng.normal(size=300)
    bad = rng.random(300) < 0.4
    y[bad] = rng.uniform(y.min(), y.max(), bad.sum())
    fit = fit_linear_uniform_mixture(y, x)
    design = np.column_stack([np.ones(300), x])
    ref = minimize(
        _linear_mixture_nll,
        x0=[*fit.coef, np.log(fit.scale), np.log(fit.noise_rate / (1 - fit.noise_rate))],
        args=(y, design, np.ptp(y)),
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 20000, "maxfev": 20000},
    )
    # EM stops at a maximum of the likelihood: a direct search from there finds nothing better
    start = [*fit.coef, np.log(fit.scale), np.log(fit.noise_rate / (1 - fit.noise_rate))]
    assert _linear_mixture_nll(start, y, design, np.ptp(y)) <= ref.fun + 1e-4
    np.testing.assert_allclose(fit.coef, ref.x[:3], atol=2e-3)
    ols = LinearRegression().fit(x, y)
    assert np.abs(fit.coef - [0.5, 2.0, -1.0]).max() < 0.1
    assert np.abs(ols.coef_ - [2.0, -1.0]).max() > 0.5  # OLS is pulled to the centre
    np.testing.assert_allclose(fit.predict(x[:5]), fit.fitted[:5], rtol=1e-12)
    assert abs(fit.noise_rate - bad.mean()) < 0.06


def test_linear_mixture_without_noise_is_ordinary_least_squares():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(200, 3))
    y = x @ np.array([1.0, 0.0, -0.5]) + 0.1 * rng.normal(size=200)
    fit = fit_linear_uniform_mixture(y, x)
    ols = LinearRegression().fit(x, y)
    np.testing.assert_allclose(fit.coef, [ols.intercept_, *ols.coef_], atol=1e-3)
    assert fit.noise_rate < 0.02
    # one feature: the same EM as fit_uniform_mixture on that feature as "predictions"
    one = fit_linear_uniform_mixture(y, x[:, :1])
    np.testing.assert_allclose(one.coef, fit_uniform_mixture(y, x[:, 0]).coef, atol=1e-6)
    for bad, match in (
        (x[:10], r"features must have shape \(200, D\)"),
        (x[:, 0], r"features must have shape \(200, D\)"),
        (np.where(np.eye(200, 3) > 0, np.nan, x), "features must be finite"),
    ):
        with pytest.raises(ValueError, match=match):
            fit_linear_uniform_mixture(y, bad)
    with pytest.raises(ValueError, match="more rows than columns"):
        fit_linear_uniform_mixture(y[:3], x[:3])
    with pytest.raises(ValueError, match=r"features must have shape \(M, 3\)"):
        fit.predict(x[:, :2])
