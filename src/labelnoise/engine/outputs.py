"""Evaluation rows, model selection, and the files of a run directory."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from labelnoise._io import atomic_write
from labelnoise.common.transition import TransitionMatrix
from labelnoise.config import RunConfig
from labelnoise.engine.collect import evaluate_units
from labelnoise.engine.data import num_items
from labelnoise.engine.detect import Detection, issues_csv, train_labels
from labelnoise.engine.state import LoopState
from labelnoise.tasks.base import DatasetSplits, TaskAdapter

__all__ = ["evaluate_splits", "selection_key", "update_selection", "write_outputs"]


def has_clean(ds: Any) -> bool:
    return ds is not None and len(ds) > 0 and "clean_target" in ds[0]


def selection_key(cfg: RunConfig, adapter: TaskAdapter, splits: DatasetSplits) -> str | None:
    """The history column used for model selection and early stopping (None: last model)."""
    rule = cfg.train.select_by
    if rule == "last":
        return None
    if splits.val is None or num_items(splits.val) == 0:
        raise ValueError(
            f"train.select_by {rule!r} needs a validation split; task {cfg.task.name!r} has "
            "none here (use train.select_by: last)"
        )
    if rule == "clean_val" and not has_clean(splits.val):
        raise ValueError(
            "train.select_by 'clean_val' needs clean validation labels; the validation items "
            "carry no clean_target (use noisy_val)"
        )
    split = "val_clean" if rule == "clean_val" else "val_noisy"
    return f"{split}_{adapter.primary_metric}"


def evaluate_splits(
    adapter: TaskAdapter,
    model: torch.nn.Module,
    loaders: dict[str, Any],
    splits: DatasetSplits,
    accelerator: Any,
) -> dict[str, float]:
    """Metrics on val (noisy labels, and clean where known) and on the clean test split."""
    out: dict[str, float] = {}
    if "val" in loaders:
        for m, v in adapter.metrics(
            evaluate_units(adapter, model, loaders["val"], accelerator)
        ).items():
            out[f"val_noisy_{m}"] = v
        if has_clean(splits.val):
            u = evaluate_units(
                adapter, model, loaders["val"], accelerator, target_key="clean_target"
            )
            for m, v in adapter.metrics(u).items():
                out[f"val_clean_{m}"] = v
    if "test" in loaders:
        key = "clean_target" if has_clean(splits.test) else "target"
        u = evaluate_units(adapter, model, loaders["test"], accelerator, target_key=key)
        for m, v in adapter.metrics(u).items():
            out[f"test_{m}"] = v
    return out


def update_selection(state: LoopState, row: dict[str, Any], key: str | None, lower: bool) -> bool:
    """Record ``row``; return True when it is the new best (always True for ``last``)."""
    state.history.append(row)
    if key is None:
        state.best_epoch = row["epoch"]
        return True
    value = row.get(key, float("nan"))
    better = state.best_value is None or (
        not math.isnan(value) and (value < state.best_value if lower else value > state.best_value)
    )
    if better:
        state.best_value, state.best_epoch, state.bad_evals = float(value), row["epoch"], 0
    else:
        state.bad_evals += 1
    return better


def replace_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place: a killed
    process never leaves a half-written ``path``. Not fsynced (unlike
    :func:`~labelnoise._io.atomic_write`): for files rewritten every epoch, whose content a
    resumed run rewrites from its checkpoint (an fsync per epoch costs more than a small
    model's epoch on a busy disk)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_history(run_dir: Path, history: list[dict[str, Any]]) -> None:
    """Rewrite ``history.jsonl``, one JSON row per evaluation (see :func:`replace_write`)."""
    text = "".join(json.dumps(row) + "\n" for row in history)
    replace_write(run_dir / "history.jsonl", text.encode())


def _jsonable(value: Any) -> Any:
    """JSON form of the numpy / torch scalars and arrays adapters put in ``DatasetSplits.info``."""
    if isinstance(value, (np.generic, torch.Tensor, np.ndarray)):
        return value.tolist()
    return str(value)


def _user_ids(dataset: Any) -> list[str] | None:
    """The user's id of each training item (a dataset's ``ids``, e.g.
    :class:`~labelnoise.tasks._hf.IdTensorDataset`), followed through subset wrappers
    (``Reindexed``, ``Subset``: ``.dataset`` + ``.indices``); None when the data has none."""
    ids = getattr(dataset, "ids", None)
    if ids is not None:
        return [str(i) for i in ids]
    inner, indices = getattr(dataset, "dataset", None), getattr(dataset, "indices", None)
    if inner is None or indices is None:
        return None
    base = _user_ids(inner)
    return None if base is None else [base[int(i)] for i in indices]


def _join_user_columns(text: str, ids: list[str] | None, names: list[str] | None) -> str:
    """label_issues.csv with the user's ``id`` after ``example_id`` and, with class names,
    ``given_name`` / ``suggested_name`` after ``suggested_label``."""
    if ids is None and not names:
        return text
    rows = list(csv.reader(io.StringIO(text)))
    head = rows[0]
    ex, giv, sug = (head.index(c) for c in ("example_id", "given_label", "suggested_label"))

    def name(v: str) -> str:
        return names[int(v)] if names and 0 <= int(v) < len(names) else ""

    out = []
    for k, r in enumerate(rows):
        extra = ["given_name", "suggested_name"] if k == 0 else [name(r[giv]), name(r[sug])]
        r = r[: sug + 1] + extra + r[sug + 1 :] if names else r
        if ids is not None:
            r = r[: ex + 1] + ["id" if k == 0 else ids[int(r[ex])]] + r[ex + 1 :]
        out.append(r)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(out)
    return buf.getvalue()


def write_outputs(
    run_dir: Path,
    cfg: RunConfig,
    splits: DatasetSplits,
    state: LoopState,
    final: dict[str, float],
    key: str | None,
    detection: Detection | None,
    dynamics: dict[str, np.ndarray],
    *,
    num_processes: int,
    started: float,
) -> dict[str, Any]:
    """Write metrics.json, label_issues.csv, dynamics.npz and transitions.json; return metrics."""
    corrupted, noisy, clean = train_labels(splits.train)
    metrics: dict[str, Any] = {
        "run": cfg.name,
        "task": cfg.task.name,
        "method": cfg.method.name,
        "loss": cfg.loss.name,
        "selector": cfg.selector.name,
        "selection": {
            "rule": cfg.train.select_by,
            "metric": key,
            "best_epoch": state.best_epoch,
            "best_value": state.best_value,
            "note": {
                "clean_val": "model chosen on clean validation labels (optimistic: needs clean labels)",
                "noisy_val": "model chosen on noisy validation labels (no clean labels used)",
                "last": "the model after the last epoch (no selection)",
            }[cfg.train.select_by],
        },
        "test": {k[5:]: v for k, v in final.items() if k.startswith("test_")},
        "val": {k[4:]: v for k, v in final.items() if k.startswith("val_")},
        "train": {
            "examples": num_items(splits.train),
            "steps": state.step,
            "epochs": state.epoch,
            "num_processes": num_processes,
            "wall_time_s": round(time.time() - started, 3),
        },
        "noise_rate_realised": None if corrupted is None else float(corrupted.mean()),
        "data": dict(splits.info),
        "detection": None,
    }
    with atomic_write(run_dir / "dynamics.npz", "wb") as f:
        empty = np.zeros(0, dtype=bool)
        # Any: numpy's stub would bind a key "allow_pickle" to its bool argument
        arrays: dict[str, Any] = {
            **dynamics,
            "is_corrupted": corrupted if corrupted is not None else empty,
        }
        np.savez(f, **arrays)
    transitions: dict[str, Any] = {}
    if clean is not None and noisy is not None and splits.num_classes >= 2:
        transitions["realised"] = (
            TransitionMatrix.from_counts(clean, noisy, num_classes=splits.num_classes)
            .numpy()
            .tolist()
        )
    if detection is not None:
        from labelnoise.common.metrics import detection_report

        rep: dict[str, Any] = {
            "method": detection.method,
            "num_issues": int(detection.is_issue.sum()),
        }
        if corrupted is not None and 0 < corrupted.sum() < corrupted.size:
            rep |= detection_report(corrupted, detection.quality, detection.is_issue)
        elif corrupted is not None:  # AUROC / precision need both clean and corrupted examples
            rep |= {"n": int(corrupted.size), "num_corrupted": int(corrupted.sum())}
        metrics["detection"] = rep
        text = issues_csv(detection, dynamics, corrupted)
        with atomic_write(run_dir / "label_issues.csv") as f:
            f.write(_join_user_columns(text, _user_ids(splits.train), splits.class_names))
        if detection.pred_probs is not None:  # (N, C), example_id order
            with atomic_write(run_dir / "detection_pred_probs.npy", "wb") as f:
                np.save(f, detection.pred_probs, allow_pickle=False)
        if detection.transition_estimate is not None:
            transitions["estimated"] = detection.transition_estimate.tolist()
    if transitions:
        with atomic_write(run_dir / "transitions.json") as f:
            json.dump(transitions, f)
    with atomic_write(run_dir / "metrics.json") as f:
        json.dump(metrics, f, indent=2, default=_jsonable)
    return metrics
