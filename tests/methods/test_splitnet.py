"""SplitNet pieces worked by hand on planted data, the options, the unlabeled threshold in
DivideMix's loss, and training + exact resume through the engine."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.methods.dividemix import codivide, dividemix_loss
from labelnoise.methods.splitnet import (
    SplitNet,
    dynamic_threshold,
    fit_splitter,
    hedge_targets,
    split_features,
)

RECIPE = {
    "name": "sn",
    "method": {"name": "splitnet", "warmup_epochs": 1, "rampup_epochs": 2},
    "task": {"name": "classification", "hidden": 16, "noise": {"kind": "symmetric", "rate": 0.4}},
    "data": {"limit": 200, "eval_limit": 60, "batch_size": 32},
    "optim": {"lr": 0.01},
    "train": {"epochs": 4, "progress": False, "num_threads": 1, "select_by": "last"},
    "detection": {"method": "none"},
}


def test_features_by_hand():
    probs = torch.tensor([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [1 / 3, 1 / 3, 1 / 3]])
    labels = torch.tensor([0, 0, 2])
    f = split_features(probs, labels)
    ce = -np.log([0.5, 0.1, 1 / 3])
    np.testing.assert_allclose(f[:, 0], (ce - ce.min()) / (ce.max() - ce.min()), rtol=1e-5)
    np.testing.assert_allclose(f[:, 1], [0.5, 0.1, 1 / 3], rtol=1e-6)
    np.testing.assert_allclose(f[:, 2], [0.5, 0.8, 1 / 3], rtol=1e-6)
    ent0 = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25)) / math.log(3)
    np.testing.assert_allclose(f[:, 3], [ent0, f[1, 3], 1.0], rtol=1e-5)


def test_risk_hedging_on_planted_losses():
    """Planted clean (small) and noisy (large) losses plus an ambiguous middle: only the
    confident ends get SplitNet targets, and they are right."""
    rng = np.random.default_rng(0)
    clean = rng.normal(0.2, 0.05, 400).clip(0)
    noisy = rng.normal(2.0, 0.2, 300)
    middle = np.full(20, 1.1)
    w = codivide(torch.from_numpy(np.concatenate([clean, noisy, middle])))
    t = hedge_targets(w, hedge=0.1)
    assert (t[:400] == 1).mean() > 0.99 and (t[400:700] == 0).mean() > 0.99
    np.testing.assert_array_equal(
        hedge_targets(np.array([0.95, 0.9, 0.5, 0.1, 0.05]), 0.1), [1, 1, -1, 0, 0]
    )


def test_splitter_fit_on_planted_features_generalises_to_the_unhedged():
    """Clean rows have small loss / high p_y; the fit on the hedged rows also splits the
    ambiguous rows it never saw by their features; one class only: no fit."""
    rng = np.random.default_rng(0)
    clean = np.column_stack([rng.uniform(0, 0.3, 300), rng.uniform(0.7, 1, 300)])
    noisy = np.column_stack([rng.uniform(0.6, 1, 200), rng.uniform(0, 0.3, 200)])
    feats = np.vstack([clean, noisy])
    truth = np.r_[np.ones(300), np.zeros(200)]
    targets = truth.copy()
    targets[::4] = -1  # a quarter not hedged
    s = fit_splitter(feats, targets, hidden=8, iters=300, seed=0)
    assert s is not None and ((s > 0.5) == (truth == 1))[::4].mean() > 0.95
    assert fit_splitter(feats, np.where(truth == 1, 1.0, -1.0), hidden=8, iters=10, seed=0) is None


def test_dynamic_threshold_by_hand():
    assert dynamic_threshold(np.array([1.0, 0.0, 0.5, 0.75]), 0.8) == pytest.approx(
        0.8 * (1 + 1 + 0 + 0.5) / 4
    )


def test_unlabeled_guesses_below_the_threshold_are_left_out():
    """min_confidence drops unsure unlabeled rows: the loss equals the loss without them."""
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 3)
    x_l, y_l = torch.randn(5, 4), torch.randint(0, 3, (5,))
    x_u = torch.cat([torch.randn(3, 4), torch.zeros(2, 4)])  # zeros: softmax(bias) only
    with torch.no_grad():
        net.bias.zero_()  # the zero rows guess uniform: max p = 1/3
    kw = {"num_classes": 3, "lambda_u": 2.0, "temperature": 0.5, "alpha": 0.0}
    conf = torch.softmax(net(x_u[:3]), 1).max(1).values.detach()
    thr = float(conf.min()) - 1e-4  # keeps the 3 random rows, drops the 2 uniform ones
    fwd = lambda m, xb: m(xb)  # noqa: E731
    a = dividemix_loss(fwd, net, net, x_l, y_l, torch.ones(5), x_u, min_confidence=thr, **kw)
    b = dividemix_loss(fwd, net, net, x_l, y_l, torch.ones(5), x_u[:3], **kw)
    torch.testing.assert_close(a, b)


def test_options_are_checked():
    bad_options = (("hedge", 0.5), ("tau", 1.5), ("splitter_hidden", 0), ("splitter_iters", 0))
    for key, bad in (*bad_options, ("views", 0)):
        with pytest.raises(ValueError, match=f"method.{key}"):
            resolve({**RECIPE, "method": {"name": "splitnet", key: bad}})


def test_splitter_learns_the_hedged_split_and_resumes_exactly(tmp_path, monkeypatch):
    """500 digits, 3 warm-up epochs (16 steps each), then SplitNet's split; a run killed
    mid-epoch 3 (after step 52's checkpoint) resumes to the same metrics and weights."""
    recipe = {
        **RECIPE,
        "method": {**RECIPE["method"], "warmup_epochs": 3},
        "task": {**RECIPE["task"], "hidden": 64},
        "data": {**RECIPE["data"], "limit": 500},
        "optim": {"name": "adam", "lr": 0.003},
        "train": {**RECIPE["train"], "epochs": 5},
    }
    straight = train(resolve(recipe, {"output_dir": str(tmp_path / "a")}))
    assert straight["test"]["accuracy"] > 0.6  # chance: 0.1
    state = torch.load(tmp_path / "a" / "best_model.pt", weights_only=True)
    cfg_b = resolve(recipe, {"output_dir": str(tmp_path / "b"), "train": {"checkpoint_every": 4}})
    original = SplitNet.step
    seen = {}

    def crash(self, batch):
        if self.run.state.step == 54:
            raise KeyboardInterrupt
        return original(self, batch)

    def spy_epoch(self, epoch, skip):
        out = orig_epoch(self, epoch, skip)
        if self.epoch_state is not None:
            seen[epoch] = {
                k: self.epoch_state[k] for k in ("targets", "clean_prob", "tau", "fitted")
            }
        return out

    orig_epoch = SplitNet.epoch_batches
    monkeypatch.setattr(SplitNet, "step", crash)
    monkeypatch.setattr(SplitNet, "epoch_batches", spy_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(cfg_b)
    monkeypatch.setattr(SplitNet, "step", original)
    resumed = train(cfg_b, resume=True)
    assert resumed["test"] == straight["test"]
    b = torch.load(tmp_path / "b" / "best_model.pt", weights_only=True)
    for k in state:
        torch.testing.assert_close(state[k], b[k])
    # SplitNet, fit on the hedged examples, agrees with their targets on most of them
    last = seen[max(seen)]
    assert last["fitted"]  # SplitNet's split, not the GMM fallback
    t, s = last["targets"].numpy(), last["clean_prob"].numpy()
    sure = t >= 0
    assert sure.sum() > 20 and ((s[sure] > 0.5) == (t[sure] == 1)).mean() > 0.8
    assert 0 < last["tau"] <= 0.95


def test_warmup_penalty_and_bce_weight_zero_run(tmp_path):
    recipe = {**RECIPE, "method": {**RECIPE["method"], "neg_entropy": 0.5}}
    recipe["train"] = {**RECIPE["train"], "epochs": 2}
    m = train(resolve(recipe, {"output_dir": str(tmp_path / "c")}))
    assert np.isfinite(m["test"]["accuracy"]) and m["train"]["steps"] > 5
