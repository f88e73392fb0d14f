"""``method: confrag`` through the engine on scikit-learn's diabetes (tiny networks)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.methods.confrag import ConFrag
from labelnoise.tasks.regression import error_residual_ratio, fragment_of

RECIPE = {
    "name": "confrag",
    "method": {"name": "confrag", "expert_share": 0.5},
    "task": {
        "name": "regression",
        "dataset": "diabetes",
        "hidden": [16],
        "val_fraction": 0.0,
        "noise": {"kind": "symmetric", "rate": 0.4},
    },
    "loss": {"name": "mse"},
    "data": {"batch_size": 64},
    "optim": {"lr": 0.01, "scheduler": "cosine"},
    "train": {"epochs": 16, "select_by": "last", "progress": False, "num_threads": 1},
    "detection": {"method": "none"},
}


def _cfg(tmp_path, sub, **over):
    return resolve(RECIPE, {"output_dir": str(tmp_path / sub), **over})


def test_experts_select_cleaner_samples_and_the_regressor_trains_on_them(tmp_path):
    metrics = train(_cfg(tmp_path, "c"))
    with np.load(tmp_path / "c" / "confrag_selection.npz") as f:
        sel, score, frag = f["selected"], f["score"], f["fragment"]
        target, clean = f["target"], f["clean_target"]
    bad = target != clean
    assert 0 <= score.min() and score.max() <= 1 and np.array_equal(sel, score >= 0.5)
    assert np.array_equal(frag, fragment_of(target, 4)[0])
    assert bad[sel].mean() < 0.85 * bad.mean()  # fewer corrupted among the selected
    assert error_residual_ratio(target, clean, sel) < 0.8
    # the dynamics: no units in the 8 expert epochs, then exactly the selected examples
    with np.load(tmp_path / "c" / "dynamics.npz") as d:
        loss = d["loss"]
    assert np.isnan(loss[:8]).all()
    for epoch in range(8, 16):
        assert np.array_equal(~np.isnan(loss[epoch]), sel)
    assert metrics["selection"]["best_epoch"] == 16 and np.isfinite(metrics["test"]["mae"])


@pytest.mark.parametrize("crash_at", [10, 50])  # expert phase (4 steps / epoch), regressor
def test_resume_after_interruption_is_exact(tmp_path, monkeypatch, crash_at):
    straight = train(_cfg(tmp_path, "a"))
    cfg = _cfg(tmp_path, "b")
    original = ConFrag.step

    def crash(self, batch):
        if self.run.state.step == crash_at:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(ConFrag, "step", crash)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(ConFrag, "step", original)
    resumed = train(cfg, resume=True)
    assert resumed["test"] == straight["test"]
    a, b = (torch.load(tmp_path / d / "best_model.pt") for d in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)
    sa, sb = (np.load(tmp_path / d / "confrag_selection.npz")["score"] for d in "ab")
    assert np.array_equal(sa, sb)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"fragments": 3}, "method.fragments must be an even integer >= 2; got 3"),
        ({"neighbors": 0}, "method.neighbors must be >= 1; got 0"),
        ({"coverage": 0.0}, r"method.coverage must be in \(0, 1\]; got 0.0"),
        ({"expert_share": 1.0}, r"method.expert_share must be in \(0, 1\); got 1.0"),
        ({"threshold": 2.0}, r"method.threshold must be in \[0, 1\]; got 2.0"),
    ],
)
def test_bad_options_name_the_key(tmp_path, options, match):
    with pytest.raises(ValueError, match=match):
        _cfg(tmp_path, "x", method={"name": "confrag", **options})


def test_wrong_task_and_variance_head_are_refused_at_config_time(tmp_path):
    recipe = {"task": {"name": "classification"}, "method": {"name": "confrag"}}
    with pytest.raises(ValueError, match="method 'confrag' does not run on task"):
        resolve(recipe)
    with pytest.raises(ValueError, match="task.variance_head must be false"):
        _cfg(tmp_path, "x", task={"variance_head": True}, loss={"name": "gaussian_nll"})
