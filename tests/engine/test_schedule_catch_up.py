"""The LR schedule ends where it was planned when a method's epochs take fewer steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelnoise.config import deep_merge, resolve
from labelnoise.engine import train

BASE = {
    "task": {"name": "classification", "hidden": 16, "noise": {"kind": "symmetric", "rate": 0.4}},
    "data": {"limit": 120, "eval_limit": 60, "batch_size": 20},
    "optim": {"lr": 0.01, "scheduler": "linear"},
    "train": {"epochs": 4, "progress": False, "num_threads": 1, "record_dynamics": False},
    "detection": {"method": "none"},
}


def _lrs(tmp_path: Path, **over) -> tuple[list[float], list[int]]:
    cfg = resolve(deep_merge(BASE, {"output_dir": str(tmp_path / "run"), **over}))
    train(cfg)
    rows = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").open()]
    return [r["lr"] for r in rows], [r["step"] for r in rows]


def test_a_full_epoch_method_follows_the_plan_step_by_step(tmp_path):
    # 120 examples / batch 20 = 6 steps an epoch, 24 planned; linear decay from step 0:
    # after epoch e (6 (e + 1) steps) the LR is 0.01 (1 - 6 (e + 1) / 24)
    lrs, steps = _lrs(tmp_path)
    assert steps == [6, 12, 18, 24]
    assert lrs == pytest.approx([0.0075, 0.005, 0.0025, 0.0])


def test_dividemix_epochs_of_fewer_steps_end_each_epoch_at_the_planned_lr(tmp_path):
    # after the warm-up epoch DivideMix steps over its labelled set only (< 6 batches);
    # without the catch-up its run ended with the LR part-way down (the steps it took)
    lrs, steps = _lrs(tmp_path, method={"name": "dividemix", "warmup_epochs": 1})
    assert steps[0] == 6 and steps[-1] < 24  # fewer optimizer steps than planned ...
    assert lrs == pytest.approx([0.0075, 0.005, 0.0025, 0.0])  # ... the planned LR per epoch
