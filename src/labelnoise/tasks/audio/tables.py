"""Audio-tagging data from a user's table or saved Hugging Face dataset.

``task.dataset`` names a ``.csv`` / ``.tsv`` / ``.json`` / ``.jsonl`` / ``.parquet`` file or a
folder written by ``datasets`` ``save_to_disk`` (a ``Dataset``, or a ``DatasetDict`` whose
``split`` / ``test_split`` are used). Columns (task options):

- ``audio_column`` (default ``audio``): a file path (relative paths are read under the table's
  folder) or a Hugging Face ``Audio`` cell (``{"path": ..., "bytes": ...}``; embedded bytes are
  decoded in memory, else the path is read);
- ``tags_column`` (default ``tags``): the clip's tags as a list of strings, a list of
  ``ClassLabel`` ids (names from the saved dataset's features), or one comma-separated string;
  an empty list / string / missing value is an all-negative clip;
- ``id_column`` (optional): the user's unique id of each clip, joined into
  ``label_issues.csv`` (default: the audio file name).

A ``.csv`` with ``fname`` and ``labels`` columns is the FSDKaggle2019 format instead
(:func:`~labelnoise.tasks.audio.readers.read_tag_csv`). Errors name the option, the file and
the columns present.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from labelnoise.tasks._hf import Table, column, read_splits, row_ids
from labelnoise.tasks.audio.readers import ClipRecord

__all__ = ["is_fsdkaggle_csv", "read_tag_table"]


def is_fsdkaggle_csv(path: Path) -> bool:
    """True for a ``.csv`` whose header has ``fname`` and ``labels`` (FSDKaggle2019)."""
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    try:
        with path.open(newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), [])
    except UnicodeDecodeError:
        return False
    return {"fname", "labels"} <= {h.strip() for h in header}


def _tags(value: Any, names: list[str] | None, where: str) -> tuple[str, ...]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ()
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(",") if t.strip())
    if isinstance(value, (list, tuple, np.ndarray)):
        out = []
        for t in list(value):
            if isinstance(t, (int, np.integer)) and not isinstance(t, bool):
                if names is None or not 0 <= int(t) < len(names):
                    raise ValueError(
                        f"{where}: tag ids must be ClassLabel ids of the saved dataset "
                        f"({0 if names is None else len(names)} names); got {int(t)}"
                    )
                out.append(names[int(t)])
            elif isinstance(t, str) and t.strip():
                out.append(t.strip())
            else:
                raise ValueError(f"{where}: tags must be strings or ClassLabel ids; got {t!r}")
        return tuple(out)
    raise ValueError(
        f"{where}: tags must be a list of strings or a comma-separated string; got "
        f"{type(value).__name__}"
    )


def _audio(value: Any, root: Path, where: str) -> tuple[Path, bytes | None]:
    if isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
        if data:
            return Path(str(path or where)), bytes(data)
        value = path
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"{where}: audio must be a file path or an Audio cell with path / bytes; got "
            f"{type(value).__name__}"
        )
    p = Path(value)
    return (p if p.is_absolute() else root / p), None


def _records(
    table: Table,
    *,
    audio_column: str,
    tags_column: str,
    id_column: str | None,
) -> list[ClipRecord]:
    audio = column(table, audio_column, "audio_column")
    tags = column(table, tags_column, "tags_column")
    ids = row_ids(table, id_column) if id_column is not None else None
    names = table.class_names.get(tags_column)
    records = []
    for i, (a, t) in enumerate(zip(audio, tags, strict=True)):
        where = f"{table.source} row {i}"
        path, data = _audio(a, table.root, f"{where}, task.audio_column {audio_column!r}")
        clip_tags = _tags(t, names, f"{where}, task.tags_column {tags_column!r}")
        uid = ids[i] if ids is not None else path.name
        records.append(ClipRecord(path, clip_tags, uid=uid, data=data))
    return records


def read_tag_table(
    path: Path,
    *,
    audio_column: str = "audio",
    tags_column: str = "tags",
    id_column: str | None = None,
    vocabulary: Sequence[str] | None = None,
    split: str = "train",
    test_split: str = "test",
) -> tuple[list[ClipRecord], list[ClipRecord] | None, list[str]]:
    """``(train records, test records or None, vocabulary)`` from a table (module docstring).

    ``vocabulary``: the allowed tags in tag order; ``None``: the sorted union of the tags seen
    (training and test). A tag outside a given vocabulary is a ``ValueError`` naming it.
    """
    train_t, test_t = read_splits(path, split=split, test_split=test_split)

    def records(t: Table) -> list[ClipRecord]:
        return _records(t, audio_column=audio_column, tags_column=tags_column, id_column=id_column)

    train = records(train_t)
    test = records(test_t) if test_t is not None else None
    if not train:
        raise ValueError(f"task.dataset {path} must hold at least one clip; got 0 rows")
    seen = sorted({t for r in [*train, *(test or [])] for t in r.tags})
    if vocabulary is None:
        vocab = seen
    else:
        vocab = [str(v) for v in vocabulary]
        unknown = sorted(set(seen) - set(vocab))
        if unknown:
            raise ValueError(
                f"task.vocabulary must hold every tag of {path}; got tags outside it: {unknown[:5]}"
            )
    if not vocab:
        raise ValueError(f"task.tags_column {tags_column!r} of {path} holds no tag at all")
    return train, test, vocab
