"""TABASCO (Lu et al., ICCV 2023): WJSD against a hand computation, ACD on planted clusters,
the two-stage selection on a planted-noise set, options and a short run through the engine."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from labelnoise.common.selection.tabasco_select import acd, select, wjsd
from labelnoise.methods.tabasco import TabascoOptions


def _jsd_to_onehot(p: list[float], c: int) -> float:
    """JS divergence (natural log) of ``p`` to ``onehot(c)``, written out."""
    e = [1.0 if k == c else 0.0 for k in range(len(p))]
    m = [(a + b) / 2 for a, b in zip(p, e, strict=True)]
    kl_p = sum(a * math.log(a / b) for a, b in zip(p, m, strict=True) if a > 0)
    kl_e = sum(a * math.log(a / b) for a, b in zip(e, m, strict=True) if a > 0)
    return 0.5 * kl_p + 0.5 * kl_e


def test_wjsd_matches_a_hand_computation():
    # two examples labelled 1; pbar_1 = (0.55, 0.45): the weight is capped at 0.55 / 0.45
    probs = torch.tensor([[0.8, 0.2], [0.3, 0.7], [0.9, 0.1]])
    labels = torch.tensor([1, 1, 0])
    got = wjsd(probs, labels, 2)
    cap = 0.55 / 0.45
    assert got[0].item() == pytest.approx(min(0.8 / 0.2, cap) * _jsd_to_onehot([0.8, 0.2], 1))
    assert got[1].item() == pytest.approx(1.0 * _jsd_to_onehot([0.3, 0.7], 1))
    # class 0's mean prediction peaks at 0: the weight is 1 (plain JSD)
    assert got[2].item() == pytest.approx(_jsd_to_onehot([0.9, 0.1], 0))
    assert _jsd_to_onehot([0.9, 0.1], 0) < math.log(2)  # bounded by ln 2


def _planted(n: int = 60, c: int = 3, noise: float = 0.3, seed: int = 0):
    """``c`` Gaussian clusters in 8-D (the true classes), ``noise`` of the labels flipped to
    another class; probs: a softmax of the negative distances to the true cluster means."""
    g = np.random.default_rng(seed)
    means = 4.0 * np.eye(c, 8)
    y = np.repeat(np.arange(c), n)
    feats = means[y] + g.normal(size=(len(y), 8))
    flip = g.random(len(y)) < noise
    noisy = np.where(flip, (y + g.integers(1, c, len(y))) % c, y)
    logits = -np.linalg.norm(feats[:, None, :] - means[None], axis=2)
    probs = torch.softmax(torch.tensor(2.0 * logits), 1).float()
    return probs, torch.tensor(feats).float(), torch.tensor(noisy), torch.tensor(y)


def test_acd_separates_planted_clusters():
    probs, feats, noisy, clean = _planted()
    sim, cents, counts = acd(probs, feats, noisy, 3)
    wrong = noisy != clean
    assert cents.shape == (3, 8) and counts.shape == (3,)
    for c in range(3):  # within each labelled class, the mislabelled are farther
        inc = noisy == c
        assert sim[inc & ~wrong].min() > sim[inc & wrong].max()
    # each adaptive centroid points at its class's cluster (the clean majority)
    assert torch.equal(cents[:, :3].argmax(1), torch.arange(3))


def test_selection_beats_chance_on_planted_noise():
    probs, feats, noisy, clean = _planted(n=80, noise=0.3, seed=1)
    sel, prob, metric = select(probs, feats, noisy, 3, seed=0)
    is_clean = (noisy == clean).numpy()
    precision = is_clean[sel].mean()
    recall = sel[is_clean].mean()
    assert precision > 0.95 > is_clean.mean()  # chance: the clean fraction (~0.7)
    assert recall > 0.9
    assert np.all((prob[sel] >= 0.5) & (prob[sel] <= 1)) and np.all(prob[~sel] == 0)
    assert set(metric.tolist()) <= {0, 1}


def test_tiny_classes_are_kept_whole():
    probs, feats, noisy, _ = _planted(n=20)
    probs = torch.cat([probs, torch.full((len(probs), 1), 0.01)], 1)
    probs = probs / probs.sum(1, keepdim=True)
    noisy[:3] = 3  # a fourth class with 3 examples
    sel, prob, metric = select(probs, feats, noisy, 4)
    assert sel[:3].all() and np.all(prob[:3] == 1) and metric[3] == -1


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"warmup_epochs": -1}, "method.warmup_epochs must be an integer >= 0"),
        ({"rampup_epochs": 0}, "method.rampup_epochs must be an integer >= 1"),
        ({"temperature": 0.0}, "method.temperature must be a finite number > 0"),
        ({"std_ratio": float("nan")}, "method.std_ratio must be a finite number > 0"),
        ({"lambda_u": -1.0}, "method.lambda_u must be a finite number >= 0"),
        ({"centroid_margin": -0.1}, "method.centroid_margin must be a finite number >= 0"),
    ],
)
def test_options_are_checked(kw, match):
    with pytest.raises(ValueError, match=match):
        TabascoOptions(**kw)


def _recipe(tmp_path, **method):
    return {
        "name": "tabasco_test",
        "seed": 0,
        "output_dir": str(tmp_path / "run"),
        "task": {
            "name": "classification",
            "dataset": "digits",
            "val_fraction": 0.0,
            "hidden": 32,
            "noise": {"kind": "symmetric", "rate": 0.4},
        },
        "method": {"name": "tabasco", **method},
        "data": {"batch_size": 64},
        "optim": {"name": "adam", "lr": 1e-3},
        "train": {"epochs": 10, "select_by": "last", "progress": False, "num_threads": 1},
        "detection": {"method": "none"},
    }


def test_runs_through_the_engine_and_writes_its_selection(tmp_path):
    from labelnoise.config import resolve
    from labelnoise.engine import train

    cfg = resolve(_recipe(tmp_path, warmup_epochs=3, rampup_epochs=2), {})
    metrics = train(cfg)
    assert metrics["test"]["accuracy"] > 0.5
    z = np.load(tmp_path / "run" / "tabasco.npz")
    assert z["selected"].shape == z["prob"].shape and z["metric"].shape == (10,)
    assert 0.3 < z["selected"].mean() < 0.95  # 40 % noise: a part is dropped, not all
    with pytest.raises(ValueError, match="detection.method must be 'kfold' or 'none'"):
        resolve(_recipe(tmp_path) | {"detection": {"method": "dynamics"}}, {})
