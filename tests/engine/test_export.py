"""A finished run's outputs: logits agree with the run's own test metrics, and the exported
penultimate features reproduce the logits through the model's head."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.engine.export import load_finished_run, predict_outputs

TINY = {
    "task": {"name": "classification", "hidden": 16, "noise": {"kind": "symmetric", "rate": 0.3}},
    "data": {"limit": 120, "eval_limit": 61, "batch_size": 20, "eval_batch_size": 16},
    "optim": {"lr": 0.01},
    "train": {"epochs": 2, "progress": False, "num_threads": 1},
    "detection": {"method": "none"},
}


def test_outputs_of_a_finished_run(tmp_path: Path):
    metrics = train(resolve({**TINY, "output_dir": str(tmp_path / "run")}))
    run = load_finished_run(tmp_path / "run")
    test = predict_outputs(run, "test")
    assert test["logits"].shape == (61, 10) and test["features"].shape == (61, 16)
    acc = float((test["logits"].argmax(1) == test["clean"]).mean())
    assert acc == pytest.approx(metrics["test"]["accuracy"], abs=1e-9)
    head = list(run.model.children())[-1]  # the MLP's last Linear
    assert isinstance(head, torch.nn.Linear)
    with torch.no_grad():
        again = head(torch.from_numpy(test["features"])).numpy()
    np.testing.assert_allclose(again, test["logits"], rtol=1e-5, atol=1e-5)
    val = predict_outputs(run, "val")
    assert run.splits.val is not None
    assert val["logits"].shape[0] == len(run.splits.val)  # type: ignore[arg-type]
    assert (val["noisy"] != val["clean"]).any()  # noisy targets and clean ones, both kept
    # any dataset of the task's items
    same = predict_outputs(run, run.splits.test, batch_size=7)
    np.testing.assert_allclose(same["logits"], test["logits"], rtol=1e-5, atol=1e-6)


def test_refuses_a_folder_without_a_finished_run(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="run_dir must hold config.yaml"):
        load_finished_run(tmp_path)
