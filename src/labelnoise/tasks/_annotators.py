"""Every annotator's label in the classification task: answer slots, a single target, items.

Multi-annotator methods (``crowd_layer``, ``madl``) learn from each annotator's own label;
the other methods train on one target per item. This module turns crowd answers into both:

* :func:`slots`: answers (the ``item, annotator, label`` codes of
  :class:`~labelnoise.common.aggregation.Answers`) -> ``annotations (N, S)`` labels and
  ``annotator_ids (N, S)`` annotator codes, ``S`` the most answers any item has, ``-1`` where
  an item has fewer;
* :func:`aggregate`: the single ``target`` of each item from its answers: majority vote
  (``mv``; ties go to the smallest class, as :class:`~labelnoise.common.aggregation.MajorityVote`)
  or Dawid-Skene (``ds``; Dawid & Skene, 1979, :class:`~labelnoise.common.aggregation.DawidSkene`);
* :func:`cifar10n_answers`: CIFAR-10N's three ``random1..3`` labels with their worker ids;
* :func:`table_answers`: a user's long table ``task, worker, label`` (the aggregation API's
  format; ``.csv``, ``.tsv``, ``.json``, ``.jsonl``, ``.parquet``) matched to the rows of the
  task's data by id;
* :class:`AnnotatedDataset`: a split's dataset whose items also carry ``"annotations"`` and
  ``"annotator_ids"`` (``(S,)`` each; batches ``(B, S)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from labelnoise.common.aggregation import Answers, DawidSkene, MajorityVote, encode_answers

__all__ = ["AnnotatedDataset", "aggregate", "cifar10n_answers", "slots", "table_answers"]

#: How the single target of an item is made from its answers.
TARGETS = ("mv", "ds")


def slots(item: np.ndarray, annotator: np.ndarray, label: np.ndarray, n_items: int):
    """``(annotations, annotator_ids)``, both ``(n_items, S)`` int64: item ``i``'s answers in
    row order, ``-1`` in the unused slots (``S`` = the most answers of one item, at least 1)."""
    item = np.asarray(item, dtype=np.int64)
    counts = np.bincount(item, minlength=n_items)
    s = max(1, int(counts.max()) if len(counts) else 1)
    order = np.argsort(item, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    col = np.arange(len(item)) - starts[item[order]]
    labels = np.full((n_items, s), -1, dtype=np.int64)
    annots = np.full((n_items, s), -1, dtype=np.int64)
    labels[item[order], col] = np.asarray(label, dtype=np.int64)[order]
    annots[item[order], col] = np.asarray(annotator, dtype=np.int64)[order]
    return labels, annots


def aggregate(
    annotations: np.ndarray, annotator_ids: np.ndarray, num_classes: int, how: str
) -> np.ndarray:
    """``(N,)`` int64: one label per row of ``annotations (N, S)`` from its answers
    (``how``: ``mv`` or ``ds``; see the module docstring). Every row needs an answer."""
    if how not in TARGETS:
        raise ValueError(f"task.annotation_target must be one of {list(TARGETS)}; got {how!r}")
    rows, cols = np.nonzero(annotations >= 0)
    if len(np.unique(rows)) != len(annotations):
        raise ValueError("every annotated item needs at least one answer; got items with none")
    agg = MajorityVote() if how == "mv" else DawidSkene(n_iter=100)
    proba = agg.fit_predict_proba(rows, annotator_ids[rows, cols], annotations[rows, cols])
    out = np.zeros((len(annotations), num_classes))
    out[:, np.asarray(proba.columns, dtype=np.int64)] = proba.to_numpy()
    # ties: the smallest class (np.argmax takes the first maximum)
    return out.argmax(1).astype(np.int64)


def cifar10n_answers(data_dir: Path, **load: Any) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """CIFAR-10N's three human labels per image with their workers: ``(d, annotations (n, 3),
    workers (n, 3))``; ``d`` is :func:`~labelnoise.common.datasets.cifar10n.load_arrays` of
    ``random1`` (images, clean labels, test split), ``load`` its keyword arguments
    (``train_size``, ``subset_seed``, ``cache_dir``). Worker ids are the raw ids of
    ``side_info_cifar10N.csv``."""
    from labelnoise.common.datasets.cifar10n import load_arrays

    parts = [load_arrays(data_dir, f"random{k}", **load) for k in (1, 2, 3)]
    labels = np.stack([p["noisy"] for p in parts], axis=1)
    workers = np.stack([p["worker"] for p in parts], axis=1)
    return dict(parts[0]), labels, workers


def encode_slots(labels: np.ndarray, workers: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Raw worker ids ``(N, S)`` (``-1`` / a missing label: no answer) -> annotator codes
    ``0..A-1`` (sorted ids); returns ``(annotations, annotator_ids, A)``."""
    ok = (labels >= 0) & (workers >= 0)
    uniq, codes = np.unique(workers[ok], return_inverse=True)
    ids = np.full(workers.shape, -1, dtype=np.int64)
    ids[ok] = codes
    return np.where(ok, labels, -1).astype(np.int64), ids, len(uniq)


def table_answers(
    path: Path, ids: Sequence[str] | None, n_rows: int, num_classes: int
) -> tuple[np.ndarray, np.ndarray, Answers]:
    """A long answer table matched to the task's rows: ``(annotations (n_rows, S),
    annotator_ids (n_rows, S), answers)``. ``task`` holds the rows' ids (the table's
    ``id_column`` / ImageFolder paths) or, for data without ids, the row numbers
    ``0..n_rows-1``; labels must be class indices in ``[0, num_classes)``."""
    from labelnoise.tasks._hf import _read_file

    if not path.is_file():
        raise FileNotFoundError(f"task.annotations must be an existing file; got {str(path)!r}")
    if path.suffix.lower() in (".csv", ".tsv"):  # ids stay strings ("007" is not 7)
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        df = pd.read_csv(path, sep=sep, dtype={"task": str, "worker": str})
    else:
        df = _read_file(path)
    ans = encode_answers(df)
    classes = ans.categories
    try:
        cls = np.asarray(classes, dtype=np.int64)
    except (TypeError, ValueError):
        raise ValueError(
            f"task.annotations {path.name}: label must be class indices; got {classes[:3]!r}"
        ) from None
    if cls.min() < 0 or cls.max() >= num_classes or not np.array_equal(cls, classes):
        raise ValueError(
            f"task.annotations {path.name}: label must be integers in [0, {num_classes}); "
            f"got {list(classes[:5])}"
        )
    keys = [str(i) for i in ids] if ids is not None else [str(i) for i in range(n_rows)]
    row_of = {k: r for r, k in enumerate(keys)}
    rows = np.array([row_of.get(str(t), -1) for t in ans.items], dtype=np.int64)
    if (rows < 0).any():
        bad = ans.items[int(np.flatnonzero(rows < 0)[0])]
        what = "the data's ids" if ids is not None else f"row numbers 0..{n_rows - 1}"
        raise ValueError(f"task.annotations {path.name}: task {bad!r} is not one of {what}")
    labels, annots = slots(rows[ans.item], ans.annotator, cls[ans.label], n_rows)
    return labels, annots, ans


class AnnotatedDataset(Dataset):
    """``base``'s items plus ``"annotations"`` and ``"annotator_ids"`` (``(S,)`` int64 each,
    ``-1`` = no answer in that slot). ``tensors()`` and ``ids`` follow ``base``."""

    def __init__(self, base: Any, annotations: np.ndarray, annotator_ids: np.ndarray) -> None:
        if len(annotations) != len(base) or annotator_ids.shape != annotations.shape:
            raise ValueError(
                f"annotations and annotator_ids must be ({len(base)}, S); got "
                f"{annotations.shape} and {annotator_ids.shape}"
            )
        self.base = base
        self.annotations = torch.as_tensor(annotations, dtype=torch.long)
        self.annotator_ids = torch.as_tensor(annotator_ids, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.base)

    def __getattr__(self, name: str) -> Any:  # target, clean, ids, index, ... of the base
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = dict(self.base[i])
        item["annotations"] = self.annotations[i]
        item["annotator_ids"] = self.annotator_ids[i]
        return item

    def tensors(self) -> dict[str, torch.Tensor] | None:
        get = getattr(self.base, "tensors", None)
        cols = get() if callable(get) else None
        if cols is None:
            return None
        return {**cols, "annotations": self.annotations, "annotator_ids": self.annotator_ids}


def annotation_info(annotations: np.ndarray, clean: np.ndarray, target: np.ndarray) -> dict:
    """Facts for the run's report: answers per item, annotation and target noise rates."""
    ok = annotations >= 0
    wrong = (annotations != np.asarray(clean)[:, None]) & ok
    return {
        "answers_per_item": float(ok.sum(1).mean()) if len(ok) else 0.0,
        "annotation_noise_rate": float(wrong.sum() / max(ok.sum(), 1)),
        "target_noise_rate": float((np.asarray(target) != np.asarray(clean)).mean()),
    }


def answers_frame(annotations: np.ndarray, annotator_ids: np.ndarray) -> pd.DataFrame:
    """The ``task, worker, label`` long table of slot matrices (row number = task)."""
    rows, cols = np.nonzero(annotations >= 0)
    return pd.DataFrame(
        {"task": rows, "worker": annotator_ids[rows, cols], "label": annotations[rows, cols]}
    )
