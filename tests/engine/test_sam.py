"""Sharpness-aware minimization (Foret et al., ICLR 2021) in the loop's step: the
perturbation against the paper's formula, one SAM step against a hand-written one, and a
run through the engine with gradient accumulation that resumes exactly."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.engine.sam import perturb, restore

RECIPE: dict[str, Any] = {
    "name": "sam",
    "task": {
        "name": "classification",
        "dataset": "digits",
        "hidden": 16,
        "val_fraction": 0.0,
        "noise": {"kind": "symmetric", "rate": 0.2},
    },
    "data": {"batch_size": 32, "limit": 128, "eval_limit": 64},
    "optim": {"name": "sgd", "lr": 0.1, "sam": {"rho": 0.05}},
    "train": {"epochs": 2, "select_by": "last", "progress": False, "num_threads": 1},
    "detection": {"method": "none"},
}


def test_perturbation_is_rho_times_the_normalised_gradient():
    w = nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    w.grad = torch.tensor([3.0, 0.0, 4.0])
    e = perturb([w], 0.1)
    assert torch.allclose(w.detach(), torch.tensor([1.06, -2.0, 0.58]))  # + 0.1 * g / 5
    restore(e)
    assert torch.allclose(w.detach(), torch.tensor([1.0, -2.0, 0.5]))
    # ASAM: e = rho * w^2 g / || |w| g ||; |w| g = (3, 0, 2), norm sqrt(13)
    e = perturb([w], 0.1, adaptive=True)
    expected = 0.1 * torch.tensor([3.0, 0.0, 1.0]) / 13**0.5
    assert torch.allclose(e[0][1], expected)
    restore(e)
    w.grad = torch.tensor([float("inf"), 0.0, 0.0])
    assert perturb([w], 0.1) == []  # an overflowed gradient: no perturbation


def _sgd_sam_reference(model: nn.Module, x, y, lr: float, rho: float) -> dict:
    """One SAM step written out: grad at w, e = rho g/||g||, grad at w + e, w -= lr g'."""
    params = list(model.parameters())
    loss = nn.functional.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, params)
    norm = torch.sqrt(torch.stack([(g**2).sum() for g in grads]).sum())
    with torch.no_grad():
        for p, g in zip(params, grads):
            p.add_(rho * g / norm)
    loss2 = nn.functional.cross_entropy(model(x), y)
    grads2 = torch.autograd.grad(loss2, params)
    with torch.no_grad():
        for p, g, g2 in zip(params, grads, grads2):
            p.sub_(rho * g / norm)
            p.sub_(lr * g2)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_one_step_matches_the_reference(tmp_path):
    import copy

    from labelnoise.engine.run import set_train_split, start
    from labelnoise.engine.setup import build_loss_fn, build_optimizer, build_selector_fn
    from labelnoise.engine.step import take_step
    from labelnoise.methods import Net, build_method

    recipe = {**RECIPE, "optim": {"name": "sgd", "lr": 0.1, "momentum": 0.0, "sam": {"rho": 0.05}}}
    cfg = resolve(recipe, {"output_dir": str(tmp_path / "r")})
    run = start(cfg, resume=False, overwrite=False)
    method = build_method(cfg, run)
    set_train_split(run, method.train_dataset(run.splits.train))
    model = run.adapter.build_model(run.splits)
    ref = copy.deepcopy(model)
    opt, sched = build_optimizer(cfg, model.parameters(), run.total_steps)
    acc = run.accelerator
    model, opt = acc.prepare(model, opt)
    net = Net(model, opt, sched, build_loss_fn(cfg, 10, 128, device=acc.device))
    method.setup([net], build_selector_fn(cfg, 128, acc.gather))
    batch = next(iter(run.train_loader))
    take_step(cfg, acc, method, [net], batch)
    x = batch["x"].float()
    expected = _sgd_sam_reference(ref, x, batch["target"].long(), lr=0.1, rho=0.05)
    got = acc.unwrap_model(model).state_dict()
    for k in expected:
        assert torch.allclose(got[k], expected[k], atol=1e-6), k


def test_sam_with_accumulation_trains_and_resumes_exactly(tmp_path, monkeypatch):
    from labelnoise.methods.standard import Standard

    over = {"train": {"grad_accum": 2, "checkpoint_every": 1}}
    straight = train(resolve(RECIPE, {"output_dir": str(tmp_path / "a"), **over}))
    plain = train(
        resolve(RECIPE, {"output_dir": str(tmp_path / "p"), "optim": {"sam": {"rho": 0.0}}})
    )
    assert straight["test"] != plain["test"]  # SAM changed the training
    cfg = resolve(RECIPE, {"output_dir": str(tmp_path / "b"), **over})
    original = Standard.step
    calls = {"n": 0}

    def crash(self, batch):
        calls["n"] += 1
        if calls["n"] == 11:  # two passes per micro-batch: inside the third optimizer step
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(Standard, "step", crash)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(Standard, "step", original)
    assert train(cfg, resume=True)["test"] == straight["test"]
