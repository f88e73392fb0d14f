"""``labelnoise evaluate RUN_DIR``: re-evaluate a finished run's selected model."""

from __future__ import annotations

import argparse
from typing import Any

HELP = "Evaluate the selected model of a run directory on its validation and clean test splits."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a run directory written by `labelnoise train`")
    parser.add_argument(
        "--allow-code",
        action="store_true",
        help="let the run's config import modules outside the allow-listed packages",
    )


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from labelnoise._io import atomic_write
    from labelnoise.config import load_recipe, resolve
    from labelnoise.engine.collect import after_training
    from labelnoise.engine.data import eval_loader, num_items
    from labelnoise.engine.outputs import evaluate_splits
    from labelnoise.engine.run import make_accelerator
    from labelnoise.engine.setup import build_task

    if args.allow_code:
        import os

        from labelnoise._code import ALLOW_CODE_ENV

        os.environ[ALLOW_CODE_ENV] = "1"
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(
            f"run_dir must be a run directory; {str(run_dir)!r} is not a folder"
        )
    weights, cfg_file = run_dir / "best_model.pt", run_dir / "config.yaml"
    for need in (cfg_file, weights):
        if not need.is_file():
            raise FileNotFoundError(
                f"run_dir must hold {need.name} from a finished run; got {run_dir}"
            )
    try:
        cfg = resolve(load_recipe(cfg_file))
    except ValueError as e:
        raise ValueError(f"{cfg_file} is not a valid run config: {e}") from e
    state = _read_weights(weights)
    accelerator = make_accelerator(cfg)
    task = build_task(cfg)
    model = _network(cfg, task, accelerator)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:  # missing / unexpected keys, shape mismatch
        first = " ".join(str(e).split())[:300]
        raise ValueError(f"{weights} does not fit the model of {cfg_file}: {first}") from e
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


def _read_weights(path: Any) -> dict[str, Any]:
    """``best_model.pt`` as a state dict (``weights_only``); a corrupt or foreign file is a
    ``ValueError`` naming it."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, pickle error, unsafe global, not a torch file
        why = " ".join(str(e).split())[:200]
        raise ValueError(
            f"{path} must be a model saved by labelnoise train; it cannot be read "
            f"({type(e).__name__}: {why})"
        ) from e
    if not isinstance(state, dict):
        raise ValueError(f"{path} must hold a model's state dict; got {type(state).__name__}")
    return state


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
