"""Frozen-encoder tagging: word features computed once, a small BiLSTM head trained on them.

On a shared CPU, fine-tuning even MiniLM-L6 costs seconds per step; computing the encoder's
word features once and training a light head on them makes every noisy-label run take
seconds, so whole benchmark tables fit (Peters et al., 2018 / Devlin et al., 2019 report the
feature-based BiLSTM tagger as a strong frozen-encoder baseline). The head's units are words,
so the core and :mod:`.relabel` apply unchanged. Full fine-tuning is
:func:`labelnoise.tasks.ner.training.train_ner`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from labelnoise.common._random import numpy_rng
from labelnoise.common.units import IGNORE_INDEX, flatten_units
from labelnoise.tasks.ner.relabel import relabel_tokens

__all__ = ["BiLSTMHead", "HeadConfig", "encode_features", "fit_head", "predict_head"]


@torch.no_grad()
def encode_features(
    adapter, model: nn.Module, data, *, layers: Sequence[int] = (-1, -2), batch_size: int = 64
) -> list[np.ndarray]:
    """Per-sentence ``(n_words, D * len(layers))`` float32 features: the encoder's hidden
    states at each word's first sub-word, ``layers`` concatenated."""
    model.eval()
    out: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * len(data)
    order = np.argsort([len(it["input_ids"]) for it in data.items], kind="stable")
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size].tolist()
        batch = adapter.collate([data[i] for i in idx])
        hs = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            output_hidden_states=True,
        ).hidden_states
        h = torch.cat([hs[k] for k in layers], dim=-1)
        mask = batch["target"] != IGNORE_INDEX
        for row, i in enumerate(idx):
            out[i] = h[row][mask[row]].float().numpy()
    return out


class BiLSTMHead(nn.Module):
    """``(B, L, D)`` word features -> ``(B, C, L)`` logits: dropout, BiLSTM, linear."""

    def __init__(self, dim: int, num_classes: int, *, hidden: int = 256, dropout: float = 0.3):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(self.drop(x))
        return self.out(self.drop(h)).permute(0, 2, 1)


@dataclass
class HeadConfig:
    """Options of :func:`fit_head`.

    Attributes:
        method: ``ce`` or ``relabel`` (confident token relabelling after each epoch from
            ``relabel_from`` on, always from the original labels).
    """

    method: Literal["ce", "relabel"] = "ce"
    epochs: int = 10
    lr: float = 2e-3
    batch_size: int = 32
    hidden: int = 256
    dropout: float = 0.3
    relabel_from: int = 3
    relabel_min_confidence: float = 0.5
    seed: int = 0
    log: list[dict] = field(default_factory=list)


def _pad(feats: Sequence[np.ndarray], labels: Sequence[Sequence[int]] | None):
    n = max(len(f) for f in feats)
    x = torch.zeros(len(feats), n, feats[0].shape[1])
    y = torch.full((len(feats), n), IGNORE_INDEX, dtype=torch.long)
    for i, f in enumerate(feats):
        x[i, : len(f)] = torch.from_numpy(f)
        if labels is not None:
            y[i, : len(f)] = torch.tensor(labels[i])
    return x, y


@torch.no_grad()
def predict_head(head: nn.Module, feats: Sequence[np.ndarray], *, batch_size: int = 256):
    """Per-sentence ``(n_words, C)`` float64 probabilities."""
    head.eval()
    out = []
    for s in range(0, len(feats), batch_size):
        chunk = feats[s : s + batch_size]
        p = head(_pad(chunk, None)[0]).softmax(1)
        out.extend(p[i, :, : len(f)].T.double().numpy() for i, f in enumerate(chunk))
    return out


def fit_head(
    feats: Sequence[np.ndarray],
    tags: Sequence[Sequence[str]],
    class_names: Sequence[str],
    config: HeadConfig,
) -> BiLSTMHead:
    """Train a :class:`BiLSTMHead` on word features and IOB2 tags; returns it in eval mode."""
    if len(feats) != len(tags):
        raise ValueError(f"tags must have one list per sentence ({len(feats)}); got {len(tags)}")
    torch.manual_seed(config.seed)
    rng = numpy_rng(config.seed)
    index = {n: i for i, n in enumerate(class_names)}
    original = [list(t) for t in tags]
    labels = [[index[t] for t in s] for s in original]
    head = BiLSTMHead(
        feats[0].shape[1], len(class_names), hidden=config.hidden, dropout=config.dropout
    )
    opt = torch.optim.Adam(head.parameters(), lr=config.lr)
    for epoch in range(1, config.epochs + 1):
        head.train()
        order = rng.permutation(len(feats))
        total = 0.0
        for s in range(0, len(order), config.batch_size):
            idx = order[s : s + config.batch_size]
            x, y = _pad([feats[i] for i in idx], [labels[i] for i in idx])
            units = flatten_units(head(x), y, example_id=torch.as_tensor(idx))
            loss = F.cross_entropy(units.pred, units.target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        entry = {"epoch": epoch, "loss": total / len(feats)}
        if config.method == "relabel" and config.relabel_from <= epoch < config.epochs:
            new, changed = relabel_tokens(
                original,
                predict_head(head, feats),
                class_names,
                min_confidence=config.relabel_min_confidence,
            )
            labels = [[index[t] for t in s] for s in new]
            entry["relabelled_tokens"] = changed
        config.log.append(entry)
    head.eval()
    return head
