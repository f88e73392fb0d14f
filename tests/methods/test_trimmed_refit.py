"""``method: trimmed_refit`` through the engine on scikit-learn's diabetes (tiny network)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.methods.trimmed_refit import TrimmedRefit, trim_weights

RECIPE = {
    "name": "trimmed_refit",
    "method": {"name": "trimmed_refit", "trim": 0.3},
    "task": {
        "name": "regression",
        "dataset": "diabetes",
        "hidden": [8],
        "val_fraction": 0.0,
        "noise": {"kind": "symmetric", "rate": 0.4},
    },
    "loss": {"name": "mse"},
    "data": {"batch_size": 64},
    "optim": {"lr": 0.01, "scheduler": "cosine"},
    "train": {"epochs": 8, "select_by": "last", "progress": False, "num_threads": 1},
    "detection": {"method": "none"},
}


def _cfg(tmp_path, sub, **over):
    return resolve(RECIPE, {"output_dir": str(tmp_path / sub), **over})


def test_trim_weights_drop_the_largest_residuals():
    y = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    pred = np.array([0.1, 1.0, 9.0, 3.0, 4.5, -5.0, 6.0])  # |r| = .1 0 7 0 .5 10 0
    w = trim_weights(y, pred, 0.3)  # ceil(2.1) = 3 dropped: rows 5, 2, 4
    assert w.tolist() == [1, 1, 0, 1, 0, 0, 1]
    assert trim_weights(y, pred, 0.0).tolist() == [1] * 7


def test_refit_drops_ceil_trim_n_targets_mostly_corrupted(tmp_path):
    metrics = train(_cfg(tmp_path, "t"))
    with np.load(tmp_path / "t" / "clean_weights.npz") as f:
        w, bad = f["weight"], f["target"] != f["clean_target"]
    assert set(np.unique(w)) == {0.0, 1.0}
    assert int((w == 0).sum()) == math.ceil(0.3 * w.size)
    assert bad[w == 0].mean() > 1.25 * bad.mean()  # the pilot ranks corrupted targets last
    assert np.isfinite(metrics["test"]["mae"]) and metrics["selection"]["best_epoch"] == 8


def test_resume_after_interruption_is_exact(tmp_path, monkeypatch):
    straight = train(_cfg(tmp_path, "a"))
    cfg = _cfg(tmp_path, "b")
    original = TrimmedRefit.step

    def crash(self, batch):
        if self.run.state.step == 13:  # in the pilot phase (5 steps per epoch, 4 epochs)
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(TrimmedRefit, "step", crash)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(TrimmedRefit, "step", original)
    resumed = train(cfg, resume=True)
    assert resumed["test"] == straight["test"]
    a, b = (torch.load(tmp_path / d / "best_model.pt") for d in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"trim": -0.1}, r"method.trim must be in \[0, 1\); got -0.1"),
        ({"rounds": 0}, "method.rounds must be an integer >= 1; got 0"),
        ({"pilot": "linear"}, "method.pilot"),
    ],
)
def test_bad_options_name_the_key(tmp_path, options, match):
    with pytest.raises(ValueError, match=match):
        _cfg(tmp_path, "x", method={"name": "trimmed_refit", **options})


def test_wrong_task_is_refused_at_config_time():
    recipe = {"task": {"name": "classification"}, "method": {"name": "trimmed_refit"}}
    with pytest.raises(ValueError, match="method 'trimmed_refit' does not run on task"):
        resolve(recipe)
