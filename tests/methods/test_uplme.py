"""``method: uplme``: the loss against a hand computation, the options, the twin module and a
short engine run on scikit-learn's diabetes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.methods.uplme import TwinHeteroscedastic, UplmeOptions, uplme_loss

RECIPE = {
    "name": "uplme",
    "method": {"name": "uplme"},
    "task": {
        "name": "regression",
        "dataset": "diabetes",
        "hidden": [8],
        "val_fraction": 0.0,
        "variance_head": True,
        "noise": {"kind": "symmetric", "rate": 0.4},
    },
    "loss": {"name": "gaussian_nll"},
    "data": {"batch_size": 64},
    "optim": {"lr": 0.01, "scheduler": "cosine"},
    "train": {"epochs": 3, "select_by": "last", "progress": False, "num_threads": 1},
    "detection": {"method": "none"},
}


def _hand(pred: list[list[float]], y: list[float], beta: float, alpha: float, lam: tuple) -> float:
    """The paper's loss written out with Python floats (module docstring of uplme)."""
    u = len(y)
    nll, pen_sq, cons = [0.0, 0.0], [0.0, 0.0], 0.0
    for (m1, lv1, m2, lv2), t in zip(pred, y):
        v1, v2 = math.exp(lv1), math.exp(lv2)
        v = (v1 + v2) / 2
        for k, m in enumerate((m1, m2)):
            nll[k] += 0.5 * (math.log(v) + (t - m) ** 2 / v) * v**beta / u
            pen_sq[k] += (v * math.exp(-alpha * (m - t) ** 2)) ** 2
        cons += ((m1 - m2) ** 2 + (math.sqrt(v1) - math.sqrt(v2)) ** 2) / u
    nll_t = 0.5 * (nll[0] + nll[1])
    pen_t = 0.5 * (math.sqrt(pen_sq[0]) / u + math.sqrt(pen_sq[1]) / u)
    return lam[0] * nll_t + lam[1] * pen_t + lam[2] * cons


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_loss_matches_the_hand_computation(beta):
    pred = [[0.2, -0.5, 0.4, 0.3], [1.5, 0.1, 1.0, -1.0], [-0.3, 0.7, 0.0, 0.2]]
    y = [0.0, 1.2, 2.5]
    opts = UplmeOptions(
        beta=beta, alpha=1.5, lambda_nll=1.0, lambda_penalty=2.0, lambda_consistency=0.5
    )
    loss, unit, parts = uplme_loss(
        torch.tensor(pred, dtype=torch.float64), torch.tensor(y, dtype=torch.float64), opts
    )
    want = _hand(pred, y, beta, 1.5, (1.0, 2.0, 0.5))
    assert float(loss) == pytest.approx(want, rel=1e-10)
    assert unit.shape == (3,)
    # beta = 0 and only the NLL: the average of two torch Gaussian NLLs on the shared variance
    if beta == 0.0:
        p = torch.tensor(pred, dtype=torch.float64)
        v = 0.5 * (p[:, 1].exp() + p[:, 3].exp())
        t = torch.tensor(y, dtype=torch.float64)
        ref = 0.5 * sum(nn.functional.gaussian_nll_loss(p[:, c], t, v) for c in (0, 2))
        assert parts["nll"] == pytest.approx(float(ref), rel=1e-10)


def test_loss_gradient_flows_to_both_networks_and_consistency_pulls_them_together():
    pred = torch.tensor([[0.0, 0.0, 1.0, 0.0]], requires_grad=True)
    opts = UplmeOptions(lambda_nll=0.0, lambda_penalty=0.0, lambda_consistency=1.0)
    loss, _, _ = uplme_loss(pred, torch.tensor([0.5]), opts)
    loss.backward()
    g = pred.grad[0]
    assert float(loss.detach()) == pytest.approx(1.0)  # (0 - 1)^2, equal variances
    assert g[0] < 0 < g[2]  # mean 1 pushed up, mean 2 pushed down: towards each other


@pytest.mark.parametrize(
    "bad, key",
    [
        ({"beta": 1.5}, "method.beta"),
        ({"alpha": -1.0}, "method.alpha"),
        ({"lambda_consistency": float("nan")}, "method.lambda_consistency"),
        ({"num_passes": 0}, "method.num_passes"),
        ({"lambda_nll": 0.0, "lambda_penalty": 0.0, "lambda_consistency": 0.0}, "method.lambda"),
    ],
)
def test_options_are_checked(bad, key):
    with pytest.raises(ValueError, match=key):
        UplmeOptions(**bad)


def test_recipe_refuses_a_network_without_variance_head(tmp_path):
    recipe = {**RECIPE, "task": {**RECIPE["task"], "variance_head": False}}
    with pytest.raises(ValueError, match="task.variance_head"):
        resolve(recipe, {"output_dir": str(tmp_path / "x")})


class _Const(nn.Module):
    def __init__(self, mean: float, log_var: float) -> None:
        super().__init__()
        self.out = torch.tensor([mean, log_var])

    def forward(self, x):
        return self.out.expand(x.shape[0], 2)


def test_twin_answers_both_members_in_training_and_the_ensemble_in_eval():
    twin = TwinHeteroscedastic(_Const(1.0, math.log(2.0)), _Const(3.0, math.log(4.0)))
    x = torch.zeros(2, 5)
    assert torch.allclose(twin(x)[0], torch.tensor([1.0, math.log(2.0), 3.0, math.log(4.0)]))
    twin.eval()
    assert torch.allclose(twin(x), torch.tensor([[2.0, math.log(3.0)]] * 2))
    with pytest.raises(ValueError, match="variance head"):
        TwinHeteroscedastic(nn.Linear(5, 1), nn.Linear(5, 1))(x)


def test_short_run_trains_two_networks_and_beats_the_untrained_ensemble(tmp_path):
    metrics = train(resolve(RECIPE, {"output_dir": str(tmp_path / "u"), "seed": 0}))
    mae = metrics["test"]["mae"]
    assert np.isfinite(mae)
    zero = resolve(
        {**RECIPE, "train": {**RECIPE["train"], "epochs": 1, "max_steps": 1}},
        {"output_dir": str(tmp_path / "z"), "seed": 0},
    )
    assert mae < train(zero)["test"]["mae"]
