"""``method: mixture_refit`` through the engine on scikit-learn's diabetes (tiny network)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from labelnoise.common.detection.regression import fit_linear_uniform_mixture
from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.engine.setup import build_task
from labelnoise.methods.mixture_refit import MixtureRefit

RECIPE = {
    "name": "mixture_refit",
    "method": {"name": "mixture_refit", "pilot": "trimmed"},
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
    "train": {"epochs": 6, "select_by": "last", "progress": False, "num_threads": 1},
    "detection": {"method": "none"},
}


def _cfg(tmp_path, sub, **over):
    return resolve(RECIPE, {"output_dir": str(tmp_path / sub), **over})


def _history(run_dir):
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


def test_linear_pilot_weights_are_the_closed_form_posterior(tmp_path):
    cfg = _cfg(tmp_path, "lin", method={"name": "mixture_refit", "pilot": "linear"})
    metrics = train(cfg)
    train_split = build_task(cfg).splits.train
    ref = fit_linear_uniform_mixture(
        train_split.target.double().numpy(), train_split.x.double().numpy()
    )
    with np.load(tmp_path / "lin" / "clean_weights.npz") as f:
        np.testing.assert_allclose(f["weight"], ref.clean_posterior, rtol=1e-5, atol=1e-6)
        bad = f["target"] != f["clean_target"]
        assert f["weight"][bad].mean() < 0.5 < f["weight"][~bad].mean()
        assert float(f["noise_rate"]) == pytest.approx(ref.noise_rate)
    assert metrics["method"] == "mixture_refit" and np.isfinite(metrics["test"]["mae"])


def test_trimmed_pilot_then_refit_each_with_its_own_schedule(tmp_path):
    refit = train(_cfg(tmp_path, "refit"))  # 3 pilot epochs, then 3 refit epochs
    standard = {k: v for k, v in RECIPE.items() if k != "method"}
    over = {"output_dir": str(tmp_path / "alone"), "train": {"epochs": 3}}
    alone = train(resolve(standard, over))
    lr_refit = [r["lr"] for r in _history(tmp_path / "refit")]
    lr_alone = [r["lr"] for r in _history(tmp_path / "alone")]
    # network 0 keeps the first LR through the pilot phase, then runs the whole cosine
    assert lr_refit[:3] == pytest.approx([0.01] * 3)
    assert lr_refit[3:] == pytest.approx(lr_alone) and lr_refit[-1] == pytest.approx(0.0)
    with np.load(tmp_path / "refit" / "clean_weights.npz") as f:
        bad = f["target"] != f["clean_target"]
        assert f["weight"][bad].mean() < f["weight"][~bad].mean()
    assert refit["selection"]["best_epoch"] == 6 and alone["train"]["epochs"] == 3


def test_rounds_build_one_network_per_phase(tmp_path):
    cfg = _cfg(tmp_path, "r", method={"name": "mixture_refit", "pilot": "linear", "rounds": 2})
    from labelnoise.engine.run import start

    run = start(cfg, resume=False, overwrite=False)
    method = MixtureRefit(MixtureRefit.Options(pilot="linear", rounds=2), run)
    assert method.num_networks == 2 and method.phase_end == [3, 6]
    three = MixtureRefit(MixtureRefit.Options(pilot="trimmed", rounds=2), run)
    assert three.num_networks == 3 and three.phase_end == [2, 4, 6]
    metrics = train(cfg, overwrite=True)
    assert np.isfinite(metrics["test"]["mae"])


def test_resume_after_interruption_is_exact(tmp_path, monkeypatch):
    straight = train(_cfg(tmp_path, "a"))
    cfg = _cfg(tmp_path, "b")
    original = MixtureRefit.step

    def crash(self, batch):
        if self.run.state.step == 22:  # in the refit phase (5 steps per epoch)
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(MixtureRefit, "step", crash)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(MixtureRefit, "step", original)
    resumed = train(cfg, resume=True)
    assert resumed["test"] == straight["test"]
    a, b = (torch.load(tmp_path / d / "best_model.pt") for d in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"pilot": "ridge"}, r"method.pilot must be one of \['trimmed', 'linear'\]; got 'ridge'"),
        ({"rounds": 0}, "method.rounds must be an integer >= 1; got 0"),
        ({"trim": 1.0}, r"method.trim must be in \[0, 1\); got 1.0"),
        ({"bogus": 1}, "method.bogus"),
    ],
)
def test_bad_options_name_the_key(tmp_path, options, match):
    with pytest.raises(ValueError, match=match):  # at config time
        _cfg(tmp_path, "x", method={"name": "mixture_refit", **options})


def test_wrong_task_and_early_stopping_are_refused_at_config_time(tmp_path):
    recipe = {
        "task": {"name": "classification", "dataset": "digits"},
        "method": {"name": "mixture_refit"},
    }
    with pytest.raises(ValueError, match="method 'mixture_refit' does not run on task"):
        resolve(recipe)
    with pytest.raises(ValueError, match="train.early_stopping must be null"):
        _cfg(tmp_path, "x", train={"early_stopping": 2, "select_by": "noisy_val"})
