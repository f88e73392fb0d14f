"""Frozen-encoder tagging: word features computed once (and cached on disk), a word MLP head
trained on them by the engine (``task: {name: ner, frozen: true}``).

On a shared CPU, fine-tuning even MiniLM-L6 costs seconds per step; computing the encoder's
word features once and training a light head on them makes every noisy-label run take
seconds, so whole benchmark tables fit (the feature-based approach of Devlin et al., 2019,
Sec. 5.3). A word's feature is the encoder's hidden states at its first sub-word, the layers
``task.feature_layers`` (default the last two) concatenated. The head scores each word on its
own (the features are already contextual); its units are the words, as in fine-tuning.

Cache: one file per split, ``<feature_cache>/ner-<sha256>.pt``, keyed by the model (its name,
and for a local folder every file's name, size and modification time), the split's words,
``max_length``, the layers and the format version: a second run with the same model and data
reads the file instead of running the encoder; another model, other sentences or other layers
get another key.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from labelnoise._io import atomic_write

__all__ = [
    "NERFeatures",
    "WordMLPHead",
    "default_cache_dir",
    "encode_features",
    "feature_key",
    "load_or_encode",
]

_FORMAT = 1


def default_cache_dir() -> Path:
    """``$LABELNOISE_CACHE/ner_features``, else ``~/.cache/labelnoise/ner_features``."""
    root = os.environ.get("LABELNOISE_CACHE") or Path.home() / ".cache" / "labelnoise"
    return Path(root).expanduser() / "ner_features"


def feature_key(
    model_path: str, sentences: Sequence[Sequence[str]], *, max_length: int, layers: Sequence[int]
) -> str:
    """SHA-256 of everything the features depend on (see the module docstring)."""
    h = hashlib.sha256()
    model: Any = model_path
    folder = Path(model_path)
    if folder.is_dir():
        model = [
            (p.name, p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.iterdir())
            if p.is_file()
        ]
    head = {"format": _FORMAT, "model": model_path, "files": model, "max_length": max_length}
    h.update(json.dumps(head | {"layers": list(layers)}, sort_keys=True).encode())
    for s in sentences:
        h.update(b"\x00" + "\x01".join(s).encode())
    return h.hexdigest()


@torch.no_grad()
def encode_features(
    encoder: nn.Module,
    encoded: Sequence[tuple[list[int], list[int | None]]],
    *,
    pad_id: int,
    layers: Sequence[int] = (-1, -2),
    batch_size: int = 64,
    device: str | torch.device = "cpu",
) -> tuple[Tensor, Tensor]:
    """Word features of tokenized sentences.

    Args:
        encoder: a ``transformers`` encoder (``output_hidden_states`` supported).
        encoded: per sentence ``(input_ids, word_ids)`` (:func:`.align.encode_words`).
        layers: hidden-state indices concatenated at each word's first sub-word.

    Returns:
        ``(features (W, D * len(layers)) float32, lengths (S,))``: the words of all sentences
        in order, ``lengths[s]`` of them for sentence ``s``.
    """
    encoder.eval().to(device)
    n = len(encoded)
    parts: list[Tensor] = [torch.empty(0)] * n
    order = sorted(range(n), key=lambda i: len(encoded[i][0]))  # little padding
    for s in range(0, n, batch_size):
        idx = order[s : s + batch_size]
        width = max(len(encoded[i][0]) for i in idx)
        ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for r, i in enumerate(idx):
            ids[r, : len(encoded[i][0])] = torch.tensor(encoded[i][0])
            mask[r, : len(encoded[i][0])] = 1
        hs = encoder(
            input_ids=ids.to(device), attention_mask=mask.to(device), output_hidden_states=True
        ).hidden_states
        h = torch.cat([hs[k] for k in layers], dim=-1).float().cpu()
        for r, i in enumerate(idx):
            wids = encoded[i][1]
            first = [
                k for k, w in enumerate(wids) if w is not None and (k == 0 or wids[k - 1] != w)
            ]
            parts[i] = h[r, first]
    lengths = torch.tensor([len(p) for p in parts], dtype=torch.long)
    dim = parts[0].shape[-1] if n else 0
    return (torch.cat(parts) if n else torch.zeros(0, dim)), lengths


def load_or_encode(cache_dir: Path, key: str, encode: Any) -> tuple[Tensor, Tensor, bool]:
    """``(features, lengths, hit)``: the cached file ``cache_dir/ner-<key>.pt`` when present,
    else ``encode()`` (returning ``(features, lengths)``), written there atomically."""
    path = Path(cache_dir) / f"ner-{key}.pt"
    if path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        return saved["features"], saved["lengths"], True
    features, lengths = encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as f:
        torch.save({"features": features, "lengths": lengths}, f)
    return features, lengths, False


class WordMLPHead(nn.Module):
    """``(U, D)`` word features -> ``(U, C)`` logits: dropout, linear, GELU, dropout, linear.

    The features are already contextual (transformer states), so the head scores each word
    on its own; its inputs and outputs are the core's units directly."""

    def __init__(self, dim: int, num_classes: int, *, hidden: int = 256, dropout: float = 0.2):
        super().__init__()
        self.net = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class NERFeatures(Dataset):
    """Sentences as cached word features. Items: ``example_id``, ``features (n, D)``,
    ``target (n,)`` word label ids, ``clean_target (n,)`` where known, and ``word_start`` (the
    sentence's first word's index among all words of the split: per-word ids of stateful
    losses). Word-level ``tokens``, ``tags`` and ``clean_tags`` stay available for reports.

    ``words=True``: one item per word instead (``n = 1``, ``example_id`` = the word's index,
    plus ``sentence``: its sentence's index), so the loop's shuffled batches are random words,
    the protocol of a feature-based word classifier (``task.train_items: words``)."""

    def __init__(
        self,
        tokens: list[list[str]],
        tags: list[list[str]],
        clean_tags: list[list[str]] | None,
        features: Tensor,
        lengths: Tensor,
        class_names: list[str],
        *,
        words: bool = False,
    ) -> None:
        if [len(t) for t in tags] != lengths.tolist():
            raise ValueError("cached features must have one row per word of every sentence")
        self.tokens, self.tags, self.clean_tags = tokens, tags, clean_tags
        self.class_names, self.features = class_names, features
        index = {n: i for i, n in enumerate(class_names)}
        self.starts = (torch.cumsum(lengths, 0) - lengths).tolist()
        self.lengths = lengths.tolist()
        self.target = torch.tensor([index[t] for s in tags for t in s], dtype=torch.long)
        self.clean = (
            None
            if clean_tags is None
            else torch.tensor([index[t] for s in clean_tags for t in s], dtype=torch.long)
        )
        self.words = words
        self.sentence_of = torch.repeat_interleave(torch.arange(len(tags)), lengths).tolist()

    def __len__(self) -> int:
        return len(self.target) if self.words else len(self.tags)

    def __getitem__(self, i: int) -> dict[str, Any]:
        a, n = (i, 1) if self.words else (self.starts[i], self.lengths[i])
        item = {
            "example_id": i,
            "features": self.features[a : a + n],
            "target": self.target[a : a + n],
            "word_start": a,
        }
        if self.words:
            item["sentence"] = self.sentence_of[i]
        if self.clean is not None:
            item["clean_target"] = self.clean[a : a + n]
        return item
