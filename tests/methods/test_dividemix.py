"""DivideMix pieces against independent references, and the loop through the engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.methods.dividemix import codivide, dividemix_loss

RECIPE = {
    "name": "dm",
    "method": {"name": "dividemix", "warmup_epochs": 1, "rampup_epochs": 2},
    "task": {"name": "classification", "hidden": 16, "noise": {"kind": "symmetric", "rate": 0.4}},
    "data": {"limit": 200, "eval_limit": 60, "batch_size": 32},
    "optim": {"lr": 0.01},
    "train": {"epochs": 3, "progress": False, "num_threads": 1, "select_by": "last"},
    "detection": {"method": "none"},
}


def test_codivide_matches_sklearn_gmm():
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(0)
    losses = np.concatenate([rng.normal(0.3, 0.1, 700), rng.normal(2.0, 0.4, 300)]).clip(0)
    ours = codivide(torch.from_numpy(losses))
    x = ((losses - losses.min()) / np.ptp(losses)).reshape(-1, 1)
    gm = GaussianMixture(2, max_iter=10, tol=1e-2, reg_covar=5e-4, random_state=0).fit(x)
    ref = gm.predict_proba(x)[:, int(np.argmin(gm.means_.ravel()))]
    assert np.abs(ours - ref).mean() < 0.01
    assert ours[:700].mean() > 0.9 and ours[700:].mean() < 0.1


def test_dividemix_loss_reduces_to_ce_plus_prior_penalty():
    """All labeled, w = 1, T = 1, no mixup: soft targets are the one-hot labels."""
    torch.manual_seed(0)
    net, peer = torch.nn.Linear(5, 4), torch.nn.Linear(5, 4)
    x, y = torch.randn(16, 5), torch.randint(0, 4, (16,))
    loss = dividemix_loss(
        lambda m, xb: m(xb),
        net,
        peer,
        x,
        y,
        torch.ones(16),
        x[:0],
        num_classes=4,
        lambda_u=25.0,
        temperature=1.0,
        alpha=0.0,
    )
    logits = net(x)
    mean_p = torch.softmax(logits, 1).mean(0)
    penalty = sum(0.25 * np.log(0.25 / float(p.detach())) for p in mean_p)
    torch.testing.assert_close(loss, F.cross_entropy(logits, y) + penalty)
    loss.backward()
    assert net.weight.grad is not None and peer.weight.grad is None


def test_unlabeled_targets_are_sharpened_peer_average():
    """With w = 0 the labeled target is the net's own sharpened prediction; the unlabeled
    squared error is zero when both nets agree and nothing is mixed."""
    net = torch.nn.Linear(3, 2)
    x = torch.randn(8, 3)
    kw = {"num_classes": 2, "lambda_u": 1.0, "temperature": 1.0, "alpha": 0.0}
    loss_same = dividemix_loss(
        lambda m, xb: m(xb),
        net,
        net,
        x[:4],
        torch.zeros(4, dtype=torch.long),
        torch.zeros(4),
        x[4:],
        **kw,
    )
    p = torch.softmax(net(x), 1)
    ce_own = -(torch.log(p[:4]) * p[:4]).sum(1).mean()
    penalty = (0.5 * torch.log(0.5 / p.mean(0))).sum()
    torch.testing.assert_close(loss_same, ce_own + penalty)


def test_engine_runs_warmup_then_codivide(tmp_path):
    cfg = resolve(RECIPE, {"output_dir": str(tmp_path / "dm")})
    metrics = train(cfg)
    assert metrics["test"]["accuracy"] > 0.2
    steps_per_epoch = int(np.ceil(160 / 32))  # 200 limited items, 20 % validation
    assert metrics["train"]["steps"] > steps_per_epoch  # warm-up + 2 co-divide epochs


def test_unknown_dividemix_option_is_named(tmp_path):
    with pytest.raises(ValueError, match="unknown key 'method.warmup'"):
        resolve({**RECIPE, "method": {"name": "dividemix", "warmup": 2}})


# --- as published: two views, the warm-up penalty, the test-time ensemble --------------------


def test_two_views_average_predictions_and_mix_both_views():
    """views=2, no mixing: the refined target averages the two views' softmax; the labeled
    loss is the soft CE over both views' rows (worked by hand)."""
    from labelnoise.methods.dividemix import sharpen

    torch.manual_seed(1)
    net = torch.nn.Linear(5, 3)
    x, y, w = torch.randn(6, 5), torch.randint(0, 3, (6,)), torch.rand(6)
    shifts = iter([0.5, -0.5])
    loss = dividemix_loss(
        lambda m, xb: m(xb),
        net,
        net,
        x,
        y,
        w,
        x[:0],
        num_classes=3,
        lambda_u=1.0,
        temperature=0.5,
        alpha=0.0,
        augment=lambda t: t + next(shifts),
        views=2,
    )
    with torch.no_grad():
        v1, v2 = x + 0.5, x - 0.5
        p = (torch.softmax(net(v1), 1) + torch.softmax(net(v2), 1)) / 2
        mixed = w[:, None] * F.one_hot(y, 3).float() + (1 - w[:, None]) * p
        t = mixed**2 / (mixed**2).sum(1, keepdim=True)  # T = 0.5
        torch.testing.assert_close(sharpen(mixed, 0.5), t)
        logits = net(torch.cat([v1, v2]))
        ce = -(F.log_softmax(logits, 1) * torch.cat([t, t])).sum(1).mean()
        mean_p = torch.softmax(logits, 1).mean(0)
        penalty = (torch.full((3,), 1 / 3) * torch.log((1 / 3) / mean_p)).sum()
    torch.testing.assert_close(loss.detach(), ce + penalty)


def test_neg_entropy_penalty_by_hand():
    from labelnoise.methods.two_networks import neg_entropy

    assert float(neg_entropy(torch.zeros(4, 5))) == pytest.approx(-np.log(5))
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    p = torch.softmax(logits, 1)
    ref = float(((p * p.log()).sum(1)).mean())
    assert float(neg_entropy(logits)) == pytest.approx(ref)


def test_options_are_checked():
    for key, bad in (("views", 3), ("neg_entropy", -1.0)):
        with pytest.raises(ValueError, match=f"method.{key}"):
            resolve({**RECIPE, "method": {"name": "dividemix", key: bad}})


def test_two_networks_eval_is_mean_softmax():
    from labelnoise.methods.two_networks import TwoNetworks

    torch.manual_seed(0)
    a, b = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    x = torch.randn(5, 4)
    two = TwoNetworks(a, b).eval()
    ref = (torch.softmax(a(x), 1) + torch.softmax(b(x), 1)) / 2
    torch.testing.assert_close(torch.softmax(two(x), 1), ref)
    torch.testing.assert_close(TwoNetworks(a, b, ensemble=False).eval()(x), a(x))
    torch.testing.assert_close(two.train()(x), a(x))


def test_engine_evaluates_the_two_network_ensemble(tmp_path):
    """The run's test accuracy is the accuracy of both saved networks' mean softmax; the
    warm-up confidence penalty runs."""
    from labelnoise.engine.export import load_finished_run

    recipe = {**RECIPE, "method": {**RECIPE["method"], "neg_entropy": 1.0}}
    cfg = resolve(recipe, {"output_dir": str(tmp_path / "dm")})
    metrics = train(cfg)
    run = load_finished_run(tmp_path / "dm")
    test = run.splits.test
    x = torch.stack([test[i]["x"] for i in range(len(test))])
    y = torch.stack([torch.as_tensor(test[i]["target"]) for i in range(len(test))])
    a, b = run.model.members
    with torch.no_grad():
        p = (torch.softmax(a(x), 1) + torch.softmax(b(x), 1)) / 2
    acc = float((p.argmax(1) == y).float().mean())
    assert metrics["test"]["accuracy"] == pytest.approx(acc, abs=1e-6)
