"""Users' own data: tables (CSV / TSV / JSON / JSON Lines / Parquet) and saved Hugging Face
datasets (a ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk`` folder).

A saved Hugging Face dataset is read without the ``datasets`` package: its folder holds Arrow
IPC *stream* files (``state.json`` lists them under ``_data_files``) and ``dataset_info.json``
(the features: a ``ClassLabel`` column's ``names`` become the class names); a ``DatasetDict``
folder holds ``dataset_dict.json`` (``{"splits": [...]}``) and one such folder per split. Only
flat, already materialised datasets are supported (``save_to_disk`` writes them so).
Reading Parquet or Arrow needs ``pyarrow`` (``pip install 'labelnoise[hf]'``).

Column values understood here:

- labels: ints (``ClassLabel`` ids; ``names`` from the features when present) or strings
  (class names; ids follow the sorted names of the training and test rows);
- features: numeric columns (one value per row) or one column of equal-length number lists;
- images: a Hugging Face ``Image`` value (``{"bytes", "path"}``), raw bytes, or a path
  (relative paths are read under the table's folder).

Every error names the option, the column and the file, and lists the columns present.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from labelnoise.tasks.base import TensorDataset

__all__ = [
    "TABLE_SUFFIXES",
    "IdTensorDataset",
    "Table",
    "classification_arrays",
    "column",
    "decode_images",
    "feature_matrix",
    "is_table_source",
    "label_ids",
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
        class_names: ``ClassLabel`` names per column (saved Hugging Face datasets only).
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
            if isinstance(feat, dict) and feat.get("_type") == "ClassLabel" and feat.get("names"):
                names[col] = [str(n) for n in feat["names"]]
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


def label_ids(
    train: Table, test: Table | None, name: str, option: str = "label_column"
) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """``(y (N,), y_test or None, class names or None)`` of the label column ``name``.

    Integer labels keep their ids (names from a ``ClassLabel`` feature); string labels become
    the ids of their sorted names over both splits. Missing or negative labels are an error
    naming the row."""
    parts = [column(train, name, option)] + ([column(test, name, option)] if test else [])
    tables = [train] + ([test] if test else [])
    for s, t in zip(parts, tables):
        missing = np.flatnonzero(s.isna().to_numpy())
        if missing.size:
            raise ValueError(
                f"task.{option} {name!r} must have a label on every row of {t.source}; got "
                f"none at row {int(missing[0]) + 1}"
            )
    values = [s.to_numpy() for s in parts]
    if all(pd.api.types.is_integer_dtype(s.dtype) for s in parts):
        ys = [v.astype(np.int64) for v in values]
        for y, t in zip(ys, tables):
            if y.size and y.min() < 0:
                row = int(np.flatnonzero(y < 0)[0]) + 1
                raise ValueError(
                    f"task.{option} {name!r} must hold class ids >= 0; got {int(y.min())} at row "
                    f"{row} of {t.source}"
                )
        names = train.class_names.get(name)
        return ys[0], (ys[1] if test else None), names
    names = sorted({str(v) for v in np.concatenate(values)})
    index = {n: i for i, n in enumerate(names)}
    ys = [np.array([index[str(v)] for v in vals], dtype=np.int64) for vals in values]
    return ys[0], (ys[1] if test else None), names


def feature_matrix(
    table: Table, names: Sequence[str], option: str = "feature_columns"
) -> np.ndarray:
    """``(N, D)`` float32 from numeric columns, or from one column of number lists."""
    cols = [column(table, n, option) for n in names]
    if not cols:
        raise ValueError(f"task.{option} must name at least one column; got none")
    blocks = []
    for n, s in zip(names, cols):
        first = s.iloc[0] if len(s) else 0.0
        try:
            if isinstance(first, (list, tuple, np.ndarray)):
                blocks.append(np.stack([np.asarray(v, dtype=np.float32) for v in s]))
            else:
                blocks.append(s.to_numpy(dtype=np.float32)[:, None])
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"task.{option} column {n!r} of {table.source} must be numeric (or equal-length "
                f"number lists); got values like {first!r}"
            ) from e
    x = np.concatenate(blocks, axis=1)
    if not np.isfinite(x).all():
        i, j = (int(v[0]) for v in np.nonzero(~np.isfinite(x)))
        raise ValueError(
            f"task.{option} must be finite; got {x[i, j]} at row {i + 1} of {table.source}"
        )
    return x


def decode_images(table: Table, name: str, size: int) -> torch.Tensor:
    """``(N, 3, size, size)`` floats in ``[0, 1]`` from the image column ``name``."""
    from PIL import Image
    from torchvision import transforms

    tf = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor()])
    out = []
    for i, v in enumerate(column(table, name, "image_column")):
        data, rel = (v.get("bytes"), v.get("path")) if isinstance(v, dict) else (None, v)
        if isinstance(v, (bytes, bytearray)):
            data, rel = v, None
        try:
            if data is not None:
                img = Image.open(io.BytesIO(data))
            elif isinstance(rel, str):
                p = Path(rel)
                img = Image.open(p if p.is_absolute() else table.root / p)
            else:
                raise ValueError(f"no image bytes or path: {v!r}"[:200])
            out.append(tf(img.convert("RGB")))
        except (OSError, ValueError) as e:
            raise ValueError(
                f"task.image_column {name!r} row {i + 1} of {table.source} must be an image (bytes "
                f"or a path); {e}"
            ) from e
    return torch.stack(out) if out else torch.zeros(0, 3, size, size)


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


def classification_arrays(
    path: Path,
    *,
    label_column: str = "label",
    feature_columns: Sequence[str] | None = None,
    image_column: str | None = None,
    id_column: str | None = None,
    image_size: int = 32,
    split: str = "train",
    test_split: str = "test",
) -> tuple[
    torch.Tensor,
    torch.Tensor,
    torch.Tensor | None,
    torch.Tensor | None,
    list[str] | None,
    list[str],
]:
    """``(x, y, x_test, y_test, class_names, ids)`` of a table or saved dataset.

    ``x``: ``(N, 3, S, S)`` images when ``image_column`` is set, else ``(N, D)`` features
    (``feature_columns``; default every numeric column but the label and the id). ``ids``
    ``(N,)``: the training rows' ids (:func:`row_ids`). The test arrays are None unless a
    saved ``DatasetDict`` has a ``test_split``."""
    train, test = read_splits(path, split=split, test_split=test_split)
    y, yt, names = label_ids(train, test, label_column)
    ids = row_ids(train, id_column)

    def inputs(t: Table) -> torch.Tensor:
        if image_column is not None:
            return decode_images(t, image_column, image_size)
        cols = feature_columns
        if cols is None:
            skip = {label_column, id_column}
            cols = [
                str(c)
                for c in t.frame.columns
                if c not in skip
                and (
                    pd.api.types.is_numeric_dtype(t.frame[c].dtype)
                    or (len(t) and isinstance(t.frame[c].iloc[0], (list, np.ndarray)))
                )
            ]
            if not cols:
                raise ValueError(
                    f"task.feature_columns: {t.source} has no numeric column besides the label "
                    f"and id; got columns {[str(c) for c in t.frame.columns]} (name the "
                    "feature columns, or an image_column)"
                )
        return torch.from_numpy(feature_matrix(t, cols))

    x = inputs(train)
    xt = inputs(test) if test is not None else None
    return (
        x,
        torch.from_numpy(y),
        xt,
        None if yt is None else torch.from_numpy(yt),
        names,
        ids,
    )
