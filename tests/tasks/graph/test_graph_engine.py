"""The graph task on the engine: batches built at once, the cached evaluation pass, and exact
resume with ``train.checkpoint_every_epochs`` (a resumed run replays the epochs since its
newest checkpoint)."""

from __future__ import annotations

import json

import pytest
import torch

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.engine.setup import build_task
from labelnoise.methods.standard import Standard
from tests.tasks.graph.tiny import recipe, write_graph


def test_batches_at_once_and_cached_eval_pass(tmp_path):
    write_graph(tmp_path)
    task = build_task(resolve(recipe(tmp_path, tmp_path / "r")))
    adapter, train_split = task.adapter, task.splits.train
    ids = [4, 0, 17]
    batch = adapter.collate(train_split.__getitems__(ids))
    ref = torch.utils.data.default_collate([train_split[i] for i in ids])
    assert batch.keys() == ref.keys()
    assert all(torch.equal(batch[k], ref[k]) for k in ref)
    model = adapter.build_model(task.splits).eval()
    nodes = batch["node"]
    with torch.no_grad():
        first = model(nodes)
        assert torch.equal(model(nodes), first) and model._cache is not None
        uncached = model.net(model.x, model.edge_index)[nodes]
        assert torch.allclose(first, uncached)
        for p in model.parameters():  # an in-place update (what an optimizer step does)
            p.add_(0.1)
        changed = model(nodes)
    assert not torch.allclose(changed, first)
    assert torch.allclose(changed, model.net(model.x, model.edge_index)[nodes].detach())


def test_resume_replays_from_a_sparse_checkpoint(tmp_path, monkeypatch):
    write_graph(tmp_path)
    every = {"epochs": 8, "select_by": "clean_val", "progress": False, "num_threads": 1,
             "checkpoint_every_epochs": 3}  # fmt: skip
    straight = train(resolve(recipe(tmp_path, tmp_path / "a", train=every)))
    cfg = resolve(recipe(tmp_path, tmp_path / "b", train=every))
    original = Standard.step

    def crash_in_epoch_5(self, batch):
        if self.run.state.epoch == 5:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(Standard, "step", crash_in_epoch_5)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    saved = sorted(p.name for p in (tmp_path / "b" / "checkpoints").iterdir())
    assert saved == ["step-00000003"]  # epochs 4 and 5 wrote none
    monkeypatch.setattr(Standard, "step", original)
    resumed = train(cfg, resume=True)
    assert resumed["test"] == straight["test"] and resumed["selection"] == straight["selection"]
    a_rows, b_rows = (
        [json.loads(r) for r in (tmp_path / d / "history.jsonl").open()] for d in "ab"
    )
    assert a_rows == b_rows and len(a_rows) == 8
    a, b = (torch.load(tmp_path / d / "best_model.pt", weights_only=True) for d in "ab")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_every_epochs_must_be_positive(tmp_path):
    bad = recipe(tmp_path, tmp_path / "r", train={"epochs": 2, "checkpoint_every_epochs": 0})
    with pytest.raises(ValueError, match="train.checkpoint_every_epochs must be >= 1; got 0"):
        resolve(bad)
