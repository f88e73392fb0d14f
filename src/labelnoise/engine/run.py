"""A run's life around the loop (:mod:`labelnoise.engine.loop`): starting it (run directory,
seed, task, loaders), the end-of-epoch evaluation and model selection, and finishing it
(selected model, test metrics, label issues, outputs)."""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from labelnoise.config import RunConfig
from labelnoise.engine.checkpoint import Checkpointer
from labelnoise.engine.collect import after_training
from labelnoise.engine.data import eval_loader, make_loader, num_items
from labelnoise.engine.detect import detect_label_issues
from labelnoise.engine.dynamics import Dynamics
from labelnoise.engine.outputs import (
    evaluate_splits,
    replace_write,
    selection_key,
    update_selection,
    write_history,
    write_outputs,
)
from labelnoise.engine.setup import (
    NonFiniteLossError,
    build_task,
    create_run_dir,
    prepare_run_dir,
)
from labelnoise.engine.state import LoopState
from labelnoise.tasks.base import DatasetSplits, TaskAdapter

__all__ = [
    "Run",
    "end_of_epoch",
    "finish",
    "make_accelerator",
    "raise_if_not_finite",
    "set_train_split",
    "start",
    "stop_if_not_finite",
]


@dataclass
class Run:
    """A started run: the accelerator, the task, its (unprepared) loaders and bookkeeping.

    ``splits.train`` is the task's training split (detection, outputs); ``train_split`` is
    what the loop trains on (the method's, see :meth:`Method.train_dataset`)."""

    cfg: RunConfig
    accelerator: Any
    run_dir: Path
    adapter: TaskAdapter
    splits: DatasetSplits
    train_split: Any
    train_loader: Any
    eval_loaders: dict[str, Any]
    total_steps: int
    key: str | None
    lower: bool
    started: float
    dynamics: Dynamics
    ckpt: Checkpointer
    finished: dict[str, Any] | None = None
    nonfinite_step: torch.Tensor | None = None  # deferred finite check (stop_if_not_finite)
    steps_per_epoch: int = 0  # optimizer steps an epoch of the loop's loader takes
    state: LoopState = field(default_factory=LoopState)


def make_accelerator(cfg: RunConfig) -> Any:
    """An Accelerator for ``cfg`` (TensorBoard tracking when it is installed)."""
    import importlib.util

    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState

    # Accelerate keeps its settings in process-wide singletons; a recipe's variants may use
    # other settings (mixed precision, accumulation), so each run starts from fresh ones. The
    # process group (PartialState) is kept.
    AcceleratorState._reset_state()
    GradientState._reset_state()
    log_with = "tensorboard" if importlib.util.find_spec("tensorboard") else None
    return Accelerator(
        cpu=cfg.train.cpu,
        mixed_precision=cfg.train.mixed_precision,
        gradient_accumulation_steps=cfg.train.grad_accum,
        log_with=log_with,
        project_dir=str(cfg.run_dir),
    )


def start(cfg: RunConfig, *, resume: bool, overwrite: bool) -> Run:
    """Check the run directory, seed, build the task and the evaluation loaders.

    ``Run.finished`` holds the metrics when ``resume`` finds a finished run. The training
    loader comes from :func:`set_train_split` (the method may change the training split).
    """
    from accelerate.utils import set_seed

    started = time.time()
    if cfg.train.num_threads is not None:
        torch.set_num_threads(cfg.train.num_threads)
    accelerator = make_accelerator(cfg)
    run_dir = prepare_run_dir(cfg, resume=resume, overwrite=overwrite, accelerator=accelerator)
    set_seed(cfg.seed)
    task = build_task(cfg)
    adapter, splits = task.adapter, task.splits
    key = selection_key(cfg, adapter, splits)
    d = cfg.data
    eval_loaders = {
        name: eval_loader(
            ds,
            adapter,
            batch_size=d.eval_batch_size,
            num_workers=d.num_workers,
            num_process=accelerator.num_processes,
            process_index=accelerator.process_index,
        )
        for name, ds in (("val", splits.val), ("test", splits.test))
        if ds is not None and num_items(ds) > 0
    }
    create_run_dir(cfg, resume=resume, accelerator=accelerator)  # once the data is read
    if accelerator.log_with:  # TensorBoard, when installed, logs into run_dir
        accelerator.init_trackers(cfg.name)
    run = Run(
        cfg,
        accelerator,
        run_dir,
        adapter,
        splits,
        splits.train,
        None,
        eval_loaders,
        0,
        key,
        lower=adapter.primary_metric in adapter.lower_is_better,
        started=started,
        # the mean softmax is read only by detection.method: dynamics
        dynamics=Dynamics(num_items(splits.train), probs=cfg.detection.method == "dynamics"),
        ckpt=Checkpointer(accelerator, run_dir, keep=cfg.train.keep_checkpoints, started=started),
    )
    if resume and (run_dir / "metrics.json").is_file():
        run.finished = json.loads((run_dir / "metrics.json").read_text())
    return run


def set_train_split(run: Run, train: Any) -> None:
    """Train on ``train`` (the method's training split): its shuffled loader and the run's
    number of optimizer steps (``epochs`` x steps per epoch, capped by ``max_steps``)."""
    cfg, acc = run.cfg, run.accelerator
    run.train_split = train
    run.train_loader = make_loader(
        train,
        run.adapter,
        batch_size=cfg.data.batch_size,
        seed=cfg.seed,
        shuffle=True,
        num_workers=cfg.data.num_workers,
    )
    batches = math.ceil(len(run.train_loader) / acc.num_processes)
    run.steps_per_epoch = math.ceil(batches / cfg.train.grad_accum)
    total = run.steps_per_epoch * cfg.train.epochs
    if cfg.train.max_steps is not None:
        total = min(total, cfg.train.max_steps)
    run.total_steps = total


def defer_finite_check(device: torch.device) -> bool:
    """Whether :func:`stop_if_not_finite` defers its check (no host sync per step): on an
    accelerator (CUDA, MPS, ...) yes; on the CPU the check is free and immediate."""
    return device.type != "cpu"


def stop_if_not_finite(run: Run, unit_loss: torch.Tensor) -> None:
    """Raise :class:`NonFiniteLossError` on every process when a loss is NaN or inf.

    On the CPU it raises at once. On an accelerator (:func:`defer_finite_check`) reading
    the flag would stop the device every step, so the step of the first non-finite loss is
    kept on the device (``run.nonfinite_step``) and :func:`raise_if_not_finite` raises,
    naming that step, where the loop calls it: before every checkpoint (no checkpoint is
    ever saved past a non-finite loss) and at the end of every epoch."""
    loss = unit_loss.detach()
    if not defer_finite_check(loss.device):
        finite = bool(torch.isfinite(loss).all())
        if finite and run.accelerator.num_processes == 1:
            return  # nothing to agree on with other processes
        _raise_if_bad(run, torch.tensor(float(not finite), device=loss.device), run.state.step + 1)
        return
    step = torch.where(torch.isfinite(loss).all(), _NO_STEP, run.state.step + 1)
    prev = getattr(run, "nonfinite_step", None)
    run.nonfinite_step = step if prev is None else torch.minimum(prev, step)


_NO_STEP = 2**62  # "no non-finite loss yet" for the deferred check


def raise_if_not_finite(run: Run) -> None:
    """Raise :class:`NonFiniteLossError` (every process) when a deferred check of
    :func:`stop_if_not_finite` saw a non-finite loss; nothing when no check was deferred."""
    step = getattr(run, "nonfinite_step", None)
    if step is None:
        return
    run.nonfinite_step = None
    acc = run.accelerator
    if acc.num_processes > 1:
        step = acc.reduce(step, "min")
    first = int(step)
    if first != _NO_STEP:
        _raise_if_bad(run, torch.tensor(1.0), first)


def _raise_if_bad(run: Run, bad: torch.Tensor, step: int) -> None:
    acc = run.accelerator
    if acc.num_processes > 1:
        bad = acc.reduce(bad, "max")
    if bool(bad):
        latest = run.ckpt.latest()
        kept = (
            f"the last good checkpoint is kept at {latest}"
            if latest
            else "no checkpoint was saved yet"
        )
        raise NonFiniteLossError(
            f"loss must be finite; got NaN or inf at step {step} "
            f"(epoch {run.state.epoch + 1}). Training stopped; {kept}. "
            "Lower optim.lr, set train.max_grad_norm, or check the data."
        )


def end_of_epoch(run: Run, model: torch.nn.Module, lr: float, reached_max: bool) -> None:
    """Gather dynamics; evaluate (every ``eval_every`` epochs and at the end); keep the best
    model in ``best_model.pt``; update history.jsonl; decide early stopping."""
    cfg, acc, state = run.cfg, run.accelerator, run.state
    if cfg.train.record_dynamics:
        run.dynamics.end_epoch(acc)
    state.epoch += 1
    state.batch = 0
    last = reached_max or state.epoch >= cfg.train.epochs
    if state.epoch % cfg.train.eval_every != 0 and not last:
        return
    train_loss = acc.reduce(
        torch.tensor(state.loss_sum / max(1, state.loss_count), device=acc.device), "mean"
    )
    row = {"epoch": state.epoch, "step": state.step, "train_loss": float(train_loss), "lr": lr}
    row |= evaluate_splits(run.adapter, model, run.eval_loaders, run.splits, acc)
    state.loss_sum, state.loss_count = 0.0, 0
    if update_selection(state, row, run.key, run.lower) and acc.is_main_process:
        buf = io.BytesIO()
        torch.save(acc.unwrap_model(model).state_dict(), buf)
        replace_write(run.run_dir / "best_model.pt", buf.getvalue())
    if acc.is_main_process:
        write_history(run.run_dir, state.history)
    acc.log(row, step=state.step)
    if cfg.train.early_stopping is not None and state.bad_evals >= cfg.train.early_stopping:
        state.done = True


def finish(
    run: Run,
    model: torch.nn.Module,
    *,
    after: Callable[[], None] | None = None,
    issues: Callable[[], tuple[np.ndarray, np.ndarray] | None] | None = None,
) -> dict[str, Any]:
    """Load the selected model, call the adapter's ``after_training`` hook and ``after()``
    (the method's), evaluate it, detect label issues (``issues``: the method's own, for
    ``detection.method: method``), write the outputs."""
    acc = run.accelerator
    acc.wait_for_everyone()
    best = torch.load(run.run_dir / "best_model.pt", map_location="cpu", weights_only=True)
    acc.unwrap_model(model).load_state_dict(best)
    d = run.cfg.data
    after_training(
        run.adapter,
        model,
        run.splits.train,
        acc,
        batch_size=d.eval_batch_size,
        num_workers=d.num_workers,
    )
    if after is not None:
        after()
    final = evaluate_splits(run.adapter, model, run.eval_loaders, run.splits, acc)
    detection = detect_label_issues(
        run, dynamics_probs=run.dynamics.mean_probs(), method_issues=issues
    )
    metrics: dict[str, Any] = {}
    if acc.is_main_process:
        metrics = write_outputs(
            run.run_dir,
            run.cfg,
            run.splits,
            run.state,
            final,
            run.key,
            detection,
            run.dynamics.arrays(),
            num_processes=acc.num_processes,
            started=run.started - run.ckpt.elapsed_before,  # a resumed run adds its past
        )
    for tracker in acc.trackers:  # not end_training(): it destroys the process group
        tracker.finish()
    acc.wait_for_everyone()
    return metrics or json.loads((run.run_dir / "metrics.json").read_text())
