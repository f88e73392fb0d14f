"""Frozen-encoder tagging: word features computed once, a small MLP head trained on them.

On a shared CPU, fine-tuning even MiniLM-L6 costs seconds per step; computing the encoder's
word features once and training a light head on them makes every noisy-label run take
seconds, so whole benchmark tables fit (the feature-based approach of Devlin et al., 2019,
Sec. 5.3). The head's units are words, so the core and :mod:`.relabel` apply unchanged. Full fine-tuning is
:func:`labelnoise.tasks.ner.training.train_ner`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import torch
from torch import nn

from labelnoise.common._random import numpy_rng
from labelnoise.common.losses import build_loss
from labelnoise.common.units import IGNORE_INDEX, Units
from labelnoise.tasks.ner.relabel import relabel_tokens

__all__ = [
    "HeadConfig",
    "WordMLPHead",
    "cross_fit_probs",
    "encode_features",
    "fit_head",
    "predict_head",
]


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass
class HeadConfig:
    """Options of :func:`fit_head`.

    Attributes:
        method: ``ce`` or ``relabel``: after each epoch from ``relabel_from`` on, confident
            token relabelling of the original labels (:func:`.relabel.relabel_tokens`), then
            every token still labelled ``O`` whose predicted ``p(O) < ignore_o_below`` is left
            out of the loss as possibly an unlabelled entity (the unlabelled-entity problem of
            partial annotation, Li, Ding & Liu, ICLR 2021); with ``ignore_scope="all"``
            any token whose given (corrected) label has ``p < ignore_o_below``.
        loss / loss_options: any per-unit loss of the core (``labelnoise.common.losses.
            build_loss``; e.g. ``gce`` with ``{"q": 0.7}``); a unit's example is its word.
    """

    method: Literal["ce", "relabel"] = "ce"
    loss: str = "ce"
    loss_options: dict = field(default_factory=dict)
    epochs: int = 10
    lr: float = 1e-3
    weight_decay: float = 0.01
    batch_size: int = 512
    hidden: int = 256
    dropout: float = 0.2
    relabel_from: int = 2
    relabel_min_confidence: float = 0.5
    ignore_o_below: float = 0.5
    ignore_scope: Literal["O", "all"] = "O"
    seed: int = 0
    log: list[dict] = field(default_factory=list)


@torch.no_grad()
def predict_head(head: nn.Module, feats: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per-sentence ``(n_words, C)`` float64 probabilities."""
    head.eval()
    p = head(torch.from_numpy(np.concatenate(feats))).softmax(1).double().numpy()
    return np.split(p, np.cumsum([len(f) for f in feats])[:-1])


def fit_head(
    feats: Sequence[np.ndarray],
    tags: Sequence[Sequence[str]],
    class_names: Sequence[str],
    config: HeadConfig,
    *,
    ignore: Sequence[np.ndarray] | None = None,
) -> WordMLPHead:
    """Train a :class:`WordMLPHead` on word features and IOB2 tags; returns it in eval mode.

    ``ignore``: optional ``(S,)`` bool arrays ``(n_words,)``; true words are left out of the
    loss (e.g. the tokens flagged by :func:`labelnoise.tasks.ner.prune.prune_tokens`).
    """
    if len(feats) != len(tags):
        raise ValueError(f"tags must have one list per sentence ({len(feats)}); got {len(tags)}")
    if ignore is not None and [len(m) for m in ignore] != [len(t) for t in tags]:
        raise ValueError("ignore must have one (n_words,) mask per sentence of tags")
    torch.manual_seed(config.seed)
    rng = numpy_rng(config.seed)
    index = {n: i for i, n in enumerate(class_names)}
    original = [list(t) for t in tags]
    x = torch.from_numpy(np.concatenate(feats))
    eid = torch.repeat_interleave(torch.arange(len(feats)), torch.tensor([len(f) for f in feats]))
    y = torch.tensor([index[t] for s in original for t in s])
    keep = (
        torch.ones(len(y))
        if ignore is None
        else torch.from_numpy(~np.concatenate([np.asarray(m, bool) for m in ignore])).float()
    )
    w = keep.clone()
    head = WordMLPHead(x.shape[1], len(class_names), hidden=config.hidden, dropout=config.dropout)
    opt = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = build_loss(
        config.loss, num_classes=len(class_names), num_examples=len(y), **config.loss_options
    )
    for epoch in range(1, config.epochs + 1):
        head.train()
        order = torch.from_numpy(rng.permutation(len(y)))
        total = 0.0
        for s in range(0, len(order), config.batch_size):
            idx = order[s : s + config.batch_size]
            units = Units(head(x[idx]), y[idx], eid[idx])
            unit_loss = loss_fn(units.pred, units.target, example_id=idx)
            loss = (unit_loss * w[idx]).sum() / w[idx].sum().clamp_min(1.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        entry = {"epoch": epoch, "loss": total / len(y)}
        if config.method == "relabel" and config.relabel_from <= epoch < config.epochs:
            probs = predict_head(head, feats)
            new, changed = relabel_tokens(
                original, probs, class_names, min_confidence=config.relabel_min_confidence
            )
            y = torch.tensor([index[t] for s in new for t in s])
            p_y = torch.from_numpy(np.concatenate(probs)).gather(1, y[:, None])[:, 0]
            scope = (
                y == index["O"]
                if config.ignore_scope == "O"
                else torch.ones_like(y, dtype=torch.bool)
            )
            w = keep * (~(scope & (p_y < config.ignore_o_below))).float()
            entry["relabelled_tokens"] = changed
            entry["ignored_tokens"] = int((w == 0).sum())
        config.log.append(entry)
    head.eval()
    return head


def cross_fit_probs(
    feats: Sequence[np.ndarray],
    tags: Sequence[Sequence[str]],
    class_names: Sequence[str],
    config: HeadConfig,
    *,
    folds: int = 4,
) -> list[np.ndarray]:
    """Out-of-sample ``(n_words, C)`` probabilities of every sentence by K-fold cross-fitting:
    sentences are split into ``folds`` random folds (seeded by ``config.seed``); a head fitted
    on the other folds predicts each one (the input of confident learning)."""
    if not 2 <= folds <= len(feats):
        raise ValueError(f"folds must be in [2, {len(feats)}]; got {folds}")
    fold = numpy_rng(config.seed).permutation(len(feats)) % folds
    probs: list[np.ndarray] = [np.empty(0)] * len(feats)
    for k in range(folds):
        train = np.flatnonzero(fold != k)
        head = fit_head(
            [feats[i] for i in train],
            [tags[i] for i in train],
            class_names,
            replace(config, log=[]),
        )
        held = np.flatnonzero(fold == k)
        for i, p in zip(held, predict_head(head, [feats[i] for i in held]), strict=True):
            probs[i] = p
    return probs
