"""Multi-process checkpoints under ``kill -9`` (engine/checkpoint.py), the wall time of a
resumed run, and the RNG check on resume.

Two CPU processes (``accelerate launch --multi_gpu --num_processes 2``) train a tiny recipe;
rank 1, then rank 0, is SIGKILLed mid-save (tests/engine/kill_driver.py); ``--resume`` must
give exactly the uninterrupted run (metrics, history, selected model). The uninterrupted run
saves with rank 1 late on purpose: renaming the folder before every process wrote into it
crashed ("Parent directory .../.tmp-step-... does not exist").
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from labelnoise.config import deep_merge, resolve
from labelnoise.engine import train
from labelnoise.engine.checkpoint import Checkpointer

DRIVER = Path(__file__).with_name("kill_driver.py")
SRC = Path(__file__).resolve().parents[2] / "src"

# 120 examples, 2 processes x 10 per batch: 6 steps per epoch, 18 in all. Checkpoints at
# steps 4, 6, 8, 12 (periodic, then again at the end of epoch 2), 16, 18; two are kept.
SPEC: dict[str, Any] = {
    "task": {"name": "classification", "hidden": 16, "noise": {"kind": "symmetric", "rate": 0.4}},
    "data": {"limit": 120, "eval_limit": 61, "batch_size": 10},
    "optim": {"lr": 0.01},
    "train": {
        "epochs": 3,
        "progress": False,
        "num_threads": 1,
        "checkpoint_every": 4,
        "keep_checkpoints": 2,
    },
    "detection": {"method": "dynamics"},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _launch(recipe: Path, *args: str, **env_extra: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **env_extra,
        "ACCELERATE_USE_CPU": "true",
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(_free_port()), str(DRIVER),
        "train", str(recipe), "--no-report", *args,
    ]  # fmt: skip
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def _compare(run: Path, reference: Path) -> dict[str, Any]:
    """The metrics of ``run``, asserted identical to ``reference``'s (and its history and
    selected model)."""
    got = json.loads((run / "metrics.json").read_text())
    want = json.loads((reference / "metrics.json").read_text())
    for section in ("test", "val", "selection", "detection"):
        assert got[section] == want[section], section
    assert got["train"]["steps"] == want["train"]["steps"] == 18
    assert (run / "history.jsonl").read_text() == (reference / "history.jsonl").read_text()
    a = torch.load(run / "best_model.pt", weights_only=True)
    b = torch.load(reference / "best_model.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    return got


def _checkpoints(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "checkpoints").iterdir())


@pytest.mark.distributed
def test_kill_rank_1_then_rank_0_mid_save_and_resume_gives_the_uninterrupted_run(tmp_path):
    """One recipe, two variants: ``ref`` trains uninterrupted (rank 1 saves 0.2 s late every
    time), then ``killed`` loses rank 1 mid-save of step 12; the first ``--resume`` skips the
    finished ``ref``, resumes ``killed`` mid-epoch (step 8) and loses rank 0 mid-save of step
    16; the second resumes at an epoch end (step 12) and finishes."""
    recipe = tmp_path / "r.yaml"
    spec = {**SPEC, "output_dir": str(tmp_path), "variants": {"ref": {}, "killed": {}}}
    recipe.write_text(yaml.safe_dump(spec, sort_keys=False))  # ref trains first
    ref, run = tmp_path / "ref", tmp_path / "killed"

    first = _launch(recipe, LABELNOISE_TEST_KILL="1:12:killed", LABELNOISE_TEST_SLOW_SAVE="0.2")
    assert first.returncode != 0 and (ref / "metrics.json").is_file(), first.stderr[-3000:]
    assert _checkpoints(ref) == ["step-00000016", "step-00000018"]
    assert _checkpoints(run) == [".tmp-step-00000012", "step-00000006", "step-00000008"]
    assert not (run / "metrics.json").exists()
    at_8 = torch.load(run / "checkpoints" / "step-00000008" / "loop_state.pt", weights_only=True)
    assert at_8["loop"]["step"] == 8 and at_8["loop"]["batch"] == 2  # mid-epoch 2

    second = _launch(recipe, "--resume", LABELNOISE_TEST_KILL="0:16:killed")
    assert second.returncode != 0 and not (run / "metrics.json").exists(), second.stderr[-3000:]
    assert _checkpoints(run) == [".tmp-step-00000016", "step-00000008", "step-00000012"]
    at_12 = torch.load(run / "checkpoints" / "step-00000012" / "loop_state.pt", weights_only=True)
    assert at_12["loop"]["epoch"] == 2 and at_12["loop"]["batch"] == 0  # an epoch end
    assert at_12["elapsed_s"] > at_8["elapsed_s"]

    third = _launch(recipe, "--resume")
    assert third.returncode == 0, third.stderr[-3000:]
    assert "RNG state" not in third.stderr, third.stderr[-3000:]
    assert _checkpoints(run) == ["step-00000016", "step-00000018"]  # no leftovers
    got = _compare(run, ref)
    # the wall time counts the time of the killed runs up to their last checkpoint too
    assert got["train"]["wall_time_s"] > at_12["elapsed_s"]


class OneProcess:
    """An accelerator stand-in for the unit tests below (one process, no Accelerate state)."""

    is_main_process = True
    num_processes = 1
    process_index = 0

    def wait_for_everyone(self) -> None:
        pass

    def save_state(self, path: str) -> None:
        torch.save({"torch_manual_seed": torch.get_rng_state()}, f"{path}/random_states_0.pkl")

    def load_state(self, path: str) -> None:
        pass


def test_a_killed_resave_of_the_same_step_is_put_back(tmp_path):
    ckpt = Checkpointer(OneProcess(), tmp_path, keep=1)
    final = ckpt.save(6, {"loop": 1})
    # killed between "step-6 -> .old-step-6" and ".tmp-step-6 -> step-6"
    os.rename(final, tmp_path / "checkpoints" / ".old-step-00000006")
    (tmp_path / "checkpoints" / ".tmp-step-00000006").mkdir()
    assert ckpt.latest() is None
    ckpt.clean_partial()
    assert ckpt.latest() == final and ckpt.load(final) == {"loop": 1}
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000006"]


def test_an_rng_state_that_is_not_restored_warns_naming_the_file(tmp_path):
    ckpt = Checkpointer(OneProcess(), tmp_path)
    final = ckpt.save(3, {})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ckpt.load(final)  # the state saved is the current one: restored, no warning
    torch.rand(3)  # the RNG moved on: load_state (a stand-in here) did not restore it
    with pytest.warns(RuntimeWarning, match=r"RNG state of process 0 was not restored"):
        ckpt.load(final)
    (final / "random_states_0.pkl").write_bytes(b"truncated")
    with pytest.warns(RuntimeWarning, match=r"random_states_0\.pkl: it cannot be read"):
        ckpt.load(final)
    (final / "random_states_0.pkl").unlink()
    with pytest.warns(RuntimeWarning, match=r"random_states_0\.pkl: the file is missing"):
        ckpt.load(final)


def test_wall_time_after_a_resume_adds_the_time_before(tmp_path):
    spec = deep_merge(
        SPEC,
        {
            "output_dir": str(tmp_path / "run"),
            "data": {"batch_size": 40},
            "train": {"epochs": 1, "checkpoint_every": None},
        },
    )
    first = train(resolve(spec))
    last = sorted((tmp_path / "run" / "checkpoints").glob("step-*"))[-1]
    state = torch.load(last / "loop_state.pt", weights_only=True)
    assert 0 < state["elapsed_s"] <= first["train"]["wall_time_s"]
    torch.save({**state, "elapsed_s": 1000.0}, last / "loop_state.pt")  # as if slow before
    (tmp_path / "run" / "metrics.json").unlink()  # killed after the last checkpoint
    again = train(resolve(spec), resume=True)
    assert 1000.0 < again["train"]["wall_time_s"] < 1000.0 + 60
    assert again["test"] == first["test"]
