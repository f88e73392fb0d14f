"""Arrays of a task from a user's table (:mod:`labelnoise.tasks._hf` reads it): class ids of
a label column, a feature matrix, decoded images, and the classification task's arrays.

Column values understood here:

- labels: ints (``ClassLabel`` ids; ``names`` from the features when present) or strings
  (class names; ids follow the sorted names of the training and test rows);
- features: numeric columns (one value per row) or one column of equal-length number lists;
- images: a Hugging Face ``Image`` value (``{"bytes", "path"}``), raw bytes, or a path
  (relative paths are read under the table's folder).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from labelnoise.tasks._hf import Table, column, read_splits, row_ids

__all__ = [
    "classification_arrays",
    "decode_images",
    "feature_matrix",
    "label_ids",
    "token_tag_lists",
]


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


def token_tag_lists(
    table: Table, tokens_column: str, tags_column: str
) -> tuple[list[list[str]], list[list[str]]]:
    """``(tokens, tags)``: one list of words and one list of tag names per row (NER).

    Tags are names (``B-PER``) or ids of a sequence of ``ClassLabel`` (its names). A row
    whose tags do not match its words in number is an error naming the row."""
    names = table.class_names.get(tags_column)
    tokens, tags = [], []
    words_col = column(table, tokens_column, "tokens_column")
    tags_col = column(table, tags_column, "tags_column")
    for i, (words, row_tags) in enumerate(zip(words_col, tags_col)):
        if isinstance(words, str) or isinstance(row_tags, str):
            raise ValueError(
                f"task.tokens_column / tags_column of {table.source} must hold lists per row; "
                f"got a string at row {i + 1}"
            )
        w, t = [str(v) for v in words], list(row_tags)
        if len(w) != len(t):
            raise ValueError(
                f"task.tags_column {tags_column!r} must hold one tag per word; got {len(t)} tags "
                f"for {len(w)} words at row {i + 1} of {table.source}"
            )
        if t and not isinstance(t[0], str):
            if names is None:
                raise ValueError(
                    f"task.tags_column {tags_column!r} of {table.source} holds tag ids without "
                    "ClassLabel names; save the tags as names (B-PER, I-PER, O, ...)"
                )
            t = [names[int(v)] for v in t]
        tokens.append(w)
        tags.append([str(v) for v in t])
    return tokens, tags
