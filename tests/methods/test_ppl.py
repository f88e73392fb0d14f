"""``method: ppl`` through the engine on a tiny graph: the teacher epoch equals an independent
prototype recomputation, the rounds pseudo-label from the best candidate, exact resume (also
across a round boundary from a sparse checkpoint), option and config errors."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.engine.setup import build_task
from labelnoise.methods.ppl import PPL
from labelnoise.tasks.graph.models import ppr_features
from labelnoise.tasks.graph.robust import confident_per_class
from tests.tasks.graph.tiny import recipe, write_graph


def _ppl(tmp_path, out, *, every=1, **method):
    r = recipe(tmp_path, out, train={"epochs": 13, "select_by": "clean_val", "progress": False,
                                     "num_threads": 1, "checkpoint_every_epochs": every})  # fmt: skip
    r["task"] = r["task"] | {"model": "ppr_mlp", "hidden": 16, "dropout": 0.5}
    r["method"] = {"name": "ppl", "rounds": 2, "round_epochs": 6, "frac": 0.2} | method
    return r


def test_ppl_teacher_epoch_and_rounds_match_recomputation(tmp_path):
    write_graph(tmp_path)
    cfg = resolve(_ppl(tmp_path, tmp_path / "r"))
    metrics = train(cfg)
    hist = [json.loads(r) for r in (tmp_path / "r" / "history.jsonl").read_text().splitlines()]
    info = json.loads((tmp_path / "r" / "ppl.json").read_text())
    assert len(hist) == 13 and metrics["train"]["steps"] == 12  # epoch 0 takes no step
    # independent recomputation of the prototype teacher from the task's noisy labels
    task = build_task(cfg)
    g, tr = task.adapter.graph, task.splits.train
    z = F.normalize(ppr_features(g.x, g.edge_index), dim=1)
    noisy = tr.target
    protos = torch.stack([F.normalize(z[tr.nodes[noisy == c]].mean(0), dim=0) for c in range(3)])
    teacher = F.softmax(z @ protos.T / 0.05, dim=1)
    val = g.val_idx
    assert hist[0]["val_clean_accuracy"] == pytest.approx(
        float((teacher[val].argmax(1) == g.y[val]).float().mean())
    )
    assert info["issues"] == (teacher[tr.nodes].argmax(1) != noisy).nonzero().flatten().tolist()
    # round 0 learns from the teacher: its confident nodes plus the agreeing labelled ones
    sel, _ = confident_per_class(teacher, int(0.2 * 90 / 3))
    agree = tr.nodes[teacher[tr.nodes].argmax(1) == noisy]
    assert info["rounds"][0]["teacher_epoch"] == 1
    assert info["rounds"][0]["pseudo_labels"] == len(set(sel.tolist()) | set(agree.tolist()))
    best = max(range(13), key=lambda i: (hist[i]["val_clean_accuracy"], -i))
    assert info["selected_epoch"] == best + 1 == metrics["selection"]["best_epoch"]
    assert info["rounds"][1]["first_epoch"] == 8
    assert info["rounds"][1]["teacher_epoch"] == 1 + max(
        range(7), key=lambda i: (hist[i]["val_clean_accuracy"], -i)
    )
    assert metrics["test"]["accuracy"] >= 0.8


@pytest.mark.parametrize("every, crash_epoch", [(1, 9), (5, 8)])
def test_ppl_resumes_exactly(tmp_path, monkeypatch, every, crash_epoch):
    """Crash inside round 1; with checkpoints every 5 epochs the resumed run replays the
    round boundary (epoch 7) from the checkpoint of epoch 5."""
    write_graph(tmp_path)
    straight = train(resolve(_ppl(tmp_path, tmp_path / "a", every=every)))
    cfg = resolve(_ppl(tmp_path, tmp_path / "b", every=every))
    original = PPL.step

    def crash(self, batch):
        if self.run.state.epoch == crash_epoch:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(PPL, "step", crash)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(PPL, "step", original)
    resumed = train(cfg, resume=True)
    assert resumed["test"] == straight["test"] and resumed["selection"] == straight["selection"]
    for name in ("history.jsonl", "ppl.json"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()


def test_ppl_option_and_config_errors(tmp_path):
    with pytest.raises(ValueError, match=r"method.frac must be in \(0, 1\]; got 0.0"):
        resolve(_ppl(tmp_path, tmp_path / "r", frac=0.0))
    with pytest.raises(ValueError, match="unknown key 'method.round'"):
        resolve(_ppl(tmp_path, tmp_path / "r", round=3))
    with pytest.raises(ValueError, match="train.epochs must be 1 \\+ method.rounds x method"):
        resolve(_ppl(tmp_path, tmp_path / "r", rounds=3))
    with pytest.raises(ValueError, match="train.epochs - 1 must be a multiple of method.rounds"):
        resolve(_ppl(tmp_path, tmp_path / "r", rounds=5, round_epochs=None))
    gcn = _ppl(tmp_path, tmp_path / "r")
    gcn["task"] = gcn["task"] | {"model": "gcn"}
    with pytest.raises(ValueError, match="task.model must be 'ppr_mlp' for method 'ppl'"):
        resolve(gcn)
    dyn = _ppl(tmp_path, tmp_path / "r") | {"detection": {"method": "dynamics"}}
    with pytest.raises(ValueError, match="detection.method must be 'kfold' or 'none'"):
        resolve(dyn)
    small = _ppl(tmp_path, tmp_path / "r") | {"selector": {"name": "small_loss"}}
    with pytest.raises(ValueError, match="selector.name must be 'none' for method 'ppl'"):
        resolve(small)


def test_ppl_refuses_other_tasks():
    with pytest.raises(ValueError, match="method 'ppl' does not run on task 'classification'"):
        resolve({"task": {"name": "classification"}, "method": {"name": "ppl"}})
