"""The optional ``TaskAdapter.after_training`` hook: called once by the loop after training
(before the final evaluation) and by ``labelnoise evaluate``, with the training split's units."""

from __future__ import annotations

import json

from labelnoise.cli import main
from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.tasks.classification import ClassificationAdapter

TINY = {
    "task": {"name": "classification", "hidden": 8, "noise": {"kind": "symmetric", "rate": 0.4}},
    "data": {"limit": 40, "eval_limit": 20, "batch_size": 20},
    "train": {"epochs": 1, "progress": False, "num_threads": 1},
    "detection": {"method": "none"},
}


def test_hook_sees_the_training_split_once_before_the_final_evaluation(tmp_path, monkeypatch):
    calls, evaluated = [], []

    def hook(self, train_units):
        units = train_units()
        calls.append((len(units), units.pred.shape[1], sorted(set(units.example_id.tolist()))))

    original = ClassificationAdapter.metrics

    def metrics(self, units):
        evaluated.append(len(calls))
        return original(self, units)

    monkeypatch.setattr(ClassificationAdapter, "after_training", hook)
    monkeypatch.setattr(ClassificationAdapter, "metrics", metrics)
    train(resolve({**TINY, "output_dir": str(tmp_path / "run")}))
    assert len(calls) == 1
    n, c, ids = calls[0]
    assert n == 40 and c >= 2 and ids == list(range(40))  # full scores, every training example
    assert evaluated[0] == 0 and evaluated[-1] == 1  # per-epoch eval before, final eval after

    calls.clear()
    assert main(["evaluate", str(tmp_path / "run")]) == 0
    assert len(calls) == 1 and calls[0][0] == 40
    assert json.loads((tmp_path / "run" / "eval.json").read_text())
