"""``method: rent`` (Bae et al., ICLR 2024): the importance weight against its formula, the
three ways of drawing per-sample weights, and a run through the engine on digits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from labelnoise.common.transition import TransitionMatrix
from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.methods.rent import Rent, draw_weights, importance_weights

RECIPE: dict[str, Any] = {
    "name": "rent",
    "method": {"name": "rent", "warmup_epochs": 2},
    "task": {
        "name": "classification",
        "dataset": "digits",
        "hidden": 32,
        "val_fraction": 0.0,
        "noise": {"kind": "pair_flip", "rate": 0.3},
    },
    "data": {"batch_size": 64, "limit": 400, "eval_limit": 200},
    "optim": {"lr": 0.01},
    "train": {"epochs": 4, "select_by": "last", "progress": False, "num_threads": 1},
    "detection": {"method": "none"},
}


def test_importance_weight_is_the_clean_over_noisy_posterior():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.5]])
    noisy = torch.tensor([0, 2])
    t = TransitionMatrix.pair_flip(3, 0.3).matrix
    w = importance_weights(logits, noisy, t)
    p = logits.double().softmax(-1).numpy()
    tt = t.numpy()
    for n, y in enumerate(noisy.tolist()):
        expected = p[n, y] / sum(p[n, i] * tt[i, y] for i in range(3))
        assert w[n].item() == pytest.approx(expected, rel=1e-5)
    # no noise: every weight is 1
    assert torch.allclose(importance_weights(logits, noisy, torch.eye(3)), torch.ones(2))


def test_draws_sum_to_one_and_average_to_the_normalised_weights():
    w = torch.tensor([0.2, 1.0, 1.8, 1.0])
    torch.manual_seed(0)
    v = draw_weights(w, "resample", ratio=2.0)
    assert v.sum().item() == pytest.approx(1.0)
    assert torch.allclose(v * 8, (v * 8).round())  # counts of 8 draws
    mean_r = torch.stack([draw_weights(w, "resample") for _ in range(4000)]).mean(0)
    mean_d = torch.stack([draw_weights(w, "dirichlet", alpha=2.0) for _ in range(4000)]).mean(0)
    target = w / w.sum()  # E[counts / M] = E[Dirichlet(alpha w)] = w / sum w
    assert torch.allclose(mean_r, target, atol=0.02)
    assert torch.allclose(mean_d, target, atol=0.02)
    assert torch.allclose(draw_weights(w, "reweight"), w / 4)
    # a large concentration is reweighting (normalised)
    assert torch.allclose(draw_weights(w, "dirichlet", alpha=1e6), target, atol=2e-3)


def test_trains_estimates_t_and_resumes_exactly(tmp_path, monkeypatch):
    cfg = resolve(RECIPE, {"output_dir": str(tmp_path / "a")})
    straight = train(cfg)
    t = np.load(tmp_path / "a" / "transition.npy")
    assert t.shape == (10, 10) and np.allclose(t.sum(1), 1.0)
    assert np.isfinite(straight["test"]["accuracy"])

    cfg_b = resolve(RECIPE, {"output_dir": str(tmp_path / "b"), "train": {"checkpoint_every": 1}})
    original = Rent.step

    def crash(self, batch):
        if self.run.state.step == 17:  # after the warm-up (7 steps per epoch)
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(Rent, "step", crash)
    with pytest.raises(KeyboardInterrupt):
        train(cfg_b)
    monkeypatch.setattr(Rent, "step", original)
    resumed = train(cfg_b, resume=True)
    assert resumed["test"] == straight["test"]
    assert np.array_equal(np.load(tmp_path / "b" / "transition.npy"), t)


def test_given_transition_and_bad_options_are_checked(tmp_path):
    bad: list[tuple[dict[str, Any], str]] = [
        ({"warmup_epochs": 0}, "method.warmup_epochs must be >= 1"),
        ({"sampling": "bootstrap"}, "method.sampling"),
        ({"alpha": 0}, "method.alpha must be a finite number > 0"),
        ({"transition": [[0.5, 0.2], [0.0, 1.0]]}, "method.transition: matrix rows must sum"),
    ]
    with pytest.warns(UserWarning, match=r"warmup_epochs \(4\) >= train.epochs \(4\)"):
        resolve(
            {**RECIPE, "method": {"name": "rent", "warmup_epochs": 4}},
            {"output_dir": str(tmp_path / "w")},
        )
    for opts, match in bad:
        recipe = {**RECIPE, "method": {"name": "rent", **opts}}
        with pytest.raises(ValueError, match=match):
            resolve(recipe, {"output_dir": str(tmp_path / "x")})
    recipe = {
        **RECIPE,
        "method": {"name": "rent", "warmup_epochs": 1, "transition": np.eye(3).tolist()},
    }
    cfg = resolve(recipe, {"output_dir": str(tmp_path / "c"), "train": {"epochs": 2}})
    with pytest.raises(ValueError, match=r"method.transition must be 10 x 10; got \(3, 3\)"):
        train(cfg)
