"""engine/run.py pieces on their own: the optimizer-step count of :func:`set_train_split` and
the message of :func:`stop_if_not_finite`."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from labelnoise.config import resolve
from labelnoise.engine.checkpoint import Checkpointer
from labelnoise.engine.run import set_train_split, stop_if_not_finite
from labelnoise.engine.setup import NonFiniteLossError
from labelnoise.engine.state import LoopState
from labelnoise.tasks.base import TensorDataset


class Acc:
    is_main_process = True

    def __init__(self, num_processes: int = 1) -> None:
        self.num_processes = num_processes

    def wait_for_everyone(self) -> None:
        pass

    def reduce(self, t, how):  # one process standing in for all of them
        return t

    def save_state(self, path: str) -> None:
        pass


def _sync_points(n: int, batch_size: int, processes: int, accum: int) -> int:
    """Optimizer steps of one epoch as the loop takes them: each process gets every
    ``processes``-th batch (padded to equal counts); Accelerate syncs every ``accum``-th
    batch and at the end of the loader."""
    per_process = math.ceil(math.ceil(n / batch_size) / processes)
    return sum(1 for i in range(per_process) if (i + 1) % accum == 0 or i == per_process - 1)


@pytest.mark.parametrize(
    ("n", "batch_size", "processes", "accum", "epochs", "max_steps"),
    [
        (100, 10, 1, 1, 3, None),  # 10 steps per epoch
        (101, 10, 1, 1, 2, None),  # a last short batch is a step
        (100, 10, 1, 3, 2, None),  # 10 batches, accumulation 3: steps after 3, 6, 9, 10
        (100, 10, 2, 2, 2, None),  # 5 batches per process, accumulation 2: 3 steps
        (100, 10, 1, 4, 5, 7),  # capped by max_steps
        (100, 10, 1, 1, 1, 50),  # max_steps above the schedule: no effect
        (7, 16, 1, 2, 4, None),  # one short batch per epoch
    ],
)
def test_total_steps_with_accumulation_processes_and_max_steps(
    n, batch_size, processes, accum, epochs, max_steps
):
    cfg = resolve(
        {
            "task": {"name": "classification"},
            "data": {"batch_size": batch_size},
            "train": {"grad_accum": accum, "epochs": epochs, "max_steps": max_steps},
        }
    )
    run = SimpleNamespace(
        cfg=cfg,
        accelerator=Acc(processes),
        adapter=SimpleNamespace(collate=None),
        train_split=None,
        train_loader=None,
        total_steps=0,
    )
    y = torch.zeros(n, dtype=torch.long)
    data = TensorDataset(torch.zeros(n, 2), y, y)
    set_train_split(run, data)
    expected = _sync_points(n, batch_size, processes, accum) * epochs
    if max_steps is not None:
        expected = min(expected, max_steps)
    assert run.total_steps == expected
    assert run.train_split is data and len(run.train_loader) == math.ceil(n / batch_size)


def _run(tmp_path, step: int, epoch: int) -> SimpleNamespace:
    acc = Acc()
    return SimpleNamespace(
        accelerator=acc,
        ckpt=Checkpointer(acc, tmp_path),
        state=LoopState(step=step, epoch=epoch),
    )


def test_non_finite_loss_names_the_step_and_the_kept_checkpoint(tmp_path):
    run = _run(tmp_path, step=3, epoch=1)
    stop_if_not_finite(run, torch.tensor([0.5, 1e30]))  # large but finite: nothing happens
    with pytest.raises(NonFiniteLossError) as e:
        stop_if_not_finite(run, torch.tensor([0.5, float("nan")]))
    assert str(e.value) == (
        "loss must be finite; got NaN or inf at step 4 (epoch 2). Training stopped; "
        "no checkpoint was saved yet. Lower optim.lr, set train.max_grad_norm, or check the data."
    )
    kept = run.ckpt.save(3, {})
    with pytest.raises(ValueError, match=r"at step 4 \(epoch 2\)") as e:
        stop_if_not_finite(run, torch.tensor([float("-inf")]))
    assert f"the last good checkpoint is kept at {kept}." in str(e.value)
