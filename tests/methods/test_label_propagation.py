"""``method: label_propagation`` through the engine on a tiny graph: the corrected labels are
an independent ``lp_correct`` of the task's noisy labels and are what the steps train on;
exact resume; option errors; wrong task."""

from __future__ import annotations

import json

import pytest
import torch

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.engine.setup import build_task
from labelnoise.methods.label_propagation import LabelPropagation
from labelnoise.tasks.graph.propagation import lp_correct
from tests.tasks.graph.tiny import recipe, write_graph


def _lp(tmp_path, out, **options):
    r = recipe(tmp_path, out)
    r["method"] = {"name": "label_propagation", "margin": 0.1} | options
    return r


def test_lp_trains_on_the_corrected_labels(tmp_path, monkeypatch):
    write_graph(tmp_path)
    cfg = resolve(_lp(tmp_path, tmp_path / "r"))
    seen = []
    original = LabelPropagation.step

    def record(self, batch):
        seen.append((batch["example_id"].clone(), batch["target"].clone()))
        return original(self, batch)

    monkeypatch.setattr(LabelPropagation, "step", record)
    metrics = train(cfg)
    task = build_task(cfg)
    g, tr = task.adapter.graph, task.splits.train
    labels = torch.zeros(g.num_nodes, dtype=torch.long)
    labels[tr.nodes] = tr.target
    fixed = lp_correct(labels, g.edge_index, tr.nodes, 3, margin=0.1)[tr.nodes]
    info = json.loads((tmp_path / "r" / "label_propagation.json").read_text())
    changed = (fixed != tr.target).nonzero().flatten()
    assert info["changed"] == changed.tolist() and len(changed) > 0
    assert info["corrected"] == fixed[changed].tolist()
    assert len(seen) == 8  # one full batch per epoch, on the corrected labels
    for ids, target in seen:
        assert torch.equal(target, fixed[ids])
    # the correction fixes more labels than it breaks on this graph
    assert (fixed == tr.clean).sum() > (tr.target == tr.clean).sum()
    assert metrics["method"] == "label_propagation"


def test_lp_resumes_exactly(tmp_path, monkeypatch):
    write_graph(tmp_path)
    straight = train(resolve(_lp(tmp_path, tmp_path / "a")))
    cfg = resolve(_lp(tmp_path, tmp_path / "b"))
    original = LabelPropagation.step

    def crash(self, batch):
        if self.run.state.epoch == 5:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(LabelPropagation, "step", crash)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(LabelPropagation, "step", original)
    resumed = train(cfg, resume=True)
    assert resumed["test"] == straight["test"] and resumed["selection"] == straight["selection"]
    for name in ("history.jsonl", "label_propagation.json"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()


def test_lp_option_errors_and_wrong_task(tmp_path):
    with pytest.raises(ValueError, match=r"method.margin must be in \[0, 1\); got 1.5"):
        resolve(_lp(tmp_path, tmp_path / "r", margin=1.5))
    with pytest.raises(ValueError, match="method.k must be >= 1; got 0"):
        resolve(_lp(tmp_path, tmp_path / "r", k=0))
    with pytest.raises(
        ValueError, match="method 'label_propagation' does not run on task 'classification'"
    ):
        resolve({"task": {"name": "classification"}, "method": {"name": "label_propagation"}})
