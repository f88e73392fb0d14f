"""TABASCO with co-divide (the authors' DivideMix-based training): each network trains on the
peer's TABASCO selection, options are checked, and a resumed run matches (contract test)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import labelnoise.methods.tabasco_codivide as mod
from labelnoise.config import resolve
from labelnoise.engine import train

RECIPE = {
    "name": "tc",
    "method": {"name": "tabasco_codivide", "warmup_epochs": 1, "rampup_epochs": 2},
    "task": {"name": "classification", "hidden": 16, "noise": {"kind": "symmetric", "rate": 0.4}},
    "data": {"limit": 200, "eval_limit": 60, "batch_size": 32},
    "optim": {"lr": 0.01},
    "train": {"epochs": 3, "progress": False, "num_threads": 1, "select_by": "last"},
    "detection": {"method": "none"},
}


def test_each_network_trains_on_the_peers_selection(tmp_path, monkeypatch):
    calls, masks = [], []
    real_select, real_mask = mod.select, mod.TabascoCoDivide.labeled_mask

    def spy_select(probs, feats, labels, num_classes, **kw):
        out = real_select(probs, feats, labels, num_classes, **kw)
        calls.append((probs.clone(), out[0].copy()))
        return out

    def spy_mask(self, k):
        m = real_mask(self, k)
        masks.append((k, m.copy()))
        return m

    monkeypatch.setattr(mod, "select", spy_select)
    monkeypatch.setattr(mod.TabascoCoDivide, "labeled_mask", spy_mask)
    metrics = train(resolve(RECIPE, {"output_dir": str(tmp_path / "run")}))
    assert metrics["test"]["accuracy"] > 0.2
    assert len(calls) == 4 and len(masks) == 4  # 2 epochs after warm-up x 2 networks
    assert any(sel.any() for _, sel in calls)  # a real selection, not the all-labeled fallback
    for e in range(2):
        sel_net0, sel_net1 = calls[2 * e][1], calls[2 * e + 1][1]
        assert masks[2 * e][0] == 0 and masks[2 * e + 1][0] == 1
        if sel_net1.any():
            np.testing.assert_array_equal(masks[2 * e][1], sel_net1)  # peer's division
        if sel_net0.any():
            np.testing.assert_array_equal(masks[2 * e + 1][1], sel_net0)
    assert not torch.equal(calls[0][0], calls[1][0])  # two networks, two predictions
    saved = np.load(tmp_path / "run" / "tabasco.npz")
    n = len(calls[0][1])
    assert saved["selected"].shape == (2, n) and saved["prob"].shape == (2, n)
    assert saved["metric"].shape == (2, 10)
    # the saved selection is the last epoch's: network k's own, i.e. the peer's labeled set
    np.testing.assert_array_equal(saved["selected"][0], masks[3][1])
    np.testing.assert_array_equal(saved["selected"][1], masks[2][1])
    assert np.all(saved["prob"][saved["selected"]] >= 0.5)  # GMM posteriors of the kept


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("std_ratio", 0.0, "method.std_ratio must be a finite number > 0"),
        ("views", 3, "method.views must be 1 or 2"),
        ("p_threshold", 0.5, "unknown key 'method.p_threshold'"),
    ],
)
def test_options_are_checked(key, value, match):
    with pytest.raises(ValueError, match=match):
        resolve({**RECIPE, "method": {**RECIPE["method"], key: value}})
