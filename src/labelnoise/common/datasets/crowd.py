"""Readers for crowdsourced answers and gold labels in their published layouts.

Answer files (the layout is detected from the header line):

* Zheng et al. (PVLDB 2017) ``answer.csv``: ``question,worker,answer``;
* Snow et al. (EMNLP 2008) ``*.standardized.tsv``:
  ``!amt_annotation_ids  !amt_worker_ids  orig_id  response  gold`` (tab-separated; the item's
  gold label repeated on each row);
* crowd-kit's long table: ``task,worker,label``.

Truth files: Zheng's ``question,truth``, crowd-kit's ``task,true_label`` (or ``task,label``),
or a Snow TSV (its ``gold`` column). Ids are kept as strings. Labels become ``int`` when all
are integers, ``float`` when all are numbers, strings otherwise. Every malformed row raises a
``ValueError`` naming the file and its line number.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "CROWD_SETS",
    "DUPLICATES",
    "CrowdAnswers",
    "load_crowd",
    "read_answers",
    "read_truth",
]

#: The crowd sets of ``$LABELNOISE_DATA/crowd`` (see the data README); emotion is numeric.
CROWD_SETS: tuple[str, ...] = ("product", "dog", "face", "rte", "emotion")

_ANSWER_LAYOUTS: dict[str, tuple[str, str, str]] = {
    "zheng": ("question", "worker", "answer"),
    "snow": ("orig_id", "!amt_worker_ids", "response"),
    "crowdkit": ("task", "worker", "label"),
}
_TRUTH_LAYOUTS: dict[str, tuple[str, str]] = {
    "zheng": ("question", "truth"),
    "snow": ("orig_id", "gold"),
    "crowdkit": ("task", "true_label"),
    "crowdkit-label": ("task", "label"),
}
_MISSING = {"", "nan", "na", "n/a", "null", "none"}


@dataclass(frozen=True)
class CrowdAnswers:
    """Answers read from a file.

    Attributes:
        answers: long table with crowd-kit's ``task, worker, label`` columns.
        layout: ``"zheng"``, ``"snow"`` or ``"crowdkit"``.
        truth: gold labels embedded in the file (Snow's ``gold``), indexed by item id, or None.
        lines: ``(n,)`` line number of each answer row in the file.
    """

    answers: pd.DataFrame
    layout: str
    truth: pd.Series | None
    lines: np.ndarray


def _read_table(path: Path, what: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and ``(line number, fields)`` of every non-blank row; tab- or comma-separated."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} file must exist; got {str(path)!r}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            first = f.readline()
            f.seek(0)
            reader = csv.reader(f, delimiter="\t" if "\t" in first else ",")
            header = [h.strip() for h in next(reader, [])]
            rows = []
            for row in reader:
                if any(cell.strip() for cell in row):
                    if len(row) != len(header):
                        raise ValueError(
                            f"{path}:{reader.line_num}: expected {len(header)} fields as in the "
                            f"header; got {len(row)}"
                        )
                    rows.append((reader.line_num, row))
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{path}: {what} must be a UTF-8 text file (CSV or TSV); got a byte that is not "
            f"UTF-8 at offset {e.start} (a binary or differently encoded file?)"
        ) from None
    except csv.Error as e:  # a NUL byte, an unterminated quote, an oversized field
        raise ValueError(f"{path}: {what} must be a CSV or TSV text file; got {e}") from None
    if not rows:
        raise ValueError(f"{path}: {what} must not be empty; got a header and no rows")
    return header, rows


def _layout(path: Path, header: list[str], layouts: Mapping[str, tuple[str, ...]]) -> str:
    for name, cols in layouts.items():
        if all(c in header for c in cols):
            return name
    wanted = " | ".join(",".join(c) for c in layouts.values())
    raise ValueError(f"{path}: header must have the columns {wanted}; got {header}")


def _parse_labels(path: Path, values: list[str], lines: list[int], what: str) -> np.ndarray:
    """Strings -> int, float or str array; missing values raise with their line number."""
    for v, line in zip(values, lines, strict=True):
        if v.strip().lower() in _MISSING:
            raise ValueError(f"{path}:{line}: {what} must not be missing (NaN); got {v!r}")
    try:
        nums = np.array([float(v) for v in values])
    except ValueError:
        return np.array([v.strip() for v in values], dtype=object)
    bad = ~np.isfinite(nums)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{path}:{lines[i]}: {what} must be finite; got {values[i]!r}")
    if np.array_equal(nums, np.round(nums)):
        return nums.astype(np.int64)
    return nums


#: How :func:`read_answers` treats repeated (item, worker) rows.
DUPLICATES: tuple[str, ...] = ("error", "first", "last")


def read_answers(path: str | os.PathLike, *, duplicates: str = "error") -> CrowdAnswers:
    """Read an answer file in any of the module's layouts.

    Args:
        path: the answer file.
        duplicates: a worker answering the same item on several rows: ``"error"`` (default)
            refuses the file naming the first repeated row, ``"first"`` / ``"last"`` keep that
            row's answer and drop the others (counting them all would let one worker outvote
            several).

    Raises:
        FileNotFoundError: no such file.
        ValueError: unknown header; a row with the wrong number of fields, an empty item or
            worker, a missing (NaN) answer, an item row without answers, conflicting Snow
            gold labels, or no answer rows -- each naming ``path:line``.
    """
    path = Path(path)
    if duplicates not in DUPLICATES:
        raise ValueError(f"duplicates must be one of {DUPLICATES}; got {duplicates!r}")
    header, rows = _read_table(path, "answers")
    layout = _layout(path, header, _ANSWER_LAYOUTS)
    cols = [header.index(c) for c in _ANSWER_LAYOUTS[layout]]
    gold_col = header.index("gold") if layout == "snow" and "gold" in header else None
    items, workers, labels, golds, lines = [], [], [], [], []
    for line, row in rows:
        item, worker, label = (row[c].strip() for c in cols)
        if not item:
            raise ValueError(f"{path}:{line}: item id must not be empty; got {row}")
        if not worker and label.lower() in _MISSING:
            raise ValueError(
                f"{path}:{line}: every item needs at least one answer; got item {item!r} "
                "with no worker and no answer"
            )
        if not worker:
            raise ValueError(f"{path}:{line}: worker id must not be empty; got {row}")
        items.append(item)
        workers.append(worker)
        labels.append(label)
        lines.append(line)
        if gold_col is not None:
            golds.append(row[gold_col].strip())
    label_arr = _parse_labels(path, labels, lines, "answer")
    df = pd.DataFrame({"task": items, "worker": workers, "label": label_arr})
    dup = df.duplicated(["task", "worker"], keep="first").to_numpy()
    if dup.any() and duplicates == "error":
        first = int(dup.argmax())
        raise ValueError(
            f"{path}:{lines[first]}: each worker must answer an item once; got worker "
            f"{workers[first]!r} again on item {items[first]!r} ({int(dup.sum())} repeated "
            "(item, worker) rows; keep one answer per pair, or choose one with "
            "duplicates='first'|'last', on the command line --duplicates first|keep-last)"
        )
    kept_lines = np.asarray(lines)
    if dup.any():
        keep = ~df.duplicated(
            ["task", "worker"], keep="first" if duplicates == "first" else "last"
        ).to_numpy()
        df = df[keep].reset_index(drop=True)
        kept_lines = kept_lines[keep]
    truth = None
    if gold_col is not None:
        gold = pd.Series(_parse_labels(path, golds, lines, "gold"), index=items)
        per_item = gold.groupby(level=0).nunique()
        if (per_item > 1).any():
            bad = per_item.index[per_item > 1][0]
            line = lines[items.index(bad)]
            raise ValueError(
                f"{path}:{line}: gold must be the same on every row of an item; item {bad!r} "
                f"has {int(per_item[bad])} different values"
            )
        truth = gold[~gold.index.duplicated()].rename("truth")
        truth.index.name = "task"
    return CrowdAnswers(df, layout, truth, kept_lines)


def read_truth(path: str | os.PathLike, *, items: pd.Index | None = None) -> pd.Series:
    """Read gold labels (item id -> label) from a truth file.

    Args:
        path: ``question,truth`` / ``task,true_label`` / ``task,label`` CSV, or a Snow TSV.
        items: the answered item ids; a truth item not among them raises.

    Raises:
        ValueError: unknown header, a malformed row, a missing label, an item listed twice
            with different labels, or (with ``items``) an unknown item -- naming ``path:line``.
    """
    path = Path(path)
    header, rows = _read_table(path, "truth")
    layout = _layout(path, header, _TRUTH_LAYOUTS)
    ci, cl = (header.index(c) for c in _TRUTH_LAYOUTS[layout])
    ids, labels, lines = [], [], []
    for line, row in rows:
        if not row[ci].strip():
            raise ValueError(f"{path}:{line}: item id must not be empty; got {row}")
        ids.append(row[ci].strip())
        labels.append(row[cl].strip())
        lines.append(line)
    known = None if items is None else set(map(str, items))
    seen: dict[str, str] = {}
    for item, label, line in zip(ids, labels, lines, strict=True):
        if known is not None and item not in known:
            raise ValueError(
                f"{path}:{line}: truth items must appear in the answers; got unknown item {item!r}"
            )
        if seen.setdefault(item, label) != label:
            raise ValueError(
                f"{path}:{line}: item {item!r} has two different truth labels "
                f"({seen[item]!r} and {label!r})"
            )
    truth = pd.Series(_parse_labels(path, labels, lines, "truth"), index=ids, name="truth")
    truth = truth[~truth.index.duplicated()]
    truth.index.name = "task"
    return truth


def load_crowd(data_dir: str | os.PathLike, name: str) -> tuple[pd.DataFrame, pd.Series]:
    """One of :data:`CROWD_SETS` from ``data_dir/crowd/<name>``: (answers table, gold Series).

    ``data_dir`` is the real-data root (``$LABELNOISE_DATA``); the answers have crowd-kit's
    ``task, worker, label`` columns and the gold is indexed by item id.
    """
    if name not in CROWD_SETS:
        raise ValueError(f"name must be one of {CROWD_SETS}; got {name!r}")
    root = Path(data_dir) / "crowd" / name
    if name == "rte":
        path = root / "rte.standardized.tsv"
        read = read_answers(path)
        if read.truth is None:
            raise ValueError(f"{path} must carry Snow's gold column; got none")
        return read.answers, read.truth
    read = read_answers(root / "answer.csv")
    return read.answers, read_truth(root / "truth.csv", items=pd.Index(read.answers["task"]))
