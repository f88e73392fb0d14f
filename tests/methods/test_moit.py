"""MOIT (Ortego et al., CVPR 2021): the interpolated SupCon loss against a hand computation on 4
samples, kNN noise detection on planted clusters, options and MOIT / MOIT+ through the engine."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from labelnoise.common.selection.knn_agreement import knn_agreement
from labelnoise.methods.moit import MoitOptions, interpolated_supcon


def test_interpolated_supcon_matches_a_hand_computation():
    z = F.normalize(torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]]), dim=1)
    y_major = torch.tensor([0, 0, 1, 1])  # the dominant example's label
    y_minor = torch.tensor([1, 1, 0, 1])  # the mixed-in example's label
    lam = torch.tensor([0.7, 0.9, 0.6, 1.0])
    t = 0.5
    s = (z @ z.T).tolist()

    def log_p(i: int, j: int) -> float:
        return s[i][j] / t - math.log(sum(math.exp(s[i][k] / t) for k in range(4) if k != i))

    want = 0.0
    for i in range(4):  # L_i = -lam mean_{P(y_i)} log p - (1 - lam) mean_{P(y'_i)} log p
        for label, w in ((int(y_major[i]), float(lam[i])), (int(y_minor[i]), 1 - float(lam[i]))):
            pos = [j for j in range(4) if j != i and int(y_major[j]) == label]
            if pos:
                want -= w * sum(log_p(i, j) for j in pos) / len(pos)
    got = interpolated_supcon(z, y_major, y_minor, lam, t)
    assert got.item() == pytest.approx(want / 4, rel=1e-6)
    # lambda = 1 everywhere: plain SupCon (Khosla et al.) of the dominant labels
    plain = interpolated_supcon(z, y_major, y_minor, torch.ones(4), t)
    want_plain = -sum(log_p(i, j) for i in range(4) for j in range(4) if j != i and
                      int(y_major[j]) == int(y_major[i])) / 4  # fmt: skip
    assert plain.item() == pytest.approx(want_plain, rel=1e-6)


def _planted(n: int = 50, c: int = 4, noise: float = 0.3, seed: int = 0):
    g = np.random.default_rng(seed)
    y = np.repeat(np.arange(c), n)
    feats = 5.0 * np.eye(c, 6)[y] + g.normal(size=(len(y), 6))
    flip = g.random(len(y)) < noise
    noisy = np.where(flip, (y + g.integers(1, c, len(y))) % c, y)
    return torch.tensor(feats).float(), torch.tensor(noisy), torch.tensor(y)


def test_knn_detection_finds_planted_noise():
    feats, noisy, clean = _planted()
    wrong = (noisy != clean).numpy()
    agree, disc = knn_agreement(feats, noisy, 4, k=10, balance="none")
    assert np.array_equal(agree.numpy(), ~wrong)  # well-separated clusters: exact
    assert disc[~torch.as_tensor(wrong)].max() < disc[torch.as_tensor(wrong)].min()
    # balanced: every class keeps the median count of agreeing examples (capped)
    bal, _ = knn_agreement(feats, noisy, 4, k=10, balance="median")
    per_class = [int(agree[noisy == c].sum()) for c in range(4)]
    m = int(torch.tensor(per_class, dtype=torch.float).median())
    for c in range(4):
        assert int(bal[noisy == c].sum()) == min(m, int((noisy == c).sum()))
    assert (~torch.as_tensor(wrong))[bal].float().mean() > 0.9


def test_knn_detection_refuses_bad_input():
    with pytest.raises(ValueError, match="at least 2 examples"):
        knn_agreement(torch.zeros(1, 2), torch.zeros(1, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="balance must be"):
        knn_agreement(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), 2, balance="mean")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"k": 0}, "method.k must be an integer >= 1"),
        ({"low_dim": 0}, "method.low_dim must be an integer >= 1"),
        ({"correction_epoch": -1}, "method.correction_epoch must be an integer >= 0"),
        ({"finetune_epochs": -2}, "method.finetune_epochs must be an integer >= 0"),
        ({"temperature": 0.0}, "method.temperature must be > 0"),
        ({"alpha": -1.0}, "method.alpha must be >= 0"),
        ({"boot_beta": 1.5}, r"method.boot_beta must be in \[0, 1\]"),
    ],
)
def test_options_are_checked(kw, match):
    with pytest.raises(ValueError, match=match):
        MoitOptions(**kw)


def _recipe(tmp_path, epochs: int, **method):
    return {
        "name": "moit_test",
        "seed": 0,
        "output_dir": str(tmp_path / "run"),
        "task": {
            "name": "classification",
            "dataset": "digits",
            "val_fraction": 0.0,
            "hidden": 32,
            "noise": {"kind": "symmetric", "rate": 0.4},
        },
        "method": {"name": "moit", **method},
        "data": {"batch_size": 64},
        "optim": {"name": "adam", "lr": 5e-3},
        "train": {"epochs": epochs, "select_by": "last", "progress": False, "num_threads": 1},
        "detection": {"method": "none"},
    }


def test_moit_plus_runs_through_the_engine(tmp_path):
    from labelnoise.config import resolve
    from labelnoise.engine import train

    cfg = resolve(
        _recipe(tmp_path, 8, k=20, correction_epoch=3, finetune_epochs=3, boot_after=1), {}
    )
    metrics = train(cfg)
    assert metrics["test"]["accuracy"] > 0.5
    z = np.load(tmp_path / "run" / "moit.npz")
    assert 0.3 < z["clean"].mean() < 0.95 and z["discrepancy"].shape == z["clean"].shape
    with pytest.raises(ValueError, match="method.finetune_epochs must be < train.epochs"):
        resolve(_recipe(tmp_path, 3, finetune_epochs=3), {})
    with pytest.raises(ValueError, match="detection.method must be 'kfold' or 'none'"):
        resolve(_recipe(tmp_path, 3) | {"detection": {"method": "dynamics"}}, {})
