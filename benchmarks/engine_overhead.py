"""Engine overhead per task: seconds per training epoch through ``labelnoise.engine.train``
vs a bare PyTorch loop written here, same model, data, batch size, optimizer and threads.

For each task a recipe (small: ``data.limit`` / task sizes below) is resolved to a
``RunConfig`` with ``train.epochs = E`` (default 5; more for tasks of millisecond epochs),
``train.eval_every = E`` (evaluation only after the last epoch: the bare loop does not
evaluate), no checkpoint before the end, ``detection.method: none``, one torch thread and
``data.eval_limit: 64``. Tasks of millisecond epochs run more epochs (``EPOCHS``: graph 40,
digits, Friedman and CLIP tiny 20) so a run's timed span is not a few tens of milliseconds. Then, in one
process, interleaved ``--repeats`` times (default 5):

* **engine**: ``train(cfg)``; the loop's ``end_of_epoch`` is wrapped to stamp the time when
  it returns. An epoch's time is the gap between two stamps: its batches (loader, the
  method's step, backward, optimizer, schedule, dynamics record, hooks) and its end-of-epoch
  bookkeeping. Epoch 1 (warm-up) and epoch E (evaluation, outputs) are left out, so the
  engine time is the mean of epochs 2..E-1. One-time setup (task, model, ``prepare``) is
  reported separately (``setup s``: from the ``train`` call to the loop's first batch; the
  task's data are built once per process and cached, so it is the second run's setup).
* **bare**: the same task's training split, model (``adapter.build_model``, same seed),
  optimizer and LR schedule (the recipe's ``optim``: torch's optimizer and ``LambdaLR``, as
  ``engine.setup.build_optimizer`` makes them); batches by a ``randperm`` over the split's
  tensors when it has them (``dataset.tensors()``), else a shuffled ``DataLoader`` with the
  task's collate; forward ``adapter.units(model, batch)`` (the task's own forward), the
  recipe's loss (mean over units), ``zero_grad``, ``backward``, the recipe's gradient
  clipping (``train.max_grad_norm``), ``step``, the schedule's ``step``. E epochs, the same
  epochs timed. It records nothing per example and checks nothing; the engine records each
  example's loss / margin / softmax every epoch (``dynamics.npz``), checks the loss is
  finite every step and weighs units through the selector (all ones here).
* **engine, record_dynamics off**: the engine run again with ``train.record_dynamics:
  false`` (no per-example loss / margin / softmax): the engine doing what the bare loop does.

Times are CPU seconds of this process (``time.process_time``; every run uses one torch
thread, so it is the work done, and far less sensitive than wall time to the other jobs of
a shared machine); the wall-clock ratio is printed beside. Reported: the median over the
repeats of each, and ``ratio = engine / bare`` (goal <= 1.10), with the smallest and the
largest ratio of one repeat's engine and bare runs (run side by side) beside it: the spread
the machine's load gives. The load average is printed
beside the table, and the runs alternate so load affects them alike.

    python benchmarks/engine_overhead.py --data-dir /work/shared/data [--tasks graph ...]
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import _common
import torch

import labelnoise.engine.loop as loop_module
from labelnoise.common.losses import build_loss
from labelnoise.config import RunConfig, deep_merge, load_recipe, resolve
from labelnoise.engine import train
from labelnoise.engine.data import dataset_tensors, num_items
from labelnoise.engine.setup import build_optimizer, build_task

RECIPES = Path(__file__).resolve().parents[1] / "recipes"

# name -> (recipe, variant, overrides): CPU-sized, a few seconds per epoch at most
TASKS: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "classification": ("classification/digits_ce.yaml", None, {}),
    "graph": ("graph/cora_erase_robust.yaml", "ce", {}),
    "ner_frozen": ("ner/noisebench_frozen_ce.yaml", None, {"data": {"limit": 4000}}),
    "ner_finetune": (
        "ner/noisebench_crowd.yaml",
        "ce",
        {"data": {"limit": 64, "batch_size": 16}, "optim": {"warmup_steps": 0}},
    ),
    "segmentation": (
        "segmentation/isbi2012_hard_ce.yaml",
        None,
        {"task": {"image_size": 64}, "data": {"limit": 16}},
    ),
    "edges": ("edges/bsds_annotator.yaml", "ce", {"data": {"limit": 16}}),
    "audio": ("audio/fsdd_softmax.yaml", None, {"data": {"limit": 320}}),
    "regression": ("regression/friedman_robust.yaml", "mse", {"task": {"n_samples": 10000}}),
    "cifar10n_cnn": (
        "cifar10n/worst_small_cnn.yaml",
        "ce",
        {"task": {"train_size": 1024}, "detection": {"method": "none"}},
    ),
    "clip_tiny": ("clip/cifar10n_worst_coop_ce.yaml", None, {}),
}


# tasks whose epochs are a few milliseconds (one full-batch step, or 16-17 steps of a small
# MLP): more epochs are timed, so a run's timed span is not a few tens of milliseconds
EPOCHS: dict[str, int] = {"graph": 40, "classification": 20, "regression": 20, "clip_tiny": 20}


def config(task: str, epochs: int, out: Path) -> RunConfig:
    recipe, variant, over = TASKS[task]
    common = {
        "output_dir": str(out),
        "train": {
            "epochs": epochs,
            "eval_every": epochs,
            "checkpoint_every_epochs": epochs,
            "progress": False,
            "select_by": "last",
            "num_threads": 1,
        },
        "data": {"eval_limit": 64},
        "detection": {"method": "none"},
    }
    return resolve(load_recipe(RECIPES / recipe), deep_merge(common, over), variant=variant)


def _stamp() -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) now."""
    return time.perf_counter(), time.process_time()


def _per_epoch(stamps: list[tuple[float, float]]) -> tuple[float, float]:
    """Mean (wall, CPU) seconds between consecutive ``stamps``."""
    gaps = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(stamps[:-1], stamps[1:], strict=True)]
    return statistics.mean(g[0] for g in gaps), statistics.mean(g[1] for g in gaps)


def time_engine(cfg: RunConfig) -> tuple[float, float, float]:
    """(wall, CPU) mean seconds of epochs 2..E-1 and the setup wall seconds of one engine
    run of ``cfg``."""
    stamps: list[tuple[float, float]] = []
    real_end, real_restore = loop_module.end_of_epoch, loop_module.restore_checkpoint

    def end_of_epoch(*a: Any, **k: Any) -> None:
        real_end(*a, **k)
        stamps.append(_stamp())

    def restore(*a: Any, **k: Any) -> None:
        real_restore(*a, **k)
        stamps.append(_stamp())  # the loop starts next

    shutil.rmtree(cfg.run_dir, ignore_errors=True)
    loop_module.end_of_epoch, loop_module.restore_checkpoint = end_of_epoch, restore
    try:
        t0 = time.perf_counter()
        train(cfg)
    finally:
        loop_module.end_of_epoch, loop_module.restore_checkpoint = real_end, real_restore
    wall, cpu = _per_epoch(stamps[1:-1])  # epochs 2..E-1
    return wall, cpu, stamps[0][0] - t0


def bare_loop(cfg: RunConfig) -> tuple[float, float]:
    """(wall, CPU) mean seconds of epochs 2..E-1 of a plain PyTorch loop on the same task
    (module docstring)."""
    from accelerate.utils import set_seed

    if cfg.train.num_threads is not None:
        torch.set_num_threads(cfg.train.num_threads)
    set_seed(cfg.seed)
    task = build_task(cfg)
    adapter, splits = task.adapter, task.splits
    model = adapter.build_model(splits)
    n = num_items(splits.train)
    bs = cfg.data.batch_size
    steps = -(-n // bs) * cfg.train.epochs
    # the recipe's optimizer and LR schedule (torch's LambdaLR), as the engine builds them
    opt, schedule = build_optimizer(cfg, model.parameters(), steps)
    loss_fn = build_loss(
        cfg.loss.name, num_classes=splits.num_classes, num_examples=n, **cfg.loss.options
    )
    cols = dataset_tensors(splits.train)
    loader = None
    if cols is None:
        loader = torch.utils.data.DataLoader(
            splits.train,
            batch_size=bs,
            shuffle=True,
            collate_fn=adapter.collate,
            num_workers=cfg.data.num_workers,
        )
    clip = cfg.train.max_grad_norm
    model.train()
    stamps = [_stamp()]
    for _ in range(cfg.train.epochs):
        if cols is not None:
            perm = torch.randperm(n)
            batches: Any = (
                {k: v[perm[i : i + bs]] for k, v in cols.items()} for i in range(0, n, bs)
            )
        else:
            batches = loader
        for batch in batches:
            units = adapter.units(model, batch)
            loss = loss_fn(units.pred, units.target, units.loss_id).mean()
            opt.zero_grad()
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            schedule.step()
        stamps.append(_stamp())
    return _per_epoch(stamps[1:-1])  # epochs 2..E-1


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=list(TASKS))
    p.add_argument("--epochs", type=int, default=5, help="epochs per run (>= 3; default 5)")
    p.add_argument("--repeats", type=int, default=5, help="runs of each, median (default 5)")
    args = p.parse_args()
    data_dir = _common.data_dir_or_exit(args)
    if args.epochs < 3 or args.repeats < 1:
        p.error(f"--epochs must be >= 3 and --repeats >= 1; got {args.epochs}, {args.repeats}")
    os.environ["LABELNOISE_DATA"] = str(data_dir)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows, table = [], []
    with tempfile.TemporaryDirectory(prefix="engine_overhead_") as tmp:
        for task in args.tasks:
            epochs = max(args.epochs, EPOCHS.get(task, 0))
            cfg = config(task, epochs, Path(tmp) / task)
            lean = dataclasses.replace(
                cfg, train=dataclasses.replace(cfg.train, record_dynamics=False)
            )
            engine, nodyn, bare, setup = [], [], [], []
            try:
                for _ in range(args.repeats):
                    *e, s = time_engine(cfg)
                    engine.append(e)
                    setup.append(s)
                    bare.append(bare_loop(cfg))
                    nodyn.append(time_engine(lean)[:2])
            except Exception as err:  # one task's failure is a row, not the end of the table
                print(f"{task}: {type(err).__name__}: {err}", flush=True)
                table.append([task, TASKS[task][0], *["-"] * 11])
                continue
            ew, ec = (statistics.median(v[i] for v in engine) for i in (0, 1))
            lc = statistics.median(v[1] for v in nodyn)
            bw, bc = (statistics.median(v[i] for v in bare) for i in (0, 1))
            s = statistics.median(setup[1:] or setup)
            load = os.getloadavg()[0]
            n, bs = num_items(build_task(cfg).splits.train), cfg.data.batch_size
            recipe, variant, _ = TASKS[task]
            where = recipe + (f" ({variant})" if variant else "")
            pairs = [e[1] / b[1] for e, b in zip(engine, bare, strict=True)]
            spread = f"{min(pairs):.3f}-{max(pairs):.3f}"
            table.append(
                [task, where, n, bs, ec, bc, ec / bc, spread, lc / bc, ew / bw, s, f"{load:.2f}"]
            )
            for metric, value in (
                ("engine_cpu_s", ec),
                ("bare_cpu_s", bc),
                ("ratio_cpu", ec / bc),
                ("ratio_cpu_no_dynamics", lc / bc),
                ("engine_wall_s", ew),
                ("bare_wall_s", bw),
                ("ratio_wall", ew / bw),
            ):
                rows.append(_common.row(task, "engine", metric, value, seed=0, recipe=where))
            print(" | ".join(str(v) for v in table[-1]), flush=True)
    header = ["task", "recipe", "train items", "batch", "engine CPU s/epoch"]
    header += ["bare CPU s/epoch", "ratio (CPU)", "ratio range (CPU, per repeat)"]
    header += ["ratio (CPU, record_dynamics off)"]
    header += ["ratio (wall)", "setup s", "load 1 min"]
    la = os.getloadavg()
    pre = (
        f"CPU seconds of this process per training epoch (``time.process_time``; one torch "
        f"thread), median of {args.repeats} interleaved runs of each of {args.epochs} epochs "
        f"or more (epochs 2..E-1 timed; the first is warm-up, the last evaluates); goal: ratio "
        f"<= 1.10. Wall-clock ratio beside it. Load average at the end: {la[0]:.2f} "
        f"{la[1]:.2f} {la[2]:.2f} ({os.cpu_count()} CPUs, shared)."
    )
    _common.report("engine_overhead", _common.markdown_table(header, table), rows, args.json, pre)


if __name__ == "__main__":
    main()
