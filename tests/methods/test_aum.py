"""``method: aum`` (Pleiss et al., NeurIPS 2020): threshold sets, the margin, and the
identify-then-train run through the engine on digits with symmetric noise."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from labelnoise.common.selection.aum import margins
from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.methods.aum import Aum, threshold_sets

RECIPE: dict[str, Any] = {
    "name": "aum",
    "method": {"name": "aum", "identify_epochs": 5, "passes": 2},
    "task": {
        "name": "classification",
        "dataset": "digits",
        "hidden": 64,
        "val_fraction": 0.0,
        "noise": {"kind": "symmetric", "rate": 0.3},
    },
    "data": {"batch_size": 64, "limit": 600, "eval_limit": 200},
    "optim": {"lr": 0.003},
    "train": {"epochs": 14, "select_by": "last", "progress": False, "num_threads": 1},
    "detection": {"method": "none"},
}


def test_threshold_sets_are_disjoint_and_sized():
    t = threshold_sets(100, 9, 2, seed=0)
    assert t.shape == (2, 100) and t.sum(1).tolist() == [9, 9]
    assert not (t[0] & t[1]).any()


def test_margin_is_assigned_minus_largest_other():
    z = torch.tensor([[2.0, 1.0, 0.5], [0.0, 3.0, 1.0]])
    assert margins(z, torch.tensor([0, 0])).tolist() == [1.0, -3.0]


def test_flags_mostly_corrupted_examples_and_resumes_exactly(tmp_path, monkeypatch):
    over = {"train": {"checkpoint_every": 5}}
    cfg = resolve(RECIPE, {"output_dir": str(tmp_path / "a"), **over})
    straight = train(cfg)
    with np.load(tmp_path / "a" / "aum.npz") as f:
        keep, aum, thr, is_thr = f["keep"], f["aum"], f["threshold"], f["is_threshold"]
    assert aum.shape == (2, 600) and np.isfinite(thr).all()
    # threshold samples: the fake class is learned late, so their AUM is low
    assert np.median(aum[0][is_thr[0]]) < np.median(aum[0][~is_thr[0]])
    from labelnoise.engine.setup import build_task

    train_split = build_task(cfg).splits.train
    bad = np.array(
        [int(train_split[i]["target"]) != int(train_split[i]["clean_target"]) for i in range(600)]
    )
    dropped = keep == 0
    assert dropped.sum() > 0.5 * bad.sum()  # most of the corrupted are found
    assert bad[dropped].mean() > 0.7  # and what is dropped is mostly corrupted
    assert straight["test"]["accuracy"] > 0.7

    cfg_b = resolve(RECIPE, {"output_dir": str(tmp_path / "b"), **over})
    original = Aum.step

    def crash(self, batch):
        if self.run.state.step == 75:  # in the second pass (10 steps per epoch)
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(Aum, "step", crash)
    with pytest.raises(KeyboardInterrupt):
        train(cfg_b)
    monkeypatch.setattr(Aum, "step", original)
    assert train(cfg_b, resume=True)["test"] == straight["test"]


def test_bad_options_are_refused(tmp_path):
    cases: list[tuple[dict[str, Any], str]] = [
        ({"passes": 0}, "method.passes must be >= 1"),
        ({"identify_epochs": 7}, r"train.epochs must exceed .* \(14\)"),
        ({"threshold_fraction": 0.6}, r"method.threshold_fraction must be in \(0, 1 / passes\]"),
    ]
    for opts, match in cases:
        recipe = {**RECIPE, "method": {**RECIPE["method"], **opts}}
        with pytest.raises(ValueError, match=match):
            resolve(recipe, {"output_dir": str(tmp_path / "x")})
