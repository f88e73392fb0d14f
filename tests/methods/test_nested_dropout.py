"""Nested dropout (Rippel et al., 2014) as co-teaching's compression regularizer (Chen et
al., CVPR-W 2021): the distribution, the mask, and co-teaching with it through the engine."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.methods.coteaching import CoTeaching
from labelnoise.methods.nested_dropout import NestedDropout, nested_distribution

RECIPE: dict[str, Any] = {
    "name": "nested",
    "method": {"name": "coteaching", "nested_std": 8.0},
    "selector": {"name": "coteaching", "forget_rate": 0.3, "num_gradual": 2},
    "task": {
        "name": "classification",
        "dataset": "digits",
        "hidden": 32,
        "val_fraction": 0.0,
        "noise": {"kind": "symmetric", "rate": 0.3},
    },
    "data": {"batch_size": 64, "limit": 300, "eval_limit": 100},
    "optim": {"lr": 0.01},
    "train": {"epochs": 6, "select_by": "last", "progress": False, "num_threads": 1},
    "detection": {"method": "none"},
}


def test_distribution_is_the_authors_gaussian():
    p = nested_distribution(5, mu=0.0, std=2.0)
    raw = [math.exp(-((k / 2.0) ** 2)) for k in range(1, 6)]
    assert p.tolist() == pytest.approx([r / sum(raw) for r in raw])
    with pytest.raises(ValueError, match="std must be > 0"):
        nested_distribution(5, 0.0, 0.0)


def test_mask_keeps_the_first_k_features_in_training_only():
    model = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 2))
    seen: list[torch.Tensor] = []
    model[2].register_forward_hook(lambda m, a, o: seen.append(a[0].detach().clone()))
    nd = NestedDropout(mu=0.0, std=3.0)
    assert nd.attach(model) is model[2]
    keys = set(model.state_dict())
    x = torch.randn(4, 3) + 5
    torch.manual_seed(0)
    k = nd.draw()
    model.train()
    model(x)
    assert (seen[-1][:, k:] == 0).all() and 1 <= k <= 6
    model.eval()
    model(x)
    full = torch.relu(model[0](x))
    assert torch.equal(seen[-1], full)  # eval: nothing masked
    assert set(model.state_dict()) == keys  # saved weights unchanged


def test_coteaching_with_nested_dropout_trains_and_resumes_exactly(tmp_path, monkeypatch):
    over = {"train": {"checkpoint_every": 1}}
    straight = train(resolve(RECIPE, {"output_dir": str(tmp_path / "a"), **over}))
    assert straight["test"]["accuracy"] > 0.5
    cfg = resolve(RECIPE, {"output_dir": str(tmp_path / "b"), **over})
    original = CoTeaching.step

    def crash(self, batch):
        if self.run.state.step == 7:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(CoTeaching, "step", crash)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(CoTeaching, "step", original)
    assert train(cfg, resume=True)["test"] == straight["test"]


def test_bad_nested_options_are_refused(tmp_path):
    for bad in (0.0, -1.0):
        recipe = {**RECIPE, "method": {"name": "coteaching", "nested_std": bad}}
        with pytest.raises(ValueError, match="method.nested_std must be > 0 or null"):
            resolve(recipe, {"output_dir": str(tmp_path / "x")})
