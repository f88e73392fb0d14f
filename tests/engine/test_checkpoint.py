"""Checkpoints (engine/checkpoint.py) and the loop state they carry (engine/state.py): a save
appears under its final name only when complete, leftovers of a killed save are ignored and
cleaned, only the newest ``keep`` are kept, and the state round-trips through
``torch.load(weights_only=True)``."""

from __future__ import annotations

import math

import pytest
import torch

from labelnoise.engine.checkpoint import Checkpointer
from labelnoise.engine.state import LoopState


class FakeAccelerator:
    """One process; ``save_state`` writes a weights file (or fails half-way when asked)."""

    is_main_process = True
    num_processes = 1

    def __init__(self) -> None:
        self.fail = False
        self.loaded: list[str] = []

    def wait_for_everyone(self) -> None:
        pass

    def save_state(self, path: str) -> None:
        with open(f"{path}/model.bin", "w") as f:
            f.write("weights")
        if self.fail:
            raise KeyboardInterrupt("killed while saving")

    def load_state(self, path: str) -> None:
        self.loaded.append(path)


def test_a_save_appears_only_when_complete_and_partial_saves_are_cleaned(tmp_path):
    acc = FakeAccelerator()
    ckpt = Checkpointer(acc, tmp_path, keep=2)
    assert ckpt.all() == [] and ckpt.latest() is None
    first = ckpt.save(3, {"step": 3})
    assert first.name == "step-00000003" and (first / "loop_state.pt").is_file()

    acc.fail = True  # killed after Accelerate's files, before the loop state and the rename
    with pytest.raises(KeyboardInterrupt):
        ckpt.save(7, {"step": 7})
    partial = tmp_path / "checkpoints" / ".tmp-step-00000007"
    assert (partial / "model.bin").is_file() and not (partial / "loop_state.pt").exists()
    assert not (tmp_path / "checkpoints" / "step-00000007").exists()
    assert ckpt.latest() == first  # the partial save is never a candidate

    ckpt.clean_partial()
    assert not partial.exists() and ckpt.latest() == first
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-00000003"]


def test_keeps_the_newest_and_sorts_by_step_not_by_name(tmp_path):
    acc = FakeAccelerator()
    ckpt = Checkpointer(acc, tmp_path, keep=2)
    root = tmp_path / "checkpoints"
    root.mkdir()
    (root / "step-12").mkdir()  # not 8 digits: not a checkpoint
    (root / "step-00000005.txt").write_text("not a folder")
    for step in (9, 10, 100):
        ckpt.save(step, {"step": step})
    assert [p.name for p in ckpt.all()] == ["step-00000010", "step-00000100"]
    assert (root / "step-12").is_dir()  # foreign entries are left alone
    saved = ckpt.load(ckpt.latest())
    assert saved == {"step": 100} and acc.loaded == [str(root / "step-00000100")]
    # saving a step again replaces that checkpoint (the end-of-epoch save after a periodic one)
    ckpt.save(100, {"step": 100, "again": True})
    assert ckpt.load(root / "step-00000100") == {"step": 100, "again": True}
    assert Checkpointer(acc, tmp_path, keep=0).keep == 1


def test_loop_state_round_trips_through_a_weights_only_load(tmp_path):
    state = LoopState(
        step=17,
        epoch=3,
        batch=2,
        loss_sum=4.25,
        loss_count=5,
        history=[
            {"epoch": 1, "step": 6, "train_loss": 1.5, "val_noisy_accuracy": 0.25},
            {"epoch": 2, "step": 12, "train_loss": 0.75, "val_noisy_accuracy": math.nan},
        ],
        best_value=0.25,
        best_epoch=1,
        bad_evals=1,
        done=False,
    )
    torch.save({"loop": state.to_dict()}, tmp_path / "s.pt")
    back = LoopState.from_dict(torch.load(tmp_path / "s.pt", weights_only=True)["loop"])
    assert math.isnan(back.history[1].pop("val_noisy_accuracy"))  # NaN != NaN: compared apart
    state.history[1].pop("val_noisy_accuracy")
    assert back == state
    assert LoopState.from_dict(LoopState().to_dict()) == LoopState()
    with pytest.raises(TypeError):
        LoopState.from_dict({**state.to_dict(), "unknown": 1})
