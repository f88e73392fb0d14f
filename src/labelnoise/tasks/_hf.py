"""Users' own data: tables (CSV / TSV / JSON / JSON Lines / Parquet) and saved Hugging Face
datasets (a ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk`` folder).

A saved Hugging Face dataset is read without the ``datasets`` package: its folder holds Arrow
IPC *stream* files (``state.json`` lists them under ``_data_files``) and ``dataset_info.json``
(the features: a ``ClassLabel`` column's ``names`` become the class names); a ``DatasetDict``
folder holds ``dataset_dict.json`` (``{"splits": [...]}``) and one such folder per split. Only
flat, already materialised datasets are supported (``save_to_disk`` writes them so).
Reading Parquet or Arrow needs ``pyarrow`` (``pip install 'labelnoise[hf]'``).
:mod:`labelnoise.tasks._tables` turns the columns into a task's arrays.

Every error names the option, the column and the file, and lists the columns present.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from labelnoise.tasks.base import TensorDataset

__all__ = [
    "TABLE_SUFFIXES",
    "IdTensorDataset",
    "Table",
    "column",
    "is_table_source",
    "read_splits",
    "read_table",
    "row_ids",
]

#: File endings read as a table.
TABLE_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".parquet", ".pq")
_HF_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")


@dataclass
class Table:
    """One split of a user's data.

    Attributes:
        frame: the rows (``N`` rows, one column per field).
        source: the file or folder it came from (for messages).
        root: folder that relative image paths are read under.
        class_names: ``ClassLabel`` names per column, also of a sequence of ``ClassLabel``
            (saved Hugging Face datasets only).
    """

    frame: pd.DataFrame
    source: str
    root: Path
    class_names: dict[str, list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frame)


class IdTensorDataset(TensorDataset):
    """A :class:`~labelnoise.tasks.base.TensorDataset` whose items carry the user's ids:
    ``ids`` ``(N,)`` strings, in ``example_id`` order (``label_issues.csv`` joins on them)."""

    def __init__(
        self,
        x: torch.Tensor,
        target: torch.Tensor,
        clean: torch.Tensor,
        *,
        ids: Sequence[str],
    ) -> None:
        super().__init__(x, target, clean)
        if len(ids) != int(target.shape[0]):
            raise ValueError(
                f"ids must hold one id per item ({int(target.shape[0])}); got {len(ids)}"
            )
        self.ids = [str(i) for i in ids]


def is_table_source(path: Path) -> bool:
    """True for a table file (:data:`TABLE_SUFFIXES`) or a saved Hugging Face dataset folder."""
    if path.is_dir():
        return any((path / m).is_file() for m in _HF_MARKERS)
    return path.suffix.lower() in TABLE_SUFFIXES


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.ipc  # noqa: F401 (the submodule is used as pyarrow.ipc)
    except ImportError as e:  # pragma: no cover - pyarrow ships with pandas' usual installs
        raise ImportError(
            "reading Parquet files and saved Hugging Face datasets needs pyarrow: "
            "pip install 'labelnoise[hf]'"
        ) from e
    return pyarrow


def _read_file(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        _pyarrow()
        return pd.read_parquet(path)
    if suffix in (".csv", ".tsv"):
        return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    text = path.read_text(encoding="utf-8")
    if suffix == ".json":  # one JSON document (rows, or columns), else JSON Lines
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict):  # {"column": [values]} or {"data": [rows]}
            data = data.get("data", data)
        if isinstance(data, (list, dict)):
            return pd.DataFrame(data)
    return pd.read_json(io.StringIO(text), lines=True)


def _read_saved(path: Path) -> Table:
    """One saved ``Dataset`` folder (``state.json`` + Arrow stream files)."""
    pa = _pyarrow()
    state_file = path / "state.json"
    if not state_file.is_file():
        raise FileNotFoundError(
            f"task.dataset {str(path)!r} must be a saved Hugging Face dataset with state.json "
            f"(Dataset.save_to_disk); got files {sorted(p.name for p in path.iterdir())}"
        )
    state = json.loads(state_file.read_text(encoding="utf-8"))
    files = [path / f["filename"] for f in state.get("_data_files", [])]
    if not files or not all(f.is_file() for f in files):
        raise FileNotFoundError(
            f"{state_file} must list existing Arrow files under _data_files; got "
            f"{[f.name for f in files]}"
        )
    tables = []
    for f in files:
        with pa.memory_map(str(f)) as src:
            tables.append(pa.ipc.open_stream(src).read_all())
    frame = pa.concat_tables(tables).to_pandas()
    names: dict[str, list[str]] = {}
    info_file = path / "dataset_info.json"
    if info_file.is_file():
        features = json.loads(info_file.read_text(encoding="utf-8")).get("features") or {}
        for col, feat in features.items():
            inner = feat.get("feature") if isinstance(feat, dict) else None  # Sequence / List
            for f in (feat, inner):
                if isinstance(f, dict) and f.get("_type") == "ClassLabel" and f.get("names"):
                    names[col] = [str(n) for n in f["names"]]
    return Table(frame, str(path), path, names)


def read_table(path: Path) -> Table:
    """A table file or a saved (single-split) Hugging Face dataset folder."""
    if path.is_dir():
        return _read_saved(path)
    if not path.is_file():
        raise FileNotFoundError(f"task.dataset must be an existing file or folder; got {path}")
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ValueError(
            f"task.dataset must end in one of {', '.join(TABLE_SUFFIXES)}; got {path.name!r}"
        )
    return Table(_read_file(path), str(path), path.parent)


def read_splits(
    path: Path, *, split: str = "train", test_split: str = "test"
) -> tuple[Table, Table | None]:
    """``(train, test or None)``: the ``split`` / ``test_split`` folders of a saved
    ``DatasetDict``, or the one table of a file or ``Dataset`` folder (test None)."""
    dd = path / "dataset_dict.json"
    if not dd.is_file():
        return read_table(path), None
    splits = [str(s) for s in json.loads(dd.read_text(encoding="utf-8")).get("splits", [])]
    if split not in splits:
        raise ValueError(f"task.split {split!r} must be a split of {path}; got splits {splits}")
    train = _read_saved(path / split)
    test = _read_saved(path / test_split) if test_split in splits else None
    return train, test


def column(table: Table, name: str, option: str) -> pd.Series:
    """``table.frame[name]``, or ValueError naming ``option``, the file and the columns."""
    if name not in table.frame.columns:
        raise ValueError(
            f"task.{option} {name!r} must be a column of {table.source}; got columns "
            f"{[str(c) for c in table.frame.columns]}"
        )
    return table.frame[name]


def row_ids(table: Table, id_column: str | None) -> list[str]:
    """The user's id of each row: ``id_column``'s values (must be unique), else the row number
    (0-based, in file order)."""
    if id_column is None:
        return [str(i) for i in range(len(table))]
    s = column(table, id_column, "id_column")
    ids = [str(v) for v in s]
    dup = s[s.duplicated()]
    if len(dup):
        raise ValueError(
            f"task.id_column {id_column!r} must be unique in {table.source}; got {dup.iloc[0]!r} "
            f"{int((s == dup.iloc[0]).sum())} times"
        )
    return ids
