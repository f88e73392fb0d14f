"""``method: madl`` (Herde et al., TMLR 2023): the answer likelihood against its formula worked
by hand, the options, and a planted-annotator run on digits: one good annotator and two
spammers, where majority vote fails and MaDL recovers both the truth and the confusions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.methods.madl import MaDLNet, MaDLOptions, madl_pair_nll


def test_pair_nll_is_the_mixture_over_the_true_class():
    # p(y|x) = (0.75, 0.25); P(z|y) rows [0.9, 0.1] and [0.3, 0.7]; answer z = 1:
    # p(z=1|x) = 0.75 * 0.1 + 0.25 * 0.7 = 0.25
    logits = torch.tensor([[math.log(3.0), 0.0]])
    conf = torch.log(torch.tensor([[[0.9, 0.1], [0.3, 0.7]]]))
    nll = madl_pair_nll(logits, conf, torch.tensor([0]), torch.tensor([1]))
    assert nll.item() == pytest.approx(-math.log(0.25), rel=1e-6)
    nll0 = madl_pair_nll(logits, conf, torch.tensor([0]), torch.tensor([0]))
    assert nll0.item() == pytest.approx(-math.log(0.75 * 0.9 + 0.25 * 0.3), rel=1e-6)


def test_prior_performance_is_eta_on_every_diagonal():
    net = MaDLNet(torch.nn.Sequential(torch.nn.Linear(4, 3)), 5, 3, MaDLOptions(eta=0.8))
    net.eval()
    net(torch.randn(2, 4))
    with torch.no_grad():
        net.out.weight.zero_()  # only the bias: the prior
        p = net.perf_logits(torch.tensor([0, 1]), torch.tensor([2, 4])).softmax(-1)
    assert torch.allclose(torch.diagonal(p, dim1=1, dim2=2), torch.full((2, 3), 0.8))
    w, prior = net.weights_and_prior()
    assert w is not None and w.shape == (5,) and w.mean().item() == pytest.approx(1.0)
    # -log Gamma(1.0; 1.25, 0.25) at the mode (alpha - 1) / beta = 1
    g = torch.distributions.Gamma(torch.tensor(1.25), torch.tensor(0.25))
    assert prior.item() == pytest.approx(-g.log_prob(torch.tensor(1.0)).item(), rel=1e-6)


@pytest.mark.parametrize(
    "options, key",
    [
        ({"eta": 1.0}, "method.eta"),
        ({"embed_size": 0}, "method.embed_size"),
        ({"alpha": 0.0}, "method.alpha"),
        ({"num_annotators": 0}, "method.num_annotators"),
    ],
)
def test_options_are_checked(options: dict, key: str):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        MaDLOptions(**options)


def planted_answers(path, seed: int = 0) -> np.ndarray:
    """Digits answers: annotator 'good' right 90 % of the time (else another class at
    random), 'spam1' and 'spam2' uniform over the 10 classes. Returns the digits labels."""
    from sklearn.datasets import load_digits

    y = load_digits().target
    rng = np.random.default_rng(seed)
    wrong = (y + rng.integers(1, 10, len(y))) % 10
    good = np.where(rng.random(len(y)) < 0.9, y, wrong)
    rows = [(i, "good", int(good[i])) for i in range(len(y))]
    for name in ("spam1", "spam2"):
        rows += [(i, name, int(v)) for i, v in enumerate(rng.integers(0, 10, len(y)))]
    pd.DataFrame(rows, columns=["task", "worker", "label"]).to_csv(path, index=False)
    return y


def recipe(tmp_path, method: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "madl_planted",
        "method": method,
        "task": {
            "name": "classification",
            "dataset": "digits",
            "hidden": 64,
            "val_fraction": 0.0,
            "split_seed": 0,
            "annotations": str(tmp_path / "answers.csv"),
        },
        "data": {"batch_size": 64},
        "optim": {"lr": 0.003},
        "train": {"epochs": 12, "select_by": "last", "progress": False, "num_threads": 1},
        "detection": {"method": "none"},
        "output_dir": str(tmp_path / method["name"]),
    }


def test_recovers_planted_annotators_better_than_majority_vote(tmp_path):
    torch.manual_seed(0)
    planted_answers(tmp_path / "answers.csv")
    ce = train(resolve(recipe(tmp_path, {"name": "standard"})))
    madl = train(resolve(recipe(tmp_path, {"name": "madl"})))
    # majority vote of one good annotator and two spammers is wrong about half the time
    assert ce["noise_rate_realised"] > 0.3
    assert madl["test"]["accuracy"] > ce["test"]["accuracy"] + 0.1, (madl, ce)
    assert madl["test"]["accuracy"] > 0.85
    # the learned confusions: 'good' (code 0) diagonal, the spammers (1, 2) near uniform
    state = torch.load(tmp_path / "madl" / "best_model.pt", weights_only=True)
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.data, dtype=torch.float32)
    x = (x - x.mean(0)) / x.std(0).clamp_min(1e-6)  # about the task's standardisation
    net = MaDLNet(
        torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(64, 64),
            torch.nn.ReLU(),
            torch.nn.Dropout(0.0),
            torch.nn.Linear(64, 64),
            torch.nn.ReLU(),
            torch.nn.Linear(64, 10),
        ),
        3,
        10,
        MaDLOptions(),
    )
    net.load_state_dict(state)
    net.eval()
    with torch.no_grad():
        net(x)
        rows = torch.arange(len(x))
        diag = {}
        for code in range(3):
            p = net.perf_logits(rows, torch.full_like(rows, code)).softmax(-1)
            diag[code] = torch.diagonal(p, dim1=1, dim2=2).mean().item()
    # (planted: 0.9 and 0.1; the AP model starts every annotator at eta = 0.8)
    assert diag[0] > 0.6 and max(diag[1], diag[2]) < 0.4, diag
    assert diag[0] - max(diag[1], diag[2]) > 0.3, diag
