"""The loop's gradient accumulation, and a method's own epoch batches on resume.

* ``grad_accum=2`` with batches of ``B`` takes the same optimizer steps as ``grad_accum=1``
  with batches of ``2B`` (same per-epoch permutation, equal-size halves, mean losses): on a
  linear model the weights agree to float precision;
* a method that supplies its epochs' batches (:meth:`Method.epoch_batches`) is asked for
  them with ``skip`` = the batches already trained when a run resumes mid-epoch, and the
  resumed run trains exactly the remaining batches and ends with the straight run's weights.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from labelnoise.config import deep_merge, resolve
from labelnoise.engine import train
from labelnoise.methods import METHODS, StepOutput
from labelnoise.methods.standard import Standard

LINEAR = {
    "task": {
        "name": "regression",
        "dataset": "friedman1",
        "n_samples": 80,
        "hidden": [],  # a linear model
        "noise": {"kind": "symmetric", "rate": 0.3},
    },
    "loss": {"name": "mse"},
    "data": {"limit": 32, "eval_limit": 16},
    "optim": {"name": "adam", "lr": 0.05},
    "train": {"epochs": 3, "select_by": "last", "progress": False, "num_threads": 1},
    "detection": {"method": "none"},
}


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "best_model.pt", weights_only=True)


def test_accumulating_two_half_batches_equals_one_full_batch(tmp_path):
    def run(name: str, batch_size: int, accum: int) -> tuple[dict, dict[str, torch.Tensor]]:
        over = {
            "output_dir": str(tmp_path / name),
            "data": {"batch_size": batch_size},
            "train": {"grad_accum": accum},
        }
        metrics = train(resolve(deep_merge(LINEAR, over)))
        return metrics, _weights(tmp_path / name)

    m_acc, w_acc = run("accumulated", 8, 2)
    m_full, w_full = run("full", 16, 1)
    m_half, w_half = run("half", 8, 1)
    assert m_acc["train"]["steps"] == m_full["train"]["steps"] == 6  # 2 steps x 3 epochs
    assert m_half["train"]["steps"] == 12
    assert sorted(w_acc) == sorted(w_full) and len(w_acc) == 2  # weight and bias
    for k in w_full:
        torch.testing.assert_close(w_acc[k], w_full[k], atol=1e-6, rtol=1e-5)
    # the comparison can fail: twice as many steps of half batches end elsewhere
    assert any(not torch.allclose(w_half[k], w_full[k], atol=1e-3) for k in w_full)
    assert m_acc["test"]["mae"] == pytest.approx(m_full["test"]["mae"], rel=1e-5)


class ReversedBatches(Standard):
    """The standard step on the method's own batches: the training split in reverse order,
    rotated by one batch per epoch (different from the loop's shuffled loader)."""

    name = "test_reversed_batches"
    calls: list[tuple[int, int]] = []
    seen: list[list[int]] = []

    def epoch_batches(self, epoch: int, skip: int) -> list[Any]:
        type(self).calls.append((epoch, skip))
        ds, bs = self.run.train_split, self.run.cfg.data.batch_size
        order = list(range(len(ds)))[::-1]
        batches = [
            self.run.adapter.collate([ds[i] for i in order[k : k + bs]])
            for k in range(0, len(order), bs)
        ]
        r = epoch % len(batches)
        return (batches[r:] + batches[:r])[skip:]

    def step(self, batch: Any) -> StepOutput:
        type(self).seen.append(batch["example_id"].tolist())
        return super().step(batch)


def test_epoch_batches_hook_is_asked_to_skip_what_a_resumed_run_already_trained(
    tmp_path, monkeypatch
):
    monkeypatch.setitem(METHODS, ReversedBatches.name, ReversedBatches)
    monkeypatch.setattr(ReversedBatches, "calls", [])
    monkeypatch.setattr(ReversedBatches, "seen", [])
    recipe = {
        "task": {
            "name": "classification",
            "hidden": 8,
            "noise": {"kind": "symmetric", "rate": 0.4},
        },
        "method": {"name": ReversedBatches.name},
        "data": {"limit": 24, "eval_limit": 12, "batch_size": 8},
        "train": {
            "epochs": 2,
            "checkpoint_every": 1,
            "keep_checkpoints": 10,
            "select_by": "last",
            "progress": False,
            "num_threads": 1,
        },
        "detection": {"method": "none"},
        "output_dir": str(tmp_path / "run"),
    }
    cfg = resolve(recipe)
    straight = train(cfg)
    calls, seen = list(ReversedBatches.calls), list(ReversedBatches.seen)
    assert calls == [(0, 0), (1, 0)] and straight["train"]["steps"] == 6
    ids = list(range(24))[::-1]
    epoch0 = [ids[0:8], ids[8:16], ids[16:24]]
    assert seen == epoch0 + epoch0[1:] + epoch0[:1]  # the hook's batches, not the loader's
    weights = _weights(tmp_path / "run")
    history = (tmp_path / "run" / "history.jsonl").read_text()

    # killed after step 4 = epoch 1, batch 1: the resumed run asks for epoch 1 skipping 1
    ckpts = tmp_path / "run" / "checkpoints"
    for p in sorted(ckpts.glob("step-*")):
        if int(p.name[5:]) > 4:
            shutil.rmtree(p)
    (tmp_path / "run" / "metrics.json").unlink()
    ReversedBatches.calls.clear()
    ReversedBatches.seen.clear()
    resumed = train(cfg, resume=True)
    assert ReversedBatches.calls == [(1, 1)]
    assert ReversedBatches.seen == seen[4:]
    assert resumed["train"]["steps"] == 6
    for k, v in weights.items():
        torch.testing.assert_close(_weights(tmp_path / "run")[k], v, atol=1e-6, rtol=0)
    resumed_history = (tmp_path / "run" / "history.jsonl").read_text()
    for a, b in zip(history.splitlines(), resumed_history.splitlines(), strict=True):
        ra, rb = json.loads(a), json.loads(b)
        assert ra.keys() == rb.keys() and all(ra[k] == pytest.approx(rb[k], abs=1e-6) for k in ra)
