"""A small NER training loop: cross-entropy or confident token relabelling.

The relabelling loop differs from the generic one (it re-predicts the training set between
epochs), so it lives here beside the adapter (DESIGN.md: "methods whose loop really differs
get their own small loop"). ``method="ce"`` is plain cross-entropy on the given labels;
``method="relabel"`` is :func:`labelnoise.tasks.ner.relabel.relabel_tokens` applied to the
original noisy labels after every epoch from ``relabel_from`` on, after which tokens still
labelled ``O`` with predicted ``p(O) < ignore_o_below`` leave the loss (possibly unlabelled
entities), as in :func:`labelnoise.tasks.ner.frozen.fit_head`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from labelnoise.common._random import numpy_rng
from labelnoise.common.units import IGNORE_INDEX
from labelnoise.tasks.ner.adapter import NERAdapter, NERDataset
from labelnoise.tasks.ner.relabel import relabel_tokens

__all__ = ["TrainConfig", "predict_probs", "train_ner"]


@dataclass
class TrainConfig:
    """Options of :func:`train_ner` (defaults sized for MiniLM-L6 on a CPU).

    Attributes:
        method: ``ce`` or ``relabel``.
        epochs / lr / batch_size / weight_decay / warmup: AdamW with linear warmup and decay.
        relabel_from: first epoch (1-based) after which labels are corrected.
        relabel_min_confidence: floor of the per-class confidence thresholds.
        ignore_o_below: ``O`` tokens with predicted ``p(O)`` below it leave the loss.
        max_steps: stop after this many steps (smoke runs); None = all epochs.
    """

    method: Literal["ce", "relabel"] = "ce"
    epochs: int = 3
    lr: float = 1e-4
    batch_size: int = 32
    weight_decay: float = 0.01
    warmup: float = 0.1
    relabel_from: int = 1
    relabel_min_confidence: float = 0.5
    ignore_o_below: float = 0.5
    max_steps: int | None = None
    seed: int = 0
    log: list[dict] = field(default_factory=list)


def _batches(
    lengths: list[int], batch_size: int, rng: np.random.Generator | None
) -> list[list[int]]:
    """Length-bucketed batches (shuffled when ``rng`` is given), to keep CPU padding low."""
    order = np.argsort(lengths, kind="stable")
    if rng is not None:
        noise = rng.random(len(lengths)) * 4
        order = np.argsort(np.asarray(lengths) + noise, kind="stable")
    batches = [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


@torch.no_grad()
def predict_probs(
    adapter: NERAdapter, model: nn.Module, data: NERDataset, *, batch_size: int = 64
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-sentence word probabilities ``(n_words, C)`` and hidden states ``(n_words, D)``
    (the last layer at each word's first sub-word)."""
    model.eval()
    probs: list[np.ndarray] = [np.empty(0)] * len(data)
    feats: list[np.ndarray] = [np.empty(0)] * len(data)
    for idx in _batches([len(it["input_ids"]) for it in data.items], batch_size, None):
        batch = adapter.collate([data[i] for i in idx])
        out = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            output_hidden_states=True,
        )
        p = out.logits.softmax(-1)
        h = out.hidden_states[-1]
        mask = batch["target"] != IGNORE_INDEX
        for row, i in enumerate(idx):
            probs[i] = p[row][mask[row]].double().numpy()
            feats[i] = h[row][mask[row]].float().numpy()
    return probs, feats


def train_ner(
    adapter: NERAdapter,
    train: NERDataset,
    config: TrainConfig,
    *,
    on_epoch: Callable[[int, nn.Module], None] | None = None,
) -> nn.Module:
    """Fine-tune a fresh model of ``adapter`` on ``train`` and return it (in eval mode)."""
    torch.manual_seed(config.seed)
    rng = numpy_rng(config.seed)
    from labelnoise.tasks.base import DatasetSplits

    model = adapter.build_model(
        DatasetSplits(train, None, None, len(train.class_names), train.class_names)
    )
    lengths = [len(it["input_ids"]) for it in train.items]
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    warm = max(1, int(config.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    original = [list(t) for t in train.tags]
    step = 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        for idx in _batches(lengths, config.batch_size, rng):
            if step >= total:
                break
            batch = adapter.collate([train[i] for i in idx])
            units = adapter.units(model, batch)
            loss = F.cross_entropy(units.pred, units.target)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
        config.log.append({"epoch": epoch, "step": step, "loss": float(loss.detach())})
        if config.method == "relabel" and epoch >= config.relabel_from and epoch < config.epochs:
            probs, _ = predict_probs(adapter, model, train)
            new_tags, changed = relabel_tokens(
                original, probs, train.class_names, min_confidence=config.relabel_min_confidence
            )
            o = train.class_names.index("O")
            ignore = [
                [t == "O" and q[w, o] < config.ignore_o_below for w, t in enumerate(tags)]
                for tags, q in zip(new_tags, probs, strict=True)
            ]
            train.set_tags(new_tags, ignore=ignore)
            config.log[-1]["relabelled_tokens"] = changed
            config.log[-1]["ignored_tokens"] = sum(map(sum, ignore))
        if on_epoch is not None:
            on_epoch(epoch, model)
        if step >= total:
            break
    if config.method == "relabel":
        train.set_tags(original)
    model.eval()
    return model
