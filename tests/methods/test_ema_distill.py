"""``method: ema_distill`` (labelnoise.methods.ema_distill) through the engine on a tiny
BSDS-format folder: one step against a hand recomputation (EMA update, soft targets, class
balance), the EMA teacher in checkpoints and exact resume, option errors, wrong task."""

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
from labelnoise.tasks.edges.self_distill import MeanTeacherEdgeNet
from labelnoise.tasks.edges.tolerance import class_balanced_weights
from tests.tasks.edges.fixtures import RECIPE, write_bsds

METHOD = {"name": "ema_distill", "warmup_epochs": 0.5, "ramp_epochs": 1.0, "decay": 0.9}


def _run(tmp_path, out, **over):
    over = {"data": {"data_dir": str(tmp_path)}, "output_dir": str(tmp_path / out), **over}
    cfg = resolve({**RECIPE, "method": METHOD}, over)
    return cfg, train(cfg)


def _weights(cfg):
    return torch.load(cfg.run_dir / "best_model.pt", weights_only=True)


def test_step_mixes_the_teacher_into_the_class_balanced_target():
    torch.manual_seed(0)
    adapter = EdgeAdapter(EdgesConfig(height=8, width=12, width_mult=4))
    run = SimpleNamespace(
        adapter=adapter,
        state=SimpleNamespace(step=0),
        accelerator=SimpleNamespace(num_processes=1, unwrap_model=lambda m: m),
    )
    opts = METHODS["ema_distill"].Options(alpha=0.6, decay=0.5, warmup_epochs=0, ramp_epochs=0)
    method = METHODS["ema_distill"](opts, run)
    model = method.build_model(SimpleNamespace(train=range(4)))
    assert isinstance(model, MeanTeacherEdgeNet)
    method.setup(
        [Net(model, None, None, build_loss("bce"))], build_selector("none", num_examples=4)
    )
    with torch.no_grad():
        for p in model.student.parameters():
            p.add_(0.1)
    teacher0 = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    student0 = {k: v.clone() for k, v in model.student.state_dict().items()}
    target = torch.zeros(2, 1, 8, 12, dtype=torch.long)
    target[:, :, :, 5] = 1
    image = torch.randn(2, 3, 8, 12)
    model.train()
    out = method.step({"image": image, "target": target, "example_id": torch.tensor([0, 1])})
    # by hand: teacher <- 0.5 teacher + 0.5 student, then t = 0.4 y + 0.6 sigmoid(teacher)
    for k, v in model.teacher.state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(v, 0.5 * teacher0[k] + 0.5 * student0[k])
    assert int(model.seen) == 2
    model.teacher.eval()
    with torch.no_grad():
        soft = 0.4 * target.float() + 0.6 * torch.sigmoid(model.teacher(image))
    w = class_balanced_weights(target)
    logits = model.student(image)
    bce = F.binary_cross_entropy_with_logits(logits, soft, reduction="none")
    torch.testing.assert_close(out.loss, (w * bce).sum() / w.sum(), rtol=1e-5, atol=1e-6)


def test_teacher_is_checkpointed_and_resume_is_exact(tmp_path, monkeypatch):
    import labelnoise.methods.ema_distill as mod

    write_bsds(tmp_path)
    every = {"train": {"checkpoint_every": 2}}
    cfg_a, straight = _run(tmp_path, "a", **every)
    wa = _weights(cfg_a)
    teacher = {k[8:]: v for k, v in wa.items() if k.startswith("teacher.")}
    student = {k[8:]: v for k, v in wa.items() if k.startswith("student.")}
    assert teacher.keys() == student.keys() and int(wa["seen"]) == 3 * 6
    assert not torch.equal(teacher["fuse.weight"], student["fuse.weight"])
    original, calls = mod.EmaDistill.step, []

    def crash_at_step_6(self, batch):
        calls.append(1)
        if len(calls) == 6:  # mid epoch 1, distillation on; last checkpoint at step 4
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(mod.EmaDistill, "step", crash_at_step_6)
    over = {"data": {"data_dir": str(tmp_path)}, "output_dir": str(tmp_path / "b"), **every}
    cfg_b = resolve({**RECIPE, "method": METHOD}, over)
    with pytest.raises(KeyboardInterrupt):
        train(cfg_b)
    ckpt = torch.load(  # the checkpoint the resume starts from holds the teacher
        next((cfg_b.run_dir / "checkpoints").iterdir()) / "loop_state.pt", weights_only=True
    )
    assert ckpt["loop"]["step"] == 4
    monkeypatch.setattr(mod.EmaDistill, "step", original)
    resumed = train(cfg_b, resume=True)
    wb = _weights(cfg_b)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    assert straight["test"] == resumed["test"]


def test_eval_teacher_answers_with_the_teacher(tmp_path):
    write_bsds(tmp_path)
    cfg_s, student = _run(tmp_path, "s")
    over = {"data": {"data_dir": str(tmp_path)}, "output_dir": str(tmp_path / "t")}
    cfg_t = resolve({**RECIPE, "method": {**METHOD, "eval_teacher": True}}, over)
    teacher = train(cfg_t)
    ws, wt = _weights(cfg_s), _weights(cfg_t)
    for k in ws:  # the same training; only which network answers differs
        assert torch.equal(ws[k], wt[k]), k
    assert student["test"] != teacher["test"]


@pytest.mark.parametrize(
    "options, match",
    [
        ({"alpha": 1.5}, r"method\.alpha must be in \[0, 1\]; got 1.5"),
        ({"decay": 1.0}, r"method\.decay must be in \[0, 1\); got 1.0"),
        ({"warmup_epochs": -1}, r"method\.warmup_epochs must be >= 0"),
        ({"ramp_epochs": -0.5}, r"method\.ramp_epochs must be >= 0"),
        ({"eval_teacher": "yes"}, r"method\.eval_teacher"),
        ({"beta": 0.1}, r"unknown key 'method\.beta'"),
    ],
)
def test_bad_options_name_the_field(options, match):
    with pytest.raises(ValueError, match=match):  # at config time
        resolve({**RECIPE, "method": {"name": "ema_distill", **options}})


def test_ema_distill_needs_the_edges_task():
    recipe = {**RECIPE, "task": {"name": "audio"}, "method": {"name": "ema_distill"}}
    with pytest.raises(ValueError, match="method 'ema_distill' does not run on task 'audio'"):
        resolve(recipe)


def test_labelnoise_evaluate_rebuilds_the_wrapped_network(tmp_path, capsys):
    """best_model.pt holds the EMA wrapper; ``labelnoise evaluate`` builds it through the
    method and gives back the run's own test metrics."""
    import json

    from labelnoise.cli import main

    write_bsds(tmp_path)
    _, metrics = _run(tmp_path, "r")
    assert main(["evaluate", str(tmp_path / "r")]) == 0
    again = json.loads((tmp_path / "r" / "eval.json").read_text())
    for k, v in metrics["test"].items():
        assert abs(again[f"test_{k}"] - v) < 1e-6, k
