"""Training, ConFrag and the scikit-learn wrapper on tiny data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold, cross_val_predict

from labelnoise.common.noise import uniform_replacement
from labelnoise.tasks.regression import (
    ConFragConfig,
    SklearnRegressor,
    TrainConfig,
    confrag_select,
    contrastive_pairs,
    cross_val_predictions,
    error_residual_ratio,
    fit_mixture_refit,
    fit_mlp,
)
from labelnoise.tasks.regression.confrag import fragment_of

FAST = TrainConfig(hidden=(16,), epochs=20, batch_size=64, lr=1e-2)


def _data(n=300, rate=0.4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    y = 3 * x[:, 0] + np.sin(3 * x[:, 1]) + 0.05 * rng.normal(size=n)
    noisy = uniform_replacement(y, rate=rate, seed=seed)
    return x, y, noisy.noisy.numpy(), noisy.is_corrupted.numpy()


def test_cauchy_beats_mse_under_uniform_replacement():
    x, y, y_noisy, _ = _data()
    errs = {}
    for loss in ("mse", "cauchy"):
        model = fit_mlp(x, y_noisy, loss=loss, config=FAST, seed=0)
        errs[loss] = np.abs(model.predict(x) - y).mean()
    assert errs["cauchy"] < 0.7 * errs["mse"]


def test_variance_head_predicts_positive_std_and_seeds_repeat():
    x, _, y_noisy, _ = _data(200)
    m = fit_mlp(x, y_noisy, loss="gaussian_nll", config=FAST, seed=3)
    assert (m.predict_std(x) > 0).all()
    again = fit_mlp(x, y_noisy, loss="gaussian_nll", config=FAST, seed=3)
    np.testing.assert_array_equal(m.predict(x), again.predict(x))
    with pytest.raises(ValueError, match="predict_std needs"):
        fit_mlp(x, y_noisy, config=FAST).predict_std(x)


def test_small_loss_selection_trains_and_bad_options_raise():
    x, y, y_noisy, _ = _data()
    m = fit_mlp(x, y_noisy, forget_rate=0.4, warmup_epochs=5, config=FAST)
    base = fit_mlp(x, y_noisy, config=FAST)
    assert np.abs(m.predict(x) - y).mean() < np.abs(base.predict(x) - y).mean()
    with pytest.raises(ValueError, match="loss must be one of"):
        fit_mlp(x, y_noisy, loss="l1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"x must have shape \(300, D\)"):
        fit_mlp(x[:10], y_noisy)


def test_fragments_and_contrastive_pairs():
    assert contrastive_pairs(4) == [(0, 2), (1, 3)]
    assert contrastive_pairs(6) == [(0, 3), (1, 4), (2, 5)]
    with pytest.raises(ValueError, match="fragments must be an even integer"):
        contrastive_pairs(5)
    frag, edges = fragment_of(np.array([5.0, 1.0, 1.0, 1.0, 9.0, 7.0, 3.0, 2.0]), 4)
    assert np.bincount(frag).tolist() == [2, 2, 2, 2]
    assert frag.tolist() == [2, 0, 0, 1, 3, 3, 2, 1]
    assert edges[0] == 1.0 and edges[-1] == 9.0


def test_confrag_selects_mostly_clean_samples():
    x, y, y_noisy, bad = _data(400)
    cfg = ConFragConfig(epochs=15, batch_size=64, hidden=(32,), feature_dim=16)
    sel = confrag_select(x, y_noisy, config=cfg, seed=0)
    assert sel.score.min() >= 0 and sel.score.max() <= 1
    assert bad[sel.selected].mean() < 0.75 * bad.mean()  # fewer corrupted among the selected
    assert error_residual_ratio(y_noisy, y, sel.selected) < 0.5


def test_cross_val_predictions_match_sklearn():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = x @ np.array([1.0, 2.0, -1.0]) + rng.normal(size=60)
    ref = cross_val_predict(LinearRegression(), x, y, cv=KFold(4, shuffle=True, random_state=7))
    np.testing.assert_allclose(
        cross_val_predictions(LinearRegression(), x, y, folds=4, seed=7), ref
    )
    wrapped = SklearnRegressor(LinearRegression())
    np.testing.assert_allclose(cross_val_predictions(wrapped, x, y, folds=4, seed=7), ref)
    with pytest.raises(ValueError, match="estimator must have fit and predict"):
        SklearnRegressor(object())
    with pytest.raises(ValueError, match=r"folds must be an integer in \[2, 60\]"):
        cross_val_predictions(LinearRegression(), x, y, folds=1)


def test_unit_sample_weights_match_the_unweighted_fit_and_bad_weights_raise():
    x, _, y_noisy, _ = _data(200)
    plain = fit_mlp(x, y_noisy, config=FAST, seed=1).predict(x)
    ones = fit_mlp(x, y_noisy, sample_weight=np.ones(200), config=FAST, seed=1).predict(x)
    np.testing.assert_allclose(ones, plain, rtol=1e-4, atol=1e-4)
    for bad in (np.ones(5), np.zeros(200), -np.ones(200)):
        with pytest.raises(ValueError, match=r"sample_weight must be \(200,\)"):
            fit_mlp(x, y_noisy, sample_weight=bad, config=FAST)


def test_mixture_refit_down_weights_corrupted_targets_and_beats_mse():
    x, y, y_noisy, bad = _data(400)
    model, mix = fit_mixture_refit(x, y_noisy, config=FAST, seed=0)
    assert mix.weight[bad].mean() < 0.5 < mix.weight[~bad].mean()
    assert abs(mix.noise_rate - bad.mean()) < 0.1
    mse = fit_mlp(x, y_noisy, config=FAST, seed=0)
    assert np.abs(model.predict(x) - y).mean() < 0.7 * np.abs(mse.predict(x) - y).mean()
    with pytest.raises(ValueError, match=r"trim must be in \[0, 1\)"):
        fit_mixture_refit(x, y_noisy, trim=1.0)
    with pytest.raises(ValueError, match="pilot must be 'trimmed' or 'linear'"):
        fit_mixture_refit(x, y_noisy, pilot="ridge")
    with pytest.raises(ValueError, match="rounds must be an integer >= 1"):
        fit_mixture_refit(x, y_noisy, rounds=0)


def test_linear_pilot_mixture_refit_on_a_linear_target():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = x @ np.array([1.0, -1.0, 0.5, 0.0]) + 0.2 * rng.normal(size=300)
    noisy = uniform_replacement(y, rate=0.4, seed=2)
    y_noisy, bad = noisy.noisy.numpy(), noisy.is_corrupted.numpy()
    model, mix = fit_mixture_refit(x, y_noisy, pilot="linear", config=FAST, seed=0)
    np.testing.assert_allclose(mix.pilot, LinearRegression().fit(x, y).predict(x), atol=0.1)
    assert mix.weight[bad].mean() < 0.4 < 0.8 < mix.weight[~bad].mean()
    mse = fit_mlp(x, y_noisy, config=FAST, seed=0)
    assert np.abs(model.predict(x) - y).mean() < 0.6 * np.abs(mse.predict(x) - y).mean()
    two, _ = fit_mixture_refit(x, y_noisy, pilot="linear", rounds=2, config=FAST, seed=0)
    assert np.abs(two.predict(x) - y).mean() < 0.6 * np.abs(mse.predict(x) - y).mean()
