"""Contract test for every entry of LOSSES (as timm does for its models): every registered loss
is classified and checked for spatial = flat units, ignore_index, gradients, soft targets,
bf16 autocast and its reduction to (binary) cross-entropy, so a new entry is covered."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from labelnoise.common.losses import BINARY_LOSSES, LOSSES, REGRESSION_LOSSES, build_loss
from labelnoise.common.transition import TransitionMatrix
from labelnoise.common.units import flatten_units, two_class_units

C = 5
MULTICLASS = sorted(set(LOSSES) - BINARY_LOSSES - REGRESSION_LOSSES)
BINARY = sorted(BINARY_LOSSES)
REGRESSION = sorted(REGRESSION_LOSSES)

# Settings at which a loss is exactly (or, for GCE's q -> 0, nearly) cross-entropy.
NOISE_FREE = {
    "ce": {},
    "label_smoothing": {"smoothing": 0.0},
    "nls": {"smoothing": 0.0},
    "maxsup": {"alpha": 0.0},
    "gce": {"q": 1e-5},
    "tlq": {"q": 1e-5, "k": 0.0},
    "sce": {"alpha": 1.0, "beta": 0.0},
    "bootstrap_soft": {"beta": 1.0},
    "bootstrap_hard": {"beta": 1.0},
    "focal": {"gamma": 0.0},
    "forward": {"transition": TransitionMatrix.identity(C)},
    "backward": {"transition": TransitionMatrix.identity(C)},
    "elr": {"lam": 0.0},
}
# Losses with no cross-entropy special case: bounded/normalised by design.
NO_NOISE_FREE = {"logitnorm", "rce", "mae", "nce", "nce_rce", "nce_mae", "ldr"}
BINARY_NOISE_FREE = {
    "bce": {},
    "gce_binary": {"q": 1e-5},
    "sce_binary": {"alpha": 1.0, "beta": 0.0},
    "bootstrap_binary": {"beta": 1.0},
    "ls_binary": {"smoothing": 0.0},
    "asl": {"gamma_pos": 0.0, "gamma_neg": 0.0, "clip": 0.0},
}


def _required(name: str, logits: torch.Tensor, seed: int = 0) -> dict:
    """Options a loss cannot run without (a transition; ELR's target memory)."""
    if name in ("forward", "backward"):
        return {"transition": TransitionMatrix.symmetric(C, 0.3)}
    if name == "elr":
        g = torch.Generator().manual_seed(seed)
        return {"ema_target": torch.softmax(torch.randn(logits.shape, generator=g), 1)}
    return {}


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.movedim(1, -1).reshape(-1, x.shape[1])


def _batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, C, 3, 4, generator=g) * 2
    target = torch.randint(0, C, (2, 3, 4), generator=g)
    target[0, 0, :2] = -100
    return logits, target


def test_every_entry_is_classified():
    covered = set(NOISE_FREE) | NO_NOISE_FREE
    assert covered == set(MULTICLASS)
    assert set(BINARY_NOISE_FREE) == BINARY_LOSSES


@pytest.mark.parametrize("name", MULTICLASS)
def test_spatial_equals_flat_units_and_ignore_index(name):
    fn = LOSSES[name]
    logits, target = _batch()
    opts = _required(name, logits)
    spatial = fn(logits, target, reduction="none", **opts)
    assert spatial.shape == target.shape
    assert torch.all(spatial[target == -100] == 0)
    flat_opts = {k: _flat(v) if k == "ema_target" else v for k, v in opts.items()}
    flat = fn(_flat(logits), target.reshape(-1), reduction="none", **flat_opts)
    torch.testing.assert_close(spatial.reshape(-1), flat)
    # mean over labelled units only, same as the loss of the labelled units alone
    keep = target.reshape(-1) != -100
    kept_opts = {k: v[keep] if k == "ema_target" else v for k, v in flat_opts.items()}
    units = flatten_units(logits, target)
    alone = fn(units.pred, units.target, reduction="mean", **kept_opts)
    torch.testing.assert_close(fn(logits, target, **opts), alone)
    torch.testing.assert_close(fn(logits, target, reduction="sum", **opts), spatial.sum())
    # the module of build_loss gives the same per-unit losses
    if name != "elr":
        module = build_loss(name, num_classes=C, **opts)
        torch.testing.assert_close(module(units.pred, units.target), flat[keep])


@pytest.mark.parametrize("name", MULTICLASS)
def test_ignored_units_get_no_gradient_and_confident_wrong_is_finite(name):
    fn = LOSSES[name]
    target = torch.tensor([0, 1, 2, -100])
    wrong = torch.tensor([3, 4, 0, 1])
    logits = (40.0 * F.one_hot(wrong, C).float()).requires_grad_()
    loss = fn(logits, target, **_required(name, logits))
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(logits.grad).all()
    assert torch.all(logits.grad[3] == 0)


@pytest.mark.parametrize("name", MULTICLASS)
def test_soft_targets(name):
    fn = LOSSES[name]
    logits, target = _batch(1)
    target = target.clamp_min(0)
    opts = _required(name, logits)
    one_hot = F.one_hot(target, C).movedim(-1, 1).float()
    torch.testing.assert_close(
        fn(logits, one_hot, reduction="none", **opts), fn(logits, target, reduction="none", **opts)
    )
    soft = torch.softmax(torch.randn(logits.shape, generator=torch.Generator().manual_seed(3)), 1)
    x = logits.clone().requires_grad_()
    loss = fn(x, soft, **opts)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name", MULTICLASS)
def test_bf16_autocast_on_cpu(name):
    fn = LOSSES[name]
    g = torch.Generator().manual_seed(4)
    layer = torch.nn.Linear(8, C)
    x = torch.randn(16, 8, generator=g)
    target = torch.randint(0, C, (16,), generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = layer(x)
        assert logits.dtype == torch.bfloat16
        opts = _required(name, logits)
        loss = fn(logits, target, **opts)
    loss.backward()
    assert loss.dtype == torch.float32
    assert torch.isfinite(loss) and torch.isfinite(layer.weight.grad).all()
    reference = fn(logits.detach().float(), target, **opts)
    torch.testing.assert_close(loss.detach(), reference, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("name", sorted(NOISE_FREE))
def test_reduces_to_cross_entropy(name):
    logits, target = _batch(2)
    opts = {**_required(name, logits), **NOISE_FREE[name]}
    got = LOSSES[name](logits, target, reduction="none", **opts)
    expected = F.cross_entropy(logits, target, reduction="none")
    tol = 1e-3 if name in ("gce", "tlq") else 1e-5
    torch.testing.assert_close(got, expected, rtol=tol, atol=tol)


def test_ldr_without_margin_and_adaptivity_is_ce_minus_log_c():
    logits, target = _batch(5)
    got = LOSSES["ldr"](
        logits, target, margin=0.0, alpha=None, normalize=False, lam=1.0, reduction="none"
    )
    expected = F.cross_entropy(logits, target, reduction="none") - math.log(C)
    torch.testing.assert_close(got[target != -100], expected[target != -100])


def _binary_batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 3, 4, 4, generator=g) * 2
    target = torch.randint(0, 2, (2, 3, 4, 4), generator=g)
    target[0, 0, 0] = -100
    return logits, target


@pytest.mark.parametrize("name", BINARY)
def test_binary_spatial_equals_two_class_units(name):
    fn = LOSSES[name]
    logits, target = _binary_batch()
    spatial = fn(logits, target, reduction="none")
    assert spatial.shape == logits.shape
    assert torch.all(spatial[target == -100] == 0)
    units = two_class_units(logits, target)
    per_unit = build_loss(name)(units.pred, units.target)
    torch.testing.assert_close(per_unit, spatial[target != -100])
    mean = fn(logits, target)
    torch.testing.assert_close(mean, spatial[target != -100].mean())


@pytest.mark.parametrize("name", BINARY)
def test_binary_gradients_soft_targets_and_bf16(name):
    fn = LOSSES[name]
    target = torch.tensor([[1, 0, -100], [0, 1, 1]])
    logits = torch.tensor([[-40.0, 40.0, 3.0], [40.0, -40.0, 0.5]], requires_grad=True)
    loss = fn(logits, target)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    assert logits.grad[0, 2] == 0
    hard = torch.tensor([[1, 0, 1], [0, 1, 1]])
    torch.testing.assert_close(fn(logits, hard.float()), fn(logits, hard))
    soft = torch.tensor([[0.9, 0.2, 0.5], [0.0, 0.7, 1.0]])
    assert torch.isfinite(fn(logits, soft))
    layer = torch.nn.Linear(4, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(torch.randn(2, 4))
        bf16_loss = fn(out, hard)
    bf16_loss.backward()
    assert torch.isfinite(bf16_loss) and torch.isfinite(layer.weight.grad).all()
    torch.testing.assert_close(
        bf16_loss.detach(), fn(out.detach().float(), hard), rtol=2e-2, atol=2e-2
    )


@pytest.mark.parametrize("name", BINARY)
def test_binary_reduces_to_bce(name):
    logits, target = _binary_batch(1)
    got = LOSSES[name](logits, target, reduction="none", **BINARY_NOISE_FREE[name])
    keep = target != -100
    expected = F.binary_cross_entropy_with_logits(
        logits[keep], target[keep].float(), reduction="none"
    )
    torch.testing.assert_close(got[keep], expected, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize(
    ("binary", "multiclass", "opts"),
    [
        ("gce_binary", "gce", {"q": 0.6}),
        ("sce_binary", "sce", {"alpha": 0.3, "beta": 0.8}),
        ("bootstrap_binary", "bootstrap_soft", {"beta": 0.7}),
        ("ls_binary", "label_smoothing", {"smoothing": 0.2}),
        ("bce", "ce", {}),
    ],
)
def test_binary_forms_equal_multiclass_loss_on_two_class_logits(binary, multiclass, opts):
    logits, target = _binary_batch(2)
    units = two_class_units(logits, target)
    expected = LOSSES[multiclass](units.pred, units.target, reduction="none", **opts)
    got = LOSSES[binary](logits, target, reduction="none", **opts)[target != -100]
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


REGRESSION_NOISE_FREE = {
    "mse": ({}, 1.0),
    "huber": ({"delta": 1e6}, 0.5),
    "cauchy": ({"c": 1e4}, 0.5),
    "trimmed_mse": ({"trim": 0.0}, 1.0),
    "gaussian_nll": ({}, 0.5),
}


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_entries(name):
    assert set(REGRESSION_NOISE_FREE) == REGRESSION_LOSSES
    opts, scale = REGRESSION_NOISE_FREE[name]
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(12, generator=g)
    target = torch.randn(12, generator=g)
    pred = torch.stack([mean, torch.zeros(12)], 1) if name == "gaussian_nll" else mean
    module = build_loss(name, **opts)
    per_unit = module(pred, target)
    assert per_unit.shape == (12,)
    torch.testing.assert_close(per_unit, scale * (mean - target) ** 2, rtol=1e-4, atol=1e-4)
    big = (pred * 1e4).requires_grad_()
    module(big, target).sum().backward()
    assert torch.isfinite(big.grad).all()
