"""CrossSplit pieces against independent references (scipy's Jensen-Shannon distance, the
paper's equations worked by hand), the halves, the options, and resume through the engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.methods.crosssplit import (
    CrossSplit,
    class_range,
    correction_weight,
    jsd,
    split_halves,
)

RECIPE = {
    "name": "cs",
    "method": {"name": "crosssplit", "warmup_epochs": 1, "rampup_epochs": 2, "relax_epochs": 1},
    "task": {"name": "classification", "hidden": 16, "noise": {"kind": "symmetric", "rate": 0.4}},
    "data": {"limit": 200, "eval_limit": 60, "batch_size": 32},
    "optim": {"lr": 0.01},
    "train": {"epochs": 3, "progress": False, "num_threads": 1, "select_by": "last"},
    "detection": {"method": "none"},
}


def test_jsd_matches_scipy():
    from scipy.spatial.distance import jensenshannon

    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(5), size=7)
    q = rng.dirichlet(np.ones(5), size=7)
    q[0] = np.eye(5)[2]  # a one-hot row, as a given label
    ours = jsd(torch.from_numpy(p), torch.from_numpy(q)).numpy()
    ref = jensenshannon(p, q, axis=1) ** 2  # scipy: the square root, natural log
    np.testing.assert_allclose(ours, ref, atol=1e-8)


def test_correction_weight_follows_equations_1_2_4():
    """Per-class min-max normalisation of the JSD, clipped, then shrunk towards 1/2."""
    d = torch.tensor([0.1, 0.3, 0.5, 0.2, 0.6, 0.9])
    y = torch.tensor([0, 0, 0, 1, 1, 1])
    lo, hi = class_range(d, y, 3)
    torch.testing.assert_close(lo, torch.tensor([0.1, 0.2, 0.0]))
    torch.testing.assert_close(hi, torch.tensor([0.5, 0.9, 1.0]))  # class 2 empty: (0, 1)
    beta = correction_weight(
        torch.tensor([0.3, 0.0, 0.9, 0.55]), torch.tensor([0, 0, 1, 1]), lo, hi, gamma=0.6
    )
    # b = (0.3-0.1)/0.4 = 0.5, clip(-0.25) = 0, 1, (0.55-0.2)/0.7 = 0.5; beta = (b-.5)*.6+.5
    torch.testing.assert_close(beta, torch.tensor([0.5, 0.2, 0.8, 0.5]))
    assert float(correction_weight(d[:1], y[:1], lo, hi, gamma=1.0)) == 0.0


def test_halves_are_disjoint_and_cover():
    a, b = split_halves(11, seed=3)
    assert len(a) == 5 and len(b) == 6
    assert set(a) | set(b) == set(range(11)) and not set(a) & set(b)
    a2, _ = split_halves(11, seed=3)
    np.testing.assert_array_equal(a, a2)


def test_gamma_schedule_and_options():
    cfg = resolve(RECIPE)
    method = CrossSplit.__new__(CrossSplit)
    method.options = CrossSplit.Options(**{k: v for k, v in cfg.method.options.items()})
    # warm-up 1, delta 1: 0.6 before epoch 3, 0.8 at 3, 1.0 from 4
    assert [method.gamma(e) for e in (1, 2, 3, 4, 9)] == [0.6, 0.6, 0.8, 1.0, 1.0]
    for key, bad in (("unlabeled_ratio", 0.0), ("views", 3), ("relax_epochs", -1)):
        with pytest.raises(ValueError, match=f"method.{key}"):
            resolve({**RECIPE, "method": {"name": "crosssplit", key: bad}})


@pytest.mark.parametrize("disjoint", [True, False])
def test_labeled_and_unlabeled_halves_per_network(tmp_path, monkeypatch, disjoint):
    """Every step gives network k a labeled batch of half k and an unlabeled batch (half the
    size) of the other half; ``disjoint: false`` (the authors' released loader): both
    networks' labeled and unlabeled data are the whole training set, each seen at least once an epoch."""
    captured = {}
    orig = CrossSplit._halves_plan

    def spy(self, epoch, skip):
        for batch in orig(self, epoch, skip):
            captured.setdefault("halves", self.halves)
            captured.setdefault("batches", []).append(
                {k: v["example_id"].cpu().numpy() for k, v in batch.items() if v is not None}
            )
            yield batch

    monkeypatch.setattr(CrossSplit, "_halves_plan", spy)
    recipe = {**RECIPE, "method": {**RECIPE["method"], "warmup_epochs": 0, "disjoint": disjoint}}
    recipe["train"] = {**RECIPE["train"], "epochs": 1}
    train(resolve(recipe, {"output_dir": str(tmp_path / "cs")}))
    assert captured["batches"]
    h0, h1 = (set(h.tolist()) for h in captured["halves"])
    if not disjoint:
        assert h0 == h1 and len(h0) == 200
        for k in ("labeled_0", "labeled_1"):
            seen = np.concatenate([b[k] for b in captured["batches"]])
            # every example once per epoch (the last of ceil(200 / 32) batches wraps round)
            assert set(seen.tolist()) == h0 and len(seen) == 7 * 32
        return
    assert len(h0) + len(h1) == 200 and not h0 & h1
    for b in captured["batches"]:
        assert set(b["labeled_0"]) <= h0 and set(b["unlabeled_0"]) <= h1
        assert set(b["labeled_1"]) <= h1 and set(b["unlabeled_1"]) <= h0
        assert len(b["unlabeled_0"]) == 16 and len(b["labeled_0"]) <= 32


def test_engine_trains_and_resumes_exactly(tmp_path, monkeypatch):
    """A run killed mid co-training (after the warm-up's 5 steps) resumes to the same
    metrics and both networks' weights."""
    straight = train(resolve(RECIPE, {"output_dir": str(tmp_path / "a")}))
    assert straight["test"]["accuracy"] > 0.3
    cfg_b = resolve(RECIPE, {"output_dir": str(tmp_path / "b"), "train": {"checkpoint_every": 1}})
    original = CrossSplit.step

    def crash(self, batch):
        if self.run.state.step == 7:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(CrossSplit, "step", crash)
    with pytest.raises(KeyboardInterrupt):
        train(cfg_b)
    monkeypatch.setattr(CrossSplit, "step", original)
    resumed = train(cfg_b, resume=True)
    assert resumed["test"] == straight["test"]
    a = torch.load(tmp_path / "a" / "best_model.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "best_model.pt", weights_only=True)
    assert a.keys() == b.keys() and any(k.startswith("members.1.") for k in a)
    for k in a:
        torch.testing.assert_close(a[k], b[k])


def test_label_correction_target_by_hand():
    """beta p + (1 - beta) e_y, sharpened with T = 0.5 (the step's target, eq. 1)."""
    from labelnoise.methods.dividemix import sharpen

    p = torch.tensor([[0.7, 0.2, 0.1]])
    e = F.one_hot(torch.tensor([1]), 3).float()
    beta = 0.8
    t = sharpen(beta * p + (1 - beta) * e, 0.5)
    raw = torch.tensor([[0.56, 0.36, 0.08]])
    torch.testing.assert_close(t, raw**2 / (raw**2).sum())


def test_two_augmented_views_on_images(tmp_path):
    """Images with the task's augmentation (crop + flip): two views per example train."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 120)
    x = (rng.normal(size=(120, 1, 12, 12)) + y[:, None, None, None]).astype(np.float32)
    np.savez(tmp_path / "img.npz", x=x, y=y)
    recipe = {
        **RECIPE,
        "task": {**RECIPE["task"], "dataset": str(tmp_path / "img.npz"), "model": "cnn"},
        "train": {**RECIPE["train"], "epochs": 2},
    }
    recipe["task"]["augment"] = True
    metrics = train(resolve(recipe, {"output_dir": str(tmp_path / "run")}))
    assert metrics["train"]["steps"] > 3 and np.isfinite(metrics["test"]["accuracy"])
