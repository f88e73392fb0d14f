"""``standard``'s step without a selector or weights (``sum / max(U, 1)``) is the weighted
mean with ``w = 1`` bit for bit (loss, gradients, a whole run), and still stops on a
non-finite loss, naming the step."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import labelnoise.methods.standard as standard_module
from labelnoise.common.losses import build_loss
from labelnoise.common.selection.uniform import NoSelection
from labelnoise.common.units import Units
from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.engine.run import NonFiniteLossError
from labelnoise.methods.base import Net, NoOptions, weighted_mean
from labelnoise.methods.standard import Standard


def _method(pred: torch.Tensor, target: torch.Tensor, weight=None) -> Standard:
    ids = torch.arange(pred.shape[0])
    run = SimpleNamespace(
        adapter=SimpleNamespace(units=lambda model, batch: Units(pred, target, ids, weight)),
        accelerator=SimpleNamespace(num_processes=1),
        state=SimpleNamespace(step=6, epoch=1),
        ckpt=SimpleNamespace(latest=lambda: None),
    )
    method = Standard(NoOptions(), run)  # type: ignore[arg-type]
    loss = build_loss("ce", num_classes=pred.shape[1])
    method.setup([Net(torch.nn.Identity(), None, None, loss)], NoSelection(num_examples=64))  # type: ignore[arg-type]
    return method


@pytest.mark.parametrize("u", [1, 7, 64, 1000])
def test_unweighted_step_equals_the_weighted_mean_with_ones(u):
    g = torch.Generator().manual_seed(u)
    logits = torch.randn(u, 5, generator=g) * 4
    target = torch.randint(0, 5, (u,), generator=g)
    grads, losses = [], []
    for shortcut in (True, False):
        pred = logits.clone().requires_grad_()
        if shortcut:
            out = _method(pred, target).step(None)
        else:  # the general step: w = ones from the selector, weighted_mean
            unit = build_loss("ce", num_classes=5)(pred, target)
            out = SimpleNamespace(loss=weighted_mean(torch.ones_like(unit.detach()), unit))
        out.loss.backward()
        losses.append(out.loss.detach())
        grads.append(pred.grad)
    assert torch.equal(losses[0], losses[1])
    assert torch.equal(grads[0], grads[1])
    # and by hand: the mean of -log softmax at the target
    ref = -torch.log_softmax(logits.double(), 1)[torch.arange(u), target].mean()
    assert float(losses[0]) == pytest.approx(float(ref), rel=1e-6)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_unweighted_step_stops_on_a_non_finite_loss(bad):
    pred = torch.zeros(4, 3)
    pred[2, 0] = bad  # one unit's loss is NaN
    with pytest.raises(NonFiniteLossError, match=r"at step 7 \(epoch 2\)"):
        _method(pred, torch.tensor([0, 1, 2, 0])).step(None)


def test_per_unit_weights_take_the_weighted_step():
    pred, target = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    weight = torch.tensor([1.0, 0.0, 0.5, 1.0])
    out = _method(pred, target, weight).step(None)
    unit = build_loss("ce", num_classes=3)(pred, target)
    assert torch.equal(out.loss, (weight * unit).sum() / weight.sum())


TINY = {
    "task": {"name": "classification", "hidden": 16, "noise": {"kind": "symmetric", "rate": 0.4}},
    "data": {"limit": 90, "eval_limit": 40, "batch_size": 16},
    "optim": {"lr": 0.01},
    "train": {"epochs": 3, "progress": False, "num_threads": 1},
    "detection": {"method": "none"},
}


def test_a_run_without_selector_equals_the_general_step(tmp_path, monkeypatch):
    """The same run with the shortcut off (``NoSelection`` not recognised): the same
    metrics, dynamics and selected weights, bit for bit."""
    out = {}
    for name in ("shortcut", "general"):
        if name == "general":
            monkeypatch.setattr(standard_module, "NoSelection", type("Other", (), {}))
        cfg = resolve({**TINY, "name": name, "output_dir": str(tmp_path / name)})
        metrics = train(cfg)
        metrics["train"].pop("wall_time_s")
        metrics["run"] = None
        out[name] = (metrics, cfg.run_dir)
    (m1, d1), (m2, d2) = out["shortcut"], out["general"]
    assert json.dumps(m1, sort_keys=True) == json.dumps(m2, sort_keys=True)
    a, b = np.load(d1 / "dynamics.npz"), np.load(d2 / "dynamics.npz")
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k])
    w1 = torch.load(d1 / "best_model.pt", weights_only=True)
    w2 = torch.load(d2 / "best_model.pt", weights_only=True)
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
