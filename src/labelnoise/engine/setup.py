"""Run setup shared by the loops: the run directory, the data, and the components."""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from labelnoise._io import atomic_write
from labelnoise.config import RunConfig, dump_yaml, to_dict
from labelnoise.engine.data import limit_splits, num_items
from labelnoise.methods.base import Selector, UnitLoss
from labelnoise.tasks.base import DatasetSplits, TaskAdapter
from labelnoise.tasks.registry import get_task

__all__ = [
    "NonFiniteLossError",
    "build_loss_fn",
    "build_optimizer",
    "build_selector_fn",
    "build_task",
    "create_run_dir",
    "data_root",
    "discard_failed_run",
    "first_missing",
    "prepare_run_dir",
]


class NonFiniteLossError(ValueError):
    """The training loss became NaN or infinite."""


@dataclass
class Task:
    adapter: TaskAdapter
    splits: DatasetSplits


def data_root(cfg: RunConfig) -> Path | None:
    """``data.data_dir``, else ``$LABELNOISE_DATA``, else None; must exist when given."""
    raw = cfg.data.data_dir or os.environ.get("LABELNOISE_DATA")
    if not raw:
        return None
    root = Path(raw).expanduser()
    if not root.is_dir():
        where = "data.data_dir" if cfg.data.data_dir else "$LABELNOISE_DATA"
        raise FileNotFoundError(
            f"{where} must be an existing directory; got {str(root)!r}. {_DATA_HINT}"
        )
    return root


_DATA_HINT = (
    "Set data.data_dir in the recipe (or --data.data_dir=DIR) or the environment variable "
    "LABELNOISE_DATA to the folder that holds the datasets (e.g. shared/data)"
)


def _where_data(cfg: RunConfig, root: Path | None) -> str:
    """Where the data root came from, for a missing-data error."""
    if cfg.data.data_dir:
        return f"data root {str(root)!r} from data.data_dir"
    if root is not None:
        return f"data root {str(root)!r} from $LABELNOISE_DATA"
    return "no data root: data.data_dir and $LABELNOISE_DATA are both unset"


_LAST_TASK: dict[str, Task] = {}


def build_task(cfg: RunConfig) -> Task:
    """The adapter and its (limited) splits.

    The last built task is kept for the process: the variants of a recipe that share the
    task section, data root and seed (e.g. only the loss differs) read and corrupt the data
    once. Datasets are read-only to the engine.
    """
    root = data_root(cfg)
    key = repr((cfg.task.name, dataclasses.asdict(cfg.task.options), str(root), cfg.seed))
    if key in _LAST_TASK:
        task = _LAST_TASK[key]
    else:
        adapter = get_task(cfg.task.name)(cfg.task.options)
        try:
            splits = adapter.build_datasets(root, seed=cfg.seed)
        except FileNotFoundError as e:  # name the data root and how to set it
            msg = str(e) if e.filename is None else f"{e.strerror}: {e.filename}"
            raise FileNotFoundError(
                f"task {cfg.task.name!r}: {msg} ({_where_data(cfg, root)}). {_DATA_HINT}"
            ) from e
        if splits.train is None or num_items(splits.train) == 0:
            raise ValueError(
                f"task {cfg.task.name!r} must provide a non-empty training split; got 0 items"
            )
        task = Task(adapter, splits)
        _LAST_TASK.clear()
        _LAST_TASK[key] = task
    return Task(task.adapter, limit_splits(task.splits, cfg.data.limit, cfg.data.eval_limit))


def prepare_run_dir(cfg: RunConfig, *, resume: bool, overwrite: bool, accelerator: Any) -> Path:
    """Check the run directory (every process); nothing is written here (see
    :func:`create_run_dir`, called once the task and its data are built).

    A directory holding another run is refused unless ``overwrite`` (wipe it) or ``resume``
    (continue it; its config must equal ``cfg``, paths compared resolved). The leftovers of a
    run that failed or was killed before its first checkpoint (``config.yaml``, no
    ``metrics.json``, no complete checkpoint) are replaced without ``overwrite``.
    """
    from labelnoise.engine.checkpoint import Checkpointer

    run_dir = cfg.run_dir
    cfg_file = run_dir / "config.yaml"
    if resume and overwrite:
        raise ValueError("--resume and --overwrite must not be combined; got both")
    if run_dir.exists() and not run_dir.is_dir():
        raise FileExistsError(f"output_dir must be a directory; got the file {run_dir}")
    if resume:
        if not cfg_file.is_file():
            raise FileNotFoundError(
                f"--resume needs an existing run in {run_dir}; no config.yaml there"
            )
        try:
            with cfg_file.open(encoding="utf-8") as f:
                old = yaml.safe_load(f)
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            why = " ".join(str(e).split())
            raise ValueError(
                f"{cfg_file} must be a run's config.yaml; it cannot be read ({why})"
            ) from e
        if not isinstance(old, dict):
            raise ValueError(f"{cfg_file} must be a run's config.yaml; got {type(old).__name__}")
        diff = sorted(_diff(_paths_resolved(old), _paths_resolved(to_dict(cfg))))
        if diff:
            raise ValueError(
                f"--resume must use the run's own config; {run_dir}/config.yaml differs at {diff[:5]}"
            )
        return run_dir
    holds_run = run_dir.exists() and any(run_dir.iterdir())
    if holds_run and not cfg_file.is_file():
        raise FileExistsError(
            f"output_dir {run_dir} must be empty or a labelnoise run; it holds other files"
        )
    aborted = (
        holds_run
        and not (run_dir / "metrics.json").exists()
        and Checkpointer(accelerator, run_dir).latest() is None
    )
    if holds_run and not overwrite and not aborted:
        state = "a run" if (run_dir / "metrics.json").exists() else "an unfinished run"
        raise FileExistsError(
            f"output_dir {run_dir} already holds {state}; pass --overwrite to replace it "
            "or --resume to continue it"
        )
    return run_dir


def create_run_dir(cfg: RunConfig, *, resume: bool, accelerator: Any) -> None:
    """After :func:`prepare_run_dir` accepted it: (main process) empty the directory when it
    holds a run to replace, create it and write ``config.yaml``. Nothing when resuming."""
    accelerator.wait_for_everyone()  # every process has checked before anything is written
    if accelerator.is_main_process and not resume:
        run_dir = cfg.run_dir
        if run_dir.is_dir() and any(run_dir.iterdir()):
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(run_dir / "config.yaml") as f:
            f.write(dump_yaml(cfg))
    accelerator.wait_for_everyone()


def first_missing(path: Path) -> Path | None:
    """The topmost folder of ``path`` (itself included) that does not exist yet: what
    creating ``path`` would create. None when ``path`` exists."""
    missing = None
    for p in (path, *path.parents):
        if p.exists():
            break
        missing = p
    return missing


def discard_failed_run(run_dir: Path, created: Path | None) -> None:
    """After a fresh run failed: remove what it wrote, unless it saved a checkpoint (then it
    can be resumed and is kept) or finished. ``created``: :func:`first_missing` of
    ``run_dir`` before the run (removed with everything below it); else the contents of
    ``run_dir`` go when they are a run's leftovers (``config.yaml``), so a folder that
    existed is left as it was (empty) and one holding another run is never touched."""
    from labelnoise.engine.checkpoint import Checkpointer

    if (run_dir / "metrics.json").exists() or Checkpointer(None, run_dir).latest() is not None:
        return
    if created is not None:
        shutil.rmtree(created, ignore_errors=True)
    elif run_dir.is_dir() and (run_dir / "config.yaml").is_file():
        for p in list(run_dir.iterdir()):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


def _paths_resolved(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` with ``output_dir`` and ``data.data_dir`` as absolute, normalised paths: ``rel``,
    ``./rel/`` and ``/abs/rel`` name the same run."""

    def norm(v: Any) -> Any:
        return os.path.realpath(os.path.expanduser(v)) if isinstance(v, str) and v else v

    out = dict(d)
    out["output_dir"] = norm(out.get("output_dir"))
    if isinstance(out.get("data"), dict):
        out["data"] = {**out["data"], "data_dir": norm(out["data"].get("data_dir"))}
    return out


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in set(a) | set(b):
            out += _diff(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


def build_loss_fn(
    cfg: RunConfig, num_classes: int, num_examples: int, *, device: Any = None
) -> UnitLoss:
    """The configured per-unit loss module (on ``device`` when given); stateful losses (ELR)
    keep one memory slot per id in ``[0, num_examples)``."""
    from labelnoise.common.losses import build_loss

    loss = build_loss(
        cfg.loss.name, num_classes=num_classes, num_examples=num_examples, **cfg.loss.options
    )
    return loss if device is None else loss.to(device)


def build_selector_fn(cfg: RunConfig, num_examples: int, gather: Any) -> Selector:
    """The configured selector (``none``: every unit has weight 1)."""
    from labelnoise.common.selection import build_selector

    return build_selector(
        cfg.selector.name, num_examples=num_examples, gather=gather, **cfg.selector.options
    )


def build_optimizer(
    cfg: RunConfig, params: Any, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """Optimizer and a per-optimizer-step LR schedule (warm-up, hold, then constant / cosine /
    linear decay to 0 at ``total_steps``)."""
    o = cfg.optim
    opt: torch.optim.Optimizer
    if o.name == "sgd":
        opt = torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    elif o.name == "adam":
        opt = torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
    else:
        opt = torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
    warm, total = o.warmup_steps, max(1, total_steps)
    hold = warm + int(o.hold_fraction * max(0, total - warm))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        frac = min(1.0, max(0.0, step - hold) / max(1, total - hold))
        if o.scheduler == "cosine":
            return 0.5 * (1 + math.cos(math.pi * frac))
        if o.scheduler == "linear":
            return 1.0 - frac
        return 1.0

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)
