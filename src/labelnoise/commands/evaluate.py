"""``labelnoise evaluate RUN_DIR``: re-evaluate a finished run's selected model."""

from __future__ import annotations

import argparse
from typing import Any

HELP = "Evaluate the selected model of a run directory on its validation and clean test splits."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a run directory written by `labelnoise train`")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import torch

    from labelnoise._io import atomic_write
    from labelnoise.config import load_recipe, resolve
    from labelnoise.engine.collect import after_training
    from labelnoise.engine.data import eval_loader, num_items
    from labelnoise.engine.outputs import evaluate_splits
    from labelnoise.engine.run import make_accelerator
    from labelnoise.engine.setup import build_task

    run_dir = Path(args.run_dir)
    weights = run_dir / "best_model.pt"
    if not weights.is_file():
        raise FileNotFoundError(
            f"run_dir must hold best_model.pt from a finished run; got {run_dir}"
        )
    cfg = resolve(load_recipe(run_dir / "config.yaml"))
    accelerator = make_accelerator(cfg)
    task = build_task(cfg)
    model = _network(cfg, task, accelerator)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    loaders = {
        name: eval_loader(
            ds,
            task.adapter,
            batch_size=cfg.data.eval_batch_size,
            num_process=accelerator.num_processes,
            process_index=accelerator.process_index,
        )
        for name, ds in (("val", task.splits.val), ("test", task.splits.test))
        if ds is not None and num_items(ds) > 0
    }
    model = accelerator.prepare(model)
    after_training(
        task.adapter, model, task.splits.train, accelerator, batch_size=cfg.data.eval_batch_size
    )
    metrics = evaluate_splits(task.adapter, model, loaders, task.splits, accelerator)
    if accelerator.is_main_process:
        with atomic_write(run_dir / "eval.json") as f:
            json.dump(metrics, f, indent=2)
        print(json.dumps(metrics, indent=2))
    return 0


def _network(cfg: Any, task: Any, accelerator: Any) -> Any:
    """Network 0 as the run built it: the method's ``build_model`` (methods such as PNT-Edge
    or the EMA teacher wrap the task's model, and ``best_model.pt`` holds the wrapper)."""
    from types import SimpleNamespace

    from labelnoise.methods.registry import get_method, method_options

    cls = get_method(cfg.method.name)
    shell = SimpleNamespace(
        cfg=cfg, adapter=task.adapter, splits=task.splits, accelerator=accelerator
    )
    method = cls(method_options(cfg.method.name, cfg.method.options), shell)  # type: ignore[arg-type]
    return method.build_model(task.splits)
