"""Edge methods and adapter: warp, PNT-Edge regulariser gradient, tolerance loss, class
balance, units and metrics of the adapter."""

import numpy as np
import pytest
import torch

from labelnoise.common.units import IGNORE_INDEX
from labelnoise.tasks.edges.adapter import EdgeAdapter, EdgesConfig
from labelnoise.tasks.edges.data import decode_bitmask, encode_bitmask
from labelnoise.tasks.edges.metrics import evaluate_edges
from labelnoise.tasks.edges.models import SmallHED
from labelnoise.tasks.edges.pnt_edge import PNTEdgeNet, edge_density, warp
from labelnoise.tasks.edges.tolerance import class_balanced_weights, tolerance_targets


def _target(n=2, h=16, w=24):
    t = torch.zeros(n, 1, h, w, dtype=torch.long)
    t[:, :, 8, 2:22] = 1
    if n > 1:
        t[1, :, 2:14, 5] = 1
    return t


def test_warp_by_a_constant_field_is_a_shift():
    x = torch.randn(2, 1, 6, 7, dtype=torch.float64)
    delta = torch.zeros(2, 2, 6, 7, dtype=torch.float64)
    delta[:, 1] = 1.0  # dx = +1: out(y, x) = in(y, x + 1)
    out = warp(x, delta)
    torch.testing.assert_close(out[..., :-1], x[..., 1:])
    torch.testing.assert_close(warp(x, torch.zeros_like(delta)), x)


def test_density_regulariser_gradient_equals_autograd_of_r():
    torch.manual_seed(0)
    t = _target()
    image = torch.randn(2, 3, 16, 24)
    net = PNTEdgeNet(SmallHED(width=4), max_shift=3.0, density_weight=0.7, window=5)
    torch.nn.init.normal_(net.shift.net[-1].weight, std=0.3)
    net.eval()  # batch-norm statistics fixed: both passes see the same function
    warped, _ = net.noisy_logits(image, t)
    warped.sum().backward()
    got = [p.grad.clone() for p in net.shift.parameters()]
    net.zero_grad()
    net.density_weight = 0.0
    warped2, delta = net.noisy_logits(image, t)
    rho = edge_density(t, window=5)
    r = ((1 - rho) * delta.pow(2)).sum() / (3.0**2 * rho.numel())
    (warped2.sum() + 0.7 * r).backward()
    for a, b in zip(got, net.shift.parameters()):
        torch.testing.assert_close(a, b.grad, rtol=1e-4, atol=1e-6)


def test_edge_density_reference():
    t = _target()
    rho = edge_density(t, window=3)
    ref = torch.nn.functional.avg_pool2d(
        (t > 0).float(), 3, stride=1, padding=1, count_include_pad=False
    )
    torch.testing.assert_close(rho, ref)
    assert rho[0, 0, 8, 10] == pytest.approx(3 / 9)


def test_tolerance_ignores_near_negatives_and_forgives_a_one_pixel_shift():
    t = _target(1)
    logits = torch.full(t.shape, -4.0)
    logits[:, :, 9, 2:22] = 4.0  # the right edge, one row low
    lo, tt = tolerance_targets(logits, t, radius=1, pool_positives=True)
    assert (tt[0, 0, 7, 3:21] == IGNORE_INDEX).all() and (tt[0, 0, 9, 3:21] == IGNORE_INDEX).all()
    assert (tt[t == 1] == 1).all() and (tt[0, 0, 0] == 0).all()
    keep = tt != IGNORE_INDEX
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    relaxed = bce(lo[keep], tt[keep].float())
    strict = bce(logits, t.float())
    assert relaxed < 0.05 < strict
    l0, t0 = tolerance_targets(logits, t, radius=0)
    assert torch.equal(l0, logits) and torch.equal(t0, t)


def test_class_balanced_weights_balance_each_image():
    t = _target()
    t[0, 0, 0, 0] = IGNORE_INDEX
    w = class_balanced_weights(t)
    for i in range(2):
        pos, neg = w[i][t[i] == 1].sum(), w[i][t[i] == 0].sum()
        torch.testing.assert_close(pos, neg)
        n_pos, n_neg = (t[i] == 1).sum(), (t[i] == 0).sum()
        assert w[i][t[i] == 1][0] == pytest.approx(float(n_neg / (n_pos + n_neg)))
    assert w[0, 0, 0, 0] == 0


def test_bitmask_roundtrip():
    rng = np.random.default_rng(0)
    maps = rng.random((6, 5, 7)) < 0.3
    maps[-1, 0, 0] = True
    np.testing.assert_array_equal(decode_bitmask(encode_bitmask(maps)), maps)


def _batch(h=16, w=24):
    t = _target(2, h, w)
    annot = np.stack([t[:, 0].numpy(), np.roll(t[:, 0].numpy(), 1, axis=1)], 1)  # (2, K=2, h, w)
    clean = torch.from_numpy(np.stack([encode_bitmask(a) for a in annot]))[:, None]
    image = torch.randn(2, 3, h, w)
    return {
        "image": image,
        "target": t,
        "clean_target": clean,
        "example_id": torch.tensor([0, 1]),
    }, annot


@pytest.mark.parametrize("tolerance", [0, 1])
def test_adapter_units_train_and_eval(tolerance):
    torch.manual_seed(0)
    ad = EdgeAdapter(EdgesConfig(height=16, width=24, width_mult=4, tolerance_radius=tolerance))
    model = ad.build_model(None)
    batch, annot = _batch()
    model.train()
    u = ad.units(model, batch)
    assert u.pred.shape[1] == 2 and u.weight is not None and len(u) == len(u.weight)
    ignored = (tolerance_targets(batch["target"], batch["target"], radius=tolerance)[1] < 0).sum()
    assert len(u) == 2 * 16 * 24 - int(ignored) and (ignored > 0) == (tolerance > 0)
    loss = (u.weight * torch.nn.functional.cross_entropy(u.pred, u.target, reduction="none")).sum()
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    model.eval()
    with torch.no_grad():
        ev = ad.eval_units(ad.units(model, batch, target_key="clean_target"))
        probs = torch.sigmoid(model(batch["image"]))[:, 0].numpy()
    assert ev.pred.shape == (2 * 16 * 24, 1)
    got = ad.metrics(ev)
    ref = evaluate_edges(list(probs), list(annot), thresholds=25)
    assert got["ods"] == pytest.approx(ref["ods"]) and got["ap"] == pytest.approx(ref["ap"])


def test_train_units_with_a_soft_target_keep_the_hard_target_weights():
    ad = EdgeAdapter(EdgesConfig(height=16, width=24, tolerance_radius=1))
    t = _target()
    logits = torch.randn(t.shape)
    soft = torch.rand(t.shape)
    u = ad.train_units(logits, t, torch.tensor([0, 1]), soft=soft)
    _, relaxed = tolerance_targets(logits, t, radius=1)
    keep = (relaxed != IGNORE_INDEX).reshape(-1)
    torch.testing.assert_close(u.target[:, 1], soft.reshape(-1)[keep])
    torch.testing.assert_close(u.weight, class_balanced_weights(relaxed).reshape(-1)[keep])
    torch.testing.assert_close(u.pred[:, 1], logits.reshape(-1)[keep])


def test_negative_tolerance_is_refused():
    with pytest.raises(ValueError, match=r"task\.tolerance_radius must be >= 0 \(0: off\); got -1"):
        EdgesConfig(tolerance_radius=-1)


def test_pnt_edge_warmup_trains_the_backbone_alone_then_through_the_warp():
    torch.manual_seed(0)
    t = _target()
    image = torch.randn(2, 3, 16, 24)
    net = PNTEdgeNet(SmallHED(width=4), max_shift=3.0, warmup_images=2)
    net.train()
    out, delta = net.noisy_logits(image, t)
    assert int(net.seen) == 2 and not delta.any()
    out.sum().backward()
    assert all(p.grad is None for p in net.shift.parameters())
    torch.nn.init.normal_(net.shift.net[-1].weight, std=0.3)
    out, delta = net.noisy_logits(image, t)
    assert delta.abs().sum() > 0
    net.zero_grad()
    out.sum().backward()
    assert net.shift.net[-1].weight.grad.abs().sum() > 0
    assert net.backbone.fuse.weight.grad.abs().sum() > 0
