"""Word-level views of NER training items, shared by the NER methods (``ner_prune``,
``ner_relabel``): the given word labels of every sentence, a training split whose word labels
are replaced (relabelled or ignored) without touching the task's own split, and per-sentence
probabilities from gathered units.

Both item layouts of :mod:`.adapter` are handled: fine-tuning items (``target`` is a sub-word
list, ``words`` marks each word's first sub-word) and frozen-feature items (``target`` is the
``(n_words,)`` word labels, :class:`~labelnoise.tasks.ner.frozen.NERFeatures`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from labelnoise.common.units import Units
from labelnoise.tasks.base import num_items

__all__ = ["Retargeted", "sentence_ids", "sentence_probs", "word_targets"]


def _word_positions(item: dict[str, Any]) -> list[int] | None:
    """Sub-word positions of the words of a fine-tuning item (None for a feature item)."""
    if "features" in item:
        return None
    words = item["words"]
    pos = [k for k, w in enumerate(words) if w >= 0]
    return sorted(pos, key=lambda k: words[k])


def sentence_ids(dataset: Dataset) -> np.ndarray:
    """``(N,)`` each item's sentence: its ``sentence`` key (word items,
    ``task.train_items: words``), else the item itself (``0..N-1``, renumbered densely)."""
    raw = [dataset[i].get("sentence", i) for i in range(num_items(dataset))]
    return np.unique(np.asarray(raw, dtype=np.int64), return_inverse=True)[1].reshape(-1)


def word_targets(dataset: Dataset) -> list[Tensor]:
    """``(S,)`` long tensors ``(n_words,)``: every item's given word labels."""
    out = []
    for i in range(num_items(dataset)):
        item = dataset[i]
        pos = _word_positions(item)
        t = item["target"]
        out.append(torch.as_tensor(t).clone() if pos is None else torch.tensor([t[k] for k in pos]))
    return out


class Retargeted(Dataset):
    """``dataset`` with replaced word labels: ``targets[i]`` ``(n_words,)`` (``-100``: the word
    is left out of the loss). The wrapped dataset is never modified; ``targets`` may be
    reassigned between epochs."""

    def __init__(self, dataset: Dataset, targets: list[Tensor]) -> None:
        if len(targets) != num_items(dataset):
            raise ValueError(
                f"targets must have one tensor per item ({num_items(dataset)}); got {len(targets)}"
            )
        self.dataset, self.targets = dataset, targets

    def __len__(self) -> int:
        return num_items(self.dataset)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = dict(self.dataset[i])
        new = self.targets[i]
        pos = _word_positions(item)
        if pos is None:
            item["target"] = new
        else:
            target = list(item["target"])
            for k, v in zip(pos, new.tolist(), strict=True):
                target[k] = v
            item["target"] = target
        return item


def sentence_probs(units: Units, num_sentences: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per sentence ``(labels (n_words,), probs (n_words, C) float64)`` from gathered word
    units (softmax of ``pred``; words in order within their sentence)."""
    order = torch.argsort(units.example_id, stable=True)
    probs = units.pred[order].double().softmax(1).numpy()
    labels = units.target[order].numpy()
    counts = np.bincount(units.example_id.numpy(), minlength=num_sentences)
    cuts = np.cumsum(counts)[:-1]
    return np.split(labels, cuts), np.split(probs, cuts)
