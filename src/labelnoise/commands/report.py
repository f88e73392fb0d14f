"""``labelnoise report RUN_DIR``: (re)write report.html and its PNG plots."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

HELP = "Write report.html with PNG plots for a finished run directory."

_METRIC_SECTIONS = {"run": str, "task": str, "method": str, "loss": str, "selector": str}
_METRIC_TABLES = ("test", "selection", "val", "train")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a run directory written by `labelnoise train`")


def run(args: argparse.Namespace) -> int:
    import zipfile

    from labelnoise.engine.report import write_report

    run_dir = Path(args.run_dir)
    check_run_files(run_dir)
    before = {p.name for p in run_dir.iterdir()}
    try:
        out = write_report(run_dir)
    except (KeyError, TypeError, ValueError, IndexError, zipfile.BadZipFile, EOFError) as e:
        for p in run_dir.iterdir():  # a failed report leaves no new file
            if p.name not in before and p.is_file():
                p.unlink(missing_ok=True)
        why = " ".join(str(e).split())[:200]
        raise ValueError(
            f"run_dir {run_dir} holds a file the report cannot read ({type(e).__name__}: {why})"
        ) from e
    print(out)
    return 0


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        why = " ".join(str(e).split())[:200]
        raise ValueError(f"{path} must be JSON written by labelnoise train; {why}") from e


def check_run_files(run_dir: Path) -> None:
    """Refuse (``ValueError`` / ``FileNotFoundError`` naming the file) a run directory whose
    files the report reads are missing or damaged: metrics.json (required), history.jsonl,
    transitions.json, dynamics.npz and label_issues.csv (when present)."""
    import csv

    import numpy as np

    if not run_dir.is_dir():
        raise FileNotFoundError(
            f"run_dir must be a run directory; {str(run_dir)!r} is not a folder"
        )
    p = run_dir / "metrics.json"
    if not p.is_file():
        raise FileNotFoundError(f"run_dir must hold a finished run (metrics.json); got {run_dir}")
    metrics = _json(p)
    if not isinstance(metrics, dict):
        raise ValueError(f"{p} must hold a JSON object; got {type(metrics).__name__}")
    for key, kind in _METRIC_SECTIONS.items():
        if not isinstance(metrics.get(key), kind):
            raise ValueError(f"{p} must have a string {key!r}; got {metrics.get(key)!r}")
    for key in _METRIC_TABLES:
        if not isinstance(metrics.get(key), dict):
            raise ValueError(f"{p} must have an object {key!r}; got {metrics.get(key)!r}")
    p = run_dir / "history.jsonl"
    if p.is_file():
        for i, line in enumerate(p.read_bytes().splitlines(), 1):
            try:
                row = json.loads(line) if line.strip() else {}
            except (UnicodeDecodeError, json.JSONDecodeError):
                row = None
            if not isinstance(row, dict) or (row and not {"epoch", "train_loss"} <= set(row)):
                raise ValueError(f"{p}:{i} must be a JSON row with epoch and train_loss")
    p = run_dir / "transitions.json"
    if p.is_file():
        mats = _json(p)
        if not isinstance(mats, dict) or not all(isinstance(m, list) for m in mats.values()):
            raise ValueError(f"{p} must map names to matrices (lists of rows)")
    p = run_dir / "dynamics.npz"
    if p.is_file():
        try:
            with np.load(p, allow_pickle=False) as z:
                loss, corrupted = np.asarray(z["loss"]), np.asarray(z["is_corrupted"])
        except Exception as e:  # not a zip, a pickled array, a missing member
            why = " ".join(str(e).split())[:200]
            raise ValueError(f"{p} must be the dynamics written by labelnoise train; {why}") from e
        if loss.ndim != 2 or corrupted.ndim != 1:
            raise ValueError(
                f"{p} must hold loss (epochs, N) and is_corrupted (N,); got shapes "
                f"{loss.shape} and {corrupted.shape}"
            )
    p = run_dir / "label_issues.csv"
    if p.is_file():
        row_no = 1
        try:
            with p.open(encoding="utf-8", newline="") as f:
                reader = csv.DictReader(f)
                for r in reader:
                    row_no = reader.line_num
                    if "is_corrupted" in r:
                        int(r["is_corrupted"])
                        float(r["label_quality"])
        except (UnicodeDecodeError, csv.Error, KeyError, TypeError, ValueError) as e:
            raise ValueError(
                f"{p}:{row_no} must be a row of the label_issues.csv written by labelnoise train"
            ) from e
