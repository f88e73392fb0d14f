"""``method: late_stopping`` (Yuan et al., ICCV 2023): the FkL count, the rounds through the
engine on digits with symmetric noise, exact resume."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.methods.late_stopping import LateStopping, fkl_update

RECIPE: dict[str, Any] = {
    "name": "late_stopping",
    "method": {
        "name": "late_stopping",
        "k_schedule": [1, 2],
        "remove_rate": 0.5,
        "warmup_epochs": 1,
        "max_round_epochs": 6,
        "final_epochs": 4,
    },
    "task": {
        "name": "classification",
        "dataset": "digits",
        "hidden": 32,
        "val_fraction": 0.0,
        "noise": {"kind": "symmetric", "rate": 0.4},
    },
    "data": {"batch_size": 64, "limit": 500, "eval_limit": 200},
    "optim": {"lr": 0.005},
    "train": {"epochs": 16, "select_by": "last", "progress": False, "num_threads": 1},
    "detection": {"method": "none"},
}


def test_fkl_counts_consecutive_correct_epochs():
    run = np.zeros(4, dtype=np.int64)
    learned = np.zeros(4, dtype=bool)
    epochs = [  # correct predictions of 4 examples over 4 epochs
        [1, 1, 0, 0],
        [1, 0, 1, 0],
        [0, 1, 1, 0],
        [1, 1, 1, 1],
    ]
    firsts = []
    for c in epochs:
        run, first = fkl_update(run, np.array(c, dtype=bool), k=2)
        learned |= first
        firsts.append(first.nonzero()[0].tolist())
    # example 0: 1,1 -> learned at epoch 1; 1: 1,0,1,1 -> epoch 3; 2: 0,1,1 -> epoch 2; 3: never
    assert firsts == [[], [0], [2], [1]]
    assert learned.tolist() == [True, True, True, False]


def test_rounds_keep_mostly_clean_examples_and_resume_exactly(tmp_path, monkeypatch):
    cfg = resolve(RECIPE, {"output_dir": str(tmp_path / "a"), "train": {"checkpoint_every": 1}})
    straight = train(cfg)
    with np.load(tmp_path / "a" / "late_stopping.npz") as f:
        selected, sizes = f["selected"], f["sizes"]
    assert len(sizes) == 2 and sizes[0] >= 250 and sizes[1] <= sizes[0]
    assert int(selected.sum()) == sizes[-1]
    # the noisy labels of the training split: clean rate among the selected vs overall
    from labelnoise.engine.setup import build_task

    splits = build_task(cfg).splits
    noisy = np.array([int(splits.train[i]["target"]) for i in range(500)])
    clean = np.array([int(splits.train[i]["clean_target"]) for i in range(500)])
    ok = noisy == clean
    assert ok[selected].mean() > ok.mean() + 0.2, (ok[selected].mean(), ok.mean())

    cfg_b = resolve(RECIPE, {"output_dir": str(tmp_path / "b"), "train": {"checkpoint_every": 1}})
    original = LateStopping.step

    def crash(self, batch):
        if self.run.state.step == 40:  # inside the selection rounds
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(LateStopping, "step", crash)
    with pytest.raises(KeyboardInterrupt):
        train(cfg_b)
    monkeypatch.setattr(LateStopping, "step", original)
    resumed = train(cfg_b, resume=True)
    assert resumed["test"] == straight["test"]
    with np.load(tmp_path / "b" / "late_stopping.npz") as f:
        assert np.array_equal(f["selected"], selected)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"k_schedule": [0]}, "method.k_schedule must be integers >= 1"),
        ({"remove_rate": 0.0}, r"method.remove_rate must be in \(0, 1\]"),
        ({"final_epochs": 16}, r"method.final_epochs must be < train.epochs \(16\)"),
        ({"max_round_epochs": 0}, "method.max_round_epochs must be >= 1"),
    ],
)
def test_bad_options_are_refused_at_config_time(tmp_path, options, match):
    recipe = {**RECIPE, "method": {**RECIPE["method"], **options}}
    with pytest.raises(ValueError, match=match):
        resolve(recipe, {"output_dir": str(tmp_path / "x")})
