"""``method: pnt_edge`` (labelnoise.methods.pnt_edge) through the engine on a tiny BSDS-format
folder: one step against a hand recomputation, the warm-up is exactly the standard step,
exact resume after an interruption, option errors name ``method.<key>``, wrong task."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from labelnoise.common.losses import build_loss
from labelnoise.common.selection import build_selector
from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.methods import METHODS, Net
from labelnoise.tasks.edges.adapter import EdgeAdapter, EdgesConfig
from labelnoise.tasks.edges.pnt_edge import PNTEdgeNet, warp
from labelnoise.tasks.edges.tolerance import class_balanced_weights
from tests.tasks.edges.fixtures import RECIPE, write_bsds


def _run(tmp_path, out, method, **over):
    over = {"data": {"data_dir": str(tmp_path)}, "output_dir": str(tmp_path / out), **over}
    cfg = resolve({**RECIPE, "method": method}, over)
    return cfg, train(cfg)


def _weights(cfg):
    return torch.load(cfg.run_dir / "best_model.pt", weights_only=True)


def test_step_is_the_warped_class_balanced_bce():
    torch.manual_seed(0)
    adapter = EdgeAdapter(EdgesConfig(height=8, width=12, width_mult=4))
    run = SimpleNamespace(
        adapter=adapter,
        state=SimpleNamespace(step=0),
        accelerator=SimpleNamespace(num_processes=1),
    )
    opts = METHODS["pnt_edge"].Options(max_shift=2.0, density_weight=0.0, warmup_epochs=0.0)
    method = METHODS["pnt_edge"](opts, run)
    model = method.build_model(SimpleNamespace(train=range(4)))
    assert isinstance(model, PNTEdgeNet) and model.warmup_images == 0
    torch.nn.init.normal_(model.shift.net[-1].weight, std=0.3)  # a non-zero field
    method.setup(
        [Net(model, None, None, build_loss("bce"))], build_selector("none", num_examples=4)
    )
    target = torch.zeros(2, 1, 8, 12, dtype=torch.long)
    target[:, :, :, 5] = 1
    batch = {
        "image": torch.randn(2, 3, 8, 12),
        "target": target,
        "example_id": torch.tensor([0, 1]),
    }
    model.train()
    out = method.step(batch)
    # by hand: the clean logits sampled at p + delta(p), HED's class-balanced BCE
    logits = model.backbone(batch["image"])
    delta = model.shift(batch["image"], torch.sigmoid(logits))
    assert delta.abs().sum() > 0
    warped = warp(logits, delta)
    w = class_balanced_weights(target)
    bce = F.binary_cross_entropy_with_logits(warped, target.float(), reduction="none")
    torch.testing.assert_close(out.loss, (w * bce).sum() / w.sum().clamp_min(1.0))
    assert len(out.units) == 2 * 8 * 12


def test_warmup_is_the_standard_step_then_the_shift_learns(tmp_path):
    write_bsds(tmp_path)
    cfg_s, std = _run(tmp_path, "std", {"name": "standard"})
    cfg_w, warm = _run(tmp_path, "warm", {"name": "pnt_edge", "warmup_epochs": 3.0})
    ws, ww = _weights(cfg_s), _weights(cfg_w)
    # the whole run inside the warm-up: the backbone trains exactly as the standard method
    for k, v in ws.items():
        assert torch.equal(v, ww[f"backbone.{k}"]), k
    assert not ww["shift.net.6.weight"].any()  # the shift module never trained
    assert int(ww["seen"]) == 3 * 6 and std["test"] == warm["test"]
    cfg_p, _ = _run(tmp_path, "pnt", {"name": "pnt_edge", "warmup_epochs": 1.0})
    wp = _weights(cfg_p)
    assert wp["shift.net.6.weight"].abs().sum() > 0  # trained through the warp afterwards
    assert not torch.equal(wp["backbone.fuse.weight"], ws["fuse.weight"])


def test_resume_after_an_interruption_is_exact(tmp_path, monkeypatch):
    import labelnoise.methods.pnt_edge as mod

    write_bsds(tmp_path)
    method = {"name": "pnt_edge", "warmup_epochs": 1.0}
    every = {"train": {"checkpoint_every": 2}}
    cfg_a, straight = _run(tmp_path, "a", method, **every)
    original, calls = mod.PntEdge.step, []

    def crash_at_step_6(self, batch):
        calls.append(1)
        if len(calls) == 6:  # epoch 1, after the warm-up; last checkpoint at step 4
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(mod.PntEdge, "step", crash_at_step_6)
    over = {"data": {"data_dir": str(tmp_path)}, "output_dir": str(tmp_path / "b"), **every}
    cfg_b = resolve({**RECIPE, "method": method}, over)
    with pytest.raises(KeyboardInterrupt):
        train(cfg_b)
    monkeypatch.setattr(mod.PntEdge, "step", original)
    resumed = train(cfg_b, resume=True)
    wa, wb = _weights(cfg_a), _weights(cfg_b)
    assert wa.keys() == wb.keys() and any(k.startswith("shift.") for k in wa)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    assert straight["test"] == resumed["test"]


@pytest.mark.parametrize(
    "options, match",
    [
        ({"max_shift": 0}, r"method\.max_shift must be > 0; got 0"),
        ({"density_weight": -1.0}, r"method\.density_weight must be >= 0; got -1.0"),
        ({"window": 4}, r"method\.window must be an odd integer >= 1; got 4"),
        ({"warmup_epochs": -1.0}, r"method\.warmup_epochs must be >= 0"),
        ({"hidden": 0}, r"method\.hidden must be >= 1"),
        ({"max_shift": "far"}, r"method\.max_shift"),
        ({"shift": 2}, r"unknown key 'method\.shift'"),
    ],
)
def test_bad_options_name_the_field(options, match):
    with pytest.raises(ValueError, match=match):  # at config time, before any run starts
        resolve({**RECIPE, "method": {"name": "pnt_edge", **options}})


def test_pnt_edge_needs_the_edges_task():
    recipe = {**RECIPE, "task": {"name": "classification"}, "method": {"name": "pnt_edge"}}
    with pytest.raises(ValueError, match="method 'pnt_edge' does not run on task 'classification'"):
        resolve(recipe)


def test_the_old_task_option_is_gone():
    with pytest.raises(ValueError, match=r"unknown key 'task\.method'"):
        resolve({**RECIPE, "task": {**RECIPE["task"], "method": "pnt_edge"}})
