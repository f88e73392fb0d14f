"""``NoisyRegressor``: the scikit-learn-like wrapper is one engine run, nothing more."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.tasks.regression import MLP, NoisyRegressor

RECIPE = {
    "name": "wrapper",
    "task": {"name": "regression", "hidden": [8]},
    "loss": {"name": "mse"},
    "data": {"batch_size": 32},
    "optim": {"lr": 0.01, "scheduler": "cosine"},
    "train": {"epochs": 4, "select_by": "last", "progress": False, "num_threads": 1},
    "detection": {"method": "none"},
    "variants": {"mixture": {"method": {"name": "mixture_refit", "pilot": "linear"}}},
}


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = 5.0 + 3.0 * x[:, 0] - x[:, 1] + 0.1 * rng.normal(size=n)
    y[::5] = rng.uniform(-10, 20, size=len(y[::5]))  # 20 % uniform replacement
    return x, y


def test_wrapper_matches_a_direct_engine_run_and_writes_nothing_in_cwd(tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    x, y = _data()
    model = NoisyRegressor(RECIPE, variant="mixture", seed=3).fit(x, y)
    assert list(work.iterdir()) == []  # a temporary run directory, removed after fit
    # the same run by hand: the arrays as a .npz dataset, no split, no simulated noise
    np.savez(tmp_path / "d.npz", x=x, y=y)
    over = {
        "seed": 3,
        "output_dir": str(tmp_path / "direct"),
        "task": {"dataset": str(tmp_path / "d.npz"), "val_fraction": 0.0, "test_fraction": 0.0},
    }
    metrics = train(resolve(RECIPE, over, variant="mixture"))
    assert metrics["method"] == model.metrics_["method"] == "mixture_refit"
    assert metrics["train"]["steps"] == model.metrics_["train"]["steps"] == 4 * 4
    state = torch.load(tmp_path / "direct" / "best_model.pt", weights_only=True)
    assert all(torch.equal(state[k], model.model_.state_dict()[k]) for k in state)
    # predict: the adapter's standardisation around the same network, in target units
    net = MLP(3, hidden=[8])
    net.load_state_dict(state)
    xs = (x - x.mean(0)) / x.std(0)
    center = np.median(y)
    scale = 1.4826 * np.median(np.abs(y - center))
    with torch.no_grad():
        ref = net(torch.from_numpy(xs.astype(np.float32))).double().numpy() * scale + center
    np.testing.assert_allclose(model.predict(x), ref, rtol=1e-4, atol=1e-4)
    assert np.abs(model.predict(x) - (5.0 + 3.0 * x[:, 0] - x[:, 1])).mean() < 3.0


def test_run_dir_keeps_the_run_and_errors_name_the_problem(tmp_path):
    x, y = _data(60)
    model = NoisyRegressor(RECIPE, run_dir=tmp_path / "run").fit(x, y)
    assert (tmp_path / "run" / "metrics.json").is_file()
    with pytest.raises(FileExistsError, match="already holds a run"):
        NoisyRegressor(RECIPE, run_dir=tmp_path / "run").fit(x, y)
    NoisyRegressor(RECIPE, run_dir=tmp_path / "run", overwrite=True).fit(x, y)
    with pytest.raises(ValueError, match="predict_std needs task.variance_head: true"):
        model.predict_std(x)
    with pytest.raises(ValueError, match=r"x must have shape \(60, D\)"):
        NoisyRegressor(RECIPE).fit(x[:10], y)
    with pytest.raises(ValueError, match="predict needs a fitted model"):
        NoisyRegressor(RECIPE).predict(x)
    heavy = NoisyRegressor(
        RECIPE, overrides={"task": {"variance_head": True}, "loss": {"name": "gaussian_nll"}}
    ).fit(x, y)
    assert heavy.predict_std(x).shape == (60,) and (heavy.predict_std(x) > 0).all()
