"""``method: graphcleaner_drop`` through the engine on a tiny graph: the flagged nodes are an
independent recomputation of the detector, and the step's loss is the mean over the kept
nodes only; exact resume; option errors; wrong task."""

from __future__ import annotations

import json

import pytest
import torch

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.engine.setup import build_task
from labelnoise.methods.graphcleaner_drop import GraphCleanerDrop
from labelnoise.tasks.graph.detection import graph_label_quality
from labelnoise.tasks.graph.models import ppr_features
from labelnoise.tasks.graph.robust import prototype_probs
from tests.tasks.graph.tiny import recipe, write_graph


def _gc(tmp_path, out, **options):
    r = recipe(tmp_path, out)
    r["method"] = {"name": "graphcleaner_drop"} | options
    return r


def test_graphcleaner_drops_the_flagged_nodes(tmp_path, monkeypatch):
    write_graph(tmp_path)
    cfg = resolve(_gc(tmp_path, tmp_path / "r"))
    steps = []
    original = GraphCleanerDrop.step

    def record(self, batch):
        out = original(self, batch)
        steps.append((out.loss.detach(), out.unit_loss.detach(), out.units.example_id.clone()))
        return out

    monkeypatch.setattr(GraphCleanerDrop, "step", record)
    train(cfg)
    task = build_task(cfg)
    g, tr = task.adapter.graph, task.splits.train
    labels = torch.zeros(g.num_nodes, dtype=torch.long)
    labels[tr.nodes] = tr.target
    teacher = prototype_probs(ppr_features(g.x, g.edge_index), tr.nodes, labels, 3)
    quality, issue = graph_label_quality(labels, teacher, g.edge_index, tr.nodes)
    info = json.loads((tmp_path / "r" / "graphcleaner.json").read_text())
    assert info["issues"] == issue.nonzero().flatten().tolist() and issue.any()
    assert info["quality"] == pytest.approx(quality.tolist())
    corrupted = tr.target != tr.clean
    assert (issue & corrupted).sum() > (issue & ~corrupted).sum()  # mostly the noisy ones
    assert len(steps) == 8
    for loss, unit_loss, ids in steps:  # the mean over the kept nodes of the batch
        assert torch.allclose(loss, unit_loss[~issue[ids]].mean())


def test_graphcleaner_resumes_exactly(tmp_path, monkeypatch):
    write_graph(tmp_path)
    straight = train(resolve(_gc(tmp_path, tmp_path / "a")))
    cfg = resolve(_gc(tmp_path, tmp_path / "b"))
    original = GraphCleanerDrop.step

    def crash(self, batch):
        if self.run.state.epoch == 4:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(GraphCleanerDrop, "step", crash)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(GraphCleanerDrop, "step", original)
    resumed = train(cfg, resume=True)
    assert resumed["test"] == straight["test"] and resumed["selection"] == straight["selection"]
    for name in ("history.jsonl", "graphcleaner.json"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()


def test_graphcleaner_option_errors_and_wrong_task(tmp_path):
    with pytest.raises(ValueError, match=r"method.lam must be in \[0, 1\]; got 2.0"):
        resolve(_gc(tmp_path, tmp_path / "r", lam=2.0))
    with pytest.raises(ValueError, match="unknown key 'method.drop'"):
        resolve(_gc(tmp_path, tmp_path / "r", drop=True))
    with pytest.raises(
        ValueError, match="method 'graphcleaner_drop' does not run on task 'classification'"
    ):
        resolve({"task": {"name": "classification"}, "method": {"name": "graphcleaner_drop"}})
