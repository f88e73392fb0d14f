"""``ner_relabel``: confident token relabelling for NER from a given epoch on.

After every epoch ``e`` (1-based) with ``relabel_from <= e < train.epochs``, network 0
predicts the training words (eval mode) and :func:`labelnoise.tasks.ner.relabel.relabel_tokens`
relabels the *original* noisy labels (so corrections never compound): a word labelled ``y``
whose predicted class ``k != y`` has ``p_k >= max(t_k, min_confidence)`` takes ``k``
(confident-learning thresholds ``t``, Northcutt et al., JAIR 2021; between epochs this is
self-training on confident tokens, BOND, Liang et al., KDD 2020), and the sentence is repaired
to valid IOB2. Then every word still labelled ``O`` (``ignore_scope: O``; ``all``: any word)
whose predicted probability of its label is below ``ignore_o_below`` leaves the loss as a
possibly unlabelled entity (the unlabelled-entity problem of partial annotation, Li, Ding &
Liu, ICLR 2021). The next epochs train on these labels; the step is
:mod:`~labelnoise.methods.standard`'s (combine with any core loss, e.g. ``loss: {name: elr}``).
The task's own training split is untouched.

Outputs: ``ner_relabel.json`` (per relabelling epoch: relabelled and ignored words). The
current labels are in every checkpoint (exact resume). One process only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from labelnoise._io import atomic_write
from labelnoise.common.units import IGNORE_INDEX
from labelnoise.methods.standard import Standard
from labelnoise.tasks.base import num_items

__all__ = ["NerRelabel", "NerRelabelOptions"]


@dataclass
class NerRelabelOptions:
    """``method: {name: ner_relabel, ...}`` options.

    Attributes:
        relabel_from: first epoch (1-based, ``>= 1``) after which the labels are corrected
            (default 2).
        min_confidence: floor of every class threshold, in ``[0, 1]`` (default 0.5).
        ignore_o_below: words whose predicted probability of their (corrected) label is below
            this leave the loss, in ``[0, 1]`` (default 0.5; 0 ignores nothing).
        ignore_scope: ``O`` (only words labelled ``O``; default) or ``all``.
    """

    relabel_from: int = 2
    min_confidence: float = 0.5
    ignore_o_below: float = 0.5
    ignore_scope: Literal["O", "all"] = "O"

    def __post_init__(self) -> None:
        if self.relabel_from < 1:
            raise ValueError(f"method.relabel_from must be >= 1; got {self.relabel_from!r}")
        for k in ("min_confidence", "ignore_o_below"):
            if not 0.0 <= getattr(self, k) <= 1.0:
                raise ValueError(f"method.{k} must be in [0, 1]; got {getattr(self, k)!r}")


class NerRelabel(Standard):
    """The standard step on labels relabelled at the end of each epoch (module docstring)."""

    name = "ner_relabel"
    Options = NerRelabelOptions
    tasks = frozenset({"ner"})
    single_process = True

    def train_dataset(self, train: Dataset) -> Dataset:
        from labelnoise.tasks.ner.words import Retargeted, sentence_ids, word_targets

        self.train = train
        self.groups = sentence_ids(train)
        self.original = word_targets(train)
        self.log: list[dict[str, int]] = []
        self.relabeled = Retargeted(train, [t.clone() for t in self.original])
        return self.relabeled

    def on_epoch_end(self, epoch: int) -> None:
        from labelnoise.engine.collect import evaluate_units
        from labelnoise.engine.data import eval_loader
        from labelnoise.tasks.ner.relabel import relabel_tokens
        from labelnoise.tasks.ner.words import sentence_probs

        run, opts, e = self.run, self.options, epoch + 1
        if not opts.relabel_from <= e < run.cfg.train.epochs:
            return
        loader = eval_loader(self.train, run.adapter, batch_size=run.cfg.data.eval_batch_size)
        units = evaluate_units(
            run.adapter, self.nets[0].model, loader, run.accelerator, shrink=False
        )
        _, probs = sentence_probs(units, num_items(self.train))  # per item
        # whole sentences (word items: their sentence's), words in order
        order = np.argsort(self.groups, kind="stable")
        sizes = [len(self.original[i]) for i in order]
        flat_p = np.concatenate([probs[i] for i in order])
        flat_y = torch.cat([self.original[i] for i in order]).numpy()
        words = np.bincount(self.groups, weights=[len(t) for t in self.original]).astype(int)
        cuts = np.cumsum(words)[:-1]
        names = run.splits.class_names
        assert names is not None  # the NER task always names its tags
        tags = [[names[j] for j in s] for s in np.split(flat_y, cuts)]
        new, changed = relabel_tokens(
            tags, np.split(flat_p, cuts), names, min_confidence=opts.min_confidence
        )
        index = {n: i for i, n in enumerate(names)}
        y = np.array([index[t] for s in new for t in s], dtype=np.int64)
        low = flat_p[np.arange(len(y)), y] < opts.ignore_o_below
        drop = low & (y == index["O"]) if opts.ignore_scope == "O" else low
        flat = np.where(drop, IGNORE_INDEX, y)
        targets: list = [None] * num_items(self.train)
        for i, piece in zip(order, np.split(flat, np.cumsum(sizes)[:-1]), strict=True):
            targets[i] = torch.from_numpy(piece)
        self.relabeled.targets = targets
        self.log.append({"epoch": e, "relabelled_words": changed, "ignored_words": int(drop.sum())})

    def after_training(self) -> None:
        if self.run.accelerator.is_main_process:
            with atomic_write(self.run.run_dir / "ner_relabel.json") as f:
                json.dump({"epochs": self.log}, f)

    def state_dict(self) -> dict[str, Any]:
        return {
            "targets": torch.cat(self.relabeled.targets),
            "lengths": torch.tensor([len(t) for t in self.relabeled.targets]),
            "log": self.log,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.relabeled.targets = list(torch.split(state["targets"], state["lengths"].tolist()))
        self.log = list(state["log"])
