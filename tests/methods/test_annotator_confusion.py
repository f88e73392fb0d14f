"""``method: annotator_confusion`` (labelnoise.methods.annotator_confusion) and the edges
task's ``noise.kind: all_annotators``: the noisy probability ``A p`` worked by hand, one step
against a probability-space recomputation (the paper's ``bmm`` form), identity confusion is
the standard step on every annotator's map, the trace term's gradient lowers the trace, option
and config errors, a 2-step run on the real BSDS500."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from labelnoise.common.losses import build_loss
from labelnoise.common.selection import build_selector
from labelnoise.config import load_recipe, resolve
from labelnoise.engine import train
from labelnoise.methods import METHODS, Net
from labelnoise.methods.annotator_confusion import AnnotatorConfusionOptions, noisy_logits
from labelnoise.methods.standard import Standard
from labelnoise.tasks.edges.adapter import EdgeAdapter, EdgesConfig
from labelnoise.tasks.edges.annotators import ConfusionEdgeNet, annotator_units
from labelnoise.tasks.edges.tolerance import class_balanced_weights
from tests.tasks.edges.fixtures import RECIPE, write_bsds

H, W = 4, 6
RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "edges"


def _method(trace_weight=0.1, **opts):
    adapter = EdgeAdapter(EdgesConfig(height=H, width=W, width_mult=4))
    run = SimpleNamespace(
        adapter=adapter,
        state=SimpleNamespace(step=0),
        accelerator=SimpleNamespace(num_processes=1),
    )
    o = AnnotatorConfusionOptions(trace_weight=trace_weight, **opts)
    method = METHODS["annotator_confusion"](o, run)
    train_items = [{"annotators": 3}, {"annotators": 2}]
    model = method.build_model(SimpleNamespace(train=train_items))
    method.setup(
        [Net(model, None, None, build_loss("bce"))], build_selector("none", num_examples=2)
    )
    return method, model


def _batch():
    g = torch.Generator().manual_seed(0)
    maps = torch.zeros(2, 3, H, W, dtype=torch.long)
    maps[0, 0, :, 2] = 1
    maps[0, 1, :, 3] = 1
    maps[0, 2, 1:, 2] = 1
    maps[1, 0, 2, :] = 1
    maps[1, 1, 1, :] = 1
    bits = (maps << torch.arange(3).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return {
        "image": torch.randn(2, 3, H, W, generator=g),
        "target": bits,
        "annotators": torch.tensor([3, 2]),
        "example_id": torch.tensor([0, 1]),
    }, maps


def test_noisy_probability_by_hand():
    # A = [[0.8, 0.3], [0.2, 0.7]] (columns: true 0, true 1), p(edge) = 0.75:
    # q1 = 0.2 * 0.25 + 0.7 * 0.75 = 0.575
    a = torch.tensor([[0.8, 0.3], [0.2, 0.7]]).log().view(1, 2, 2, 1, 1)
    out = noisy_logits(torch.tensor(math.log(3.0)).view(1, 1, 1, 1), a)
    assert out.item() == pytest.approx(math.log(0.575 / 0.425), abs=1e-6)


def test_annotator_units_decode_every_slot():
    batch, maps = _batch()
    got, image, slot, ids = annotator_units(
        batch["target"], batch["annotators"], batch["example_id"]
    )
    assert image.tolist() == [0, 0, 0, 1, 1] and slot.tolist() == [0, 1, 2, 0, 1]
    assert ids.tolist() == [0, 0, 0, 1, 1]
    torch.testing.assert_close(got[:, 0], torch.cat([maps[0], maps[1, :2]]))
    # an annotator with an empty map still counts (K is not the highest set bit)
    z = torch.zeros(1, 1, 2, 2, dtype=torch.long)
    assert annotator_units(z, torch.tensor([2]), torch.tensor([0]))[0].shape[0] == 2
    with pytest.raises(ValueError, match="annotators"):
        annotator_units(z, torch.tensor([0]), torch.tensor([0]))


def test_step_matches_probability_space_recomputation():
    torch.manual_seed(0)
    method, model = _method(trace_weight=0.3)
    torch.nn.init.normal_(model.head[-1].weight, std=0.3)  # confusions that vary per pixel
    batch, maps = _batch()
    model.train()
    out = method.step(batch)
    model.train()  # the same BatchNorm mode: recompute the forward pass
    logits, log_cm = model.joint(batch["image"])
    p1 = torch.sigmoid(logits)[:, 0]  # (N, H, W)
    num, den = 0.0, 0.0
    tr_num = 0.0
    for n, k_n in enumerate((3, 2)):
        for k in range(k_n):
            a = log_cm[n, k].exp()  # (2, 2, H, W), columns sum to 1
            torch.testing.assert_close(a.sum(0), torch.ones(2, H, W))
            q1 = a[1, 0] * (1 - p1[n]) + a[1, 1] * p1[n]
            y = maps[n, k].float()
            w = class_balanced_weights(maps[n, k].view(1, 1, H, W))[0, 0]
            ce = -(y * q1.log() + (1 - y) * (1 - q1).log())
            num, den = num + (w * ce).sum(), den + w.sum()
            tr_num = tr_num + (w * (a[0, 0] + a[1, 1])).sum()
    want = num / den + 0.3 * tr_num / den
    torch.testing.assert_close(out.loss, want, rtol=1e-4, atol=1e-5)
    assert len(out.units) == 5 * H * W


def test_identity_confusion_is_the_standard_step_on_every_annotator():
    torch.manual_seed(0)
    method, model = _method(trace_weight=0.0)
    last = model.head[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([60.0, 0.0, 0.0, 60.0]).repeat(3))  # A = I (to 1e-26)
    assert method.options.diag_floor == 0.5  # 0.5 I + 0.5 I = I
    batch, maps = _batch()
    model.train()
    out = method.step(batch)
    std = Standard(None, method.run)
    std.setup(method.nets, method.selector)
    model.train()
    ref = std.step(batch)  # the adapter's all_annotators units on the true map
    torch.testing.assert_close(out.loss, ref.loss)
    # and by hand: class-balanced BCE of the true logits against each annotator's map
    logits = model(batch["image"])
    num, den = 0.0, 0.0
    for n, k_n in enumerate((3, 2)):
        for k in range(k_n):
            w = class_balanced_weights(maps[n, k].view(1, 1, H, W))[0, 0]
            bce = F.binary_cross_entropy_with_logits(
                logits[n, 0], maps[n, k].float(), reduction="none"
            )
            num, den = num + (w * bce).sum(), den + w.sum()
    torch.testing.assert_close(out.loss, num / den)


@pytest.mark.parametrize("weighting", ["balanced", "uniform"])
def test_trace_gradient_lowers_the_trace(weighting):
    batch, _ = _batch()
    grads = []
    for lam in (0.0, 1.0):
        torch.manual_seed(0)
        method, model = _method(trace_weight=lam, trace_weighting=weighting)
        model.train()
        method.step(batch).loss.backward()
        grads.append(model.head[-1].bias.grad.clone())
    g = (grads[1] - grads[0]).view(3, 4)[:2]  # the trace term's gradient, used slots 0 and 1
    assert (g[:, [0, 3]] > 0).all() and (g[:, [1, 2]] < 0).all()  # diagonal down, off up
    bias = model.head[-1].bias

    def mean_trace() -> float:
        with torch.no_grad():
            cm = model.joint(batch["image"])[1][:, :2].exp()
        return float((cm[:, :, 0, 0] + cm[:, :, 1, 1]).mean())

    model.eval()
    before = mean_trace()
    with torch.no_grad():
        bias -= 0.5 * (grads[1] - grads[0])
    assert mean_trace() < before - 1e-3


def test_diag_floor_keeps_the_confusion_diagonally_dominant():
    net = ConfusionEdgeNet(torch.nn.Conv2d(3, 1, 1), slots=2, init_diag=0.9, diag_floor=0.5)
    log_cm = net.joint(torch.zeros(1, 3, 4, 4))[1]
    torch.testing.assert_close(
        log_cm.exp()[:, :, 0, 0], torch.full((1, 2, 4, 4), 0.9), atol=1e-3, rtol=0
    )
    with torch.no_grad():
        net.head[-1].bias.copy_(torch.tensor([-60.0, 0.0, 0.0, -60.0]).repeat(2))
    a = net.joint(torch.zeros(1, 3, 4, 4))[1].exp()  # softmax off-diagonal ~1
    torch.testing.assert_close(a[:, :, 0, 0], torch.full((1, 2, 4, 4), 0.5))
    torch.testing.assert_close(a.sum(2), torch.ones(1, 2, 2, 4, 4))


@pytest.mark.parametrize(
    ("opts", "key"),
    [
        ({"trace_weight": -0.1}, "method.trace_weight"),
        ({"identity": "worker"}, "method.identity"),
        ({"trace_weighting": "sum"}, "method.trace_weighting"),
        ({"hidden": 0}, "method.hidden"),
        ({"init_diag": 1.0}, "method.init_diag"),
        ({"init_diag": 0.2}, "method.init_diag"),
        ({"diag_floor": 1.0}, "method.diag_floor"),
        ({"diag_floor": 0.95}, "method.init_diag"),
    ],
)
def test_options_errors_name_the_field(opts, key):
    with pytest.raises(ValueError, match=key):
        AnnotatorConfusionOptions(**opts)


def test_config_needs_all_annotators(tmp_path):
    write_bsds(tmp_path)
    with pytest.raises(ValueError, match="task.noise.kind must be 'all_annotators'"):
        resolve({**RECIPE, "method": {"name": "annotator_confusion"}}, {})
    with pytest.raises(ValueError, match="method.trace_weight"):
        resolve(
            {
                **RECIPE,
                "task": {**RECIPE["task"], "noise": {"kind": "all_annotators"}},
                "method": {"name": "annotator_confusion", "trace_weight": -1},
            },
            {},
        )
    assert isinstance(
        ConfusionEdgeNet(torch.nn.Conv2d(3, 1, 1), slots=2).joint(torch.zeros(1, 3, 4, 4))[1],
        torch.Tensor,
    )


def test_two_steps_on_real_bsds(data_dir, tmp_path):
    recipe = load_recipe(RECIPES / "bsds_all_annotators.yaml")
    base = {k: v for k, v in recipe.items() if k != "variants"}
    cfg = resolve(
        {**base, **recipe["variants"]["confusion"]},
        {
            "data": {"data_dir": str(data_dir), "limit": 16, "eval_limit": 4},
            "train": {"max_steps": 2, "epochs": 1, "eval_every": 1, "progress": False},
            "output_dir": str(tmp_path),
        },
    )
    m = train(cfg)
    assert m["train"]["steps"] == 2
    assert 0.0 < m["test"]["ods"] <= 1.0
    bias = torch.load(cfg.run_dir / "best_model.pt", weights_only=True)["head.6.bias"]
    assert bias.numel() % 4 == 0 and bias.numel() >= 4 * 4  # one 2x2 per slot; BSDS: K >= 4
