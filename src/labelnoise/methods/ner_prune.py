"""``ner_prune``: confident-learning token pruning for NER, then training on the kept tokens.

Before training, ``folds`` cross-fitting runs give every training word an out-of-sample
probability vector: the sentences are split into ``folds`` random folds (``numpy``
permutation of ``seed``, fold = position mod ``folds``; word items, ``task.train_items:
words``, follow their sentence); run ``k`` trains a fresh model on the other folds and
predicts fold ``k``. The words that confident learning flags
(:func:`labelnoise.tasks.ner.prune.prune_tokens`, cleanlab's ``filter_by``; Northcutt, Jiang
& Chuang, JAIR 2021) get ``ignore_index`` in the training split the loop trains on (the
task's own split is untouched); the step is :mod:`~labelnoise.methods.standard`'s. With
``loss: {name: elr}`` this is the ``prune+ELR`` method of ``benchmarks/ner_noisebench.py``.

The cross-fitting runs are ordinary runs of the engine (:func:`labelnoise.engine.train`), in
``<run_dir>/folds/<k>``: the run's recipe with ``method: {name: ner_prune, fold: k}`` (its
:meth:`NerPrune.train_dataset` then returns the other folds), ``train.epochs: fold_epochs``,
the ``ce`` loss, no selector, the last model, no detection, then ``fold_overrides`` merged on
top (e.g. ``{task: {frozen: true}, optim: {lr: 0.001}}`` to flag with frozen-feature heads
before fine-tuning). They are checkpointed like any run: a resumed ``ner_prune`` run reuses
finished folds and continues an interrupted one. After them the main network is seeded with
``seed`` again, so its initialisation does not depend on the cross-fitting.

Outputs: ``ner_prune.json`` (pruned and total words) and ``ner_prune.pt`` (``lengths (N,)``
words per training item -- all 1 for word items --, out-of-sample ``probs (W, C)`` float64,
``labels (W,)``, ``pruned (W,)`` bool: the words of all training sentences in order;
``torch.load(..., weights_only=True)``). One process only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from labelnoise._io import atomic_write
from labelnoise.common._random import numpy_rng
from labelnoise.common.units import IGNORE_INDEX
from labelnoise.methods.standard import Standard
from labelnoise.tasks.base import num_items

__all__ = ["NerPrune", "NerPruneOptions", "fold_config"]

FilterBy = Literal[
    "prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given"
]


@dataclass
class NerPruneOptions:
    """``method: {name: ner_prune, ...}`` options.

    Attributes:
        folds: cross-fitting folds (``>= 2``; default 4).
        fold_epochs: training epochs of each cross-fitting run (``>= 1``; default 5).
        filter_by: cleanlab's confident-learning rule (default ``both``, the most precise).
        fold_overrides: recipe overrides of the cross-fitting runs (merged last).
        fold: set by ``ner_prune`` for its own cross-fitting runs: train on every fold but
            this one, prune nothing (None: the pruned run).
    """

    folds: int = 4
    fold_epochs: int = 5
    filter_by: FilterBy = "both"
    fold_overrides: dict[str, Any] = field(default_factory=dict)
    fold: int | None = None

    def __post_init__(self) -> None:
        if self.folds < 2:
            raise ValueError(f"method.folds must be >= 2; got {self.folds!r}")
        if self.fold_epochs < 1:
            raise ValueError(f"method.fold_epochs must be >= 1; got {self.fold_epochs!r}")
        if self.fold is not None and not 0 <= self.fold < self.folds:
            raise ValueError(f"method.fold must be in [0, {self.folds}); got {self.fold!r}")
        for k in ("name", "output_dir", "variants", "seed"):
            if k in self.fold_overrides:
                raise ValueError(f"method.fold_overrides must not set {k!r}; got {k!r}")


def fold_config(cfg: Any, k: int) -> Any:
    """The :class:`~labelnoise.config.RunConfig` of cross-fitting run ``k`` of ``cfg``."""
    from labelnoise.config import deep_merge, resolve, to_dict

    opts = NerPruneOptions(**cfg.method.options)
    rec = to_dict(cfg)
    rec.update(
        name=f"{cfg.name}_fold{k}",
        output_dir=str(cfg.run_dir / "folds" / str(k)),
        method={"name": "ner_prune", "folds": opts.folds, "fold": k},
        loss={"name": "ce"},
        selector={"name": "none"},
        variants={},
    )
    rec["train"] |= {
        "epochs": opts.fold_epochs,
        "select_by": "last",
        "eval_every": opts.fold_epochs,
        "early_stopping": None,
        "progress": False,
    }
    rec["detection"] |= {"method": "none"}
    return resolve(deep_merge(rec, opts.fold_overrides))


class NerPrune(Standard):
    """The standard step on the words that cross-fitted confident learning keeps."""

    name = "ner_prune"
    Options = NerPruneOptions
    tasks = frozenset({"ner"})
    single_process = True

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        if cfg.method.options.get("fold") is None:
            try:
                fold_config(cfg, 0)
            except ValueError as e:
                raise ValueError(f"method.fold_overrides gives an invalid fold run: {e}") from e

    def train_dataset(self, train: Dataset) -> Dataset:
        from labelnoise.engine.data import Reindexed
        from labelnoise.tasks.ner.prune import prune_tokens
        from labelnoise.tasks.ner.words import Retargeted, sentence_ids, word_targets

        opts, cfg = self.options, self.run.cfg
        groups = sentence_ids(train)  # folds are drawn over sentences (word items: theirs)
        fold = (numpy_rng(cfg.seed).permutation(int(groups.max()) + 1) % opts.folds)[groups]
        if opts.fold is not None:  # a cross-fitting run: the other folds
            return Reindexed(train, np.flatnonzero(fold != opts.fold).tolist())
        given = word_targets(train)
        probs = self.cross_fit(train, fold)
        if [len(p) for p in probs] != [len(t) for t in given]:
            raise ValueError("method.fold_overrides must keep the training sentences and words")
        names = self.run.splits.class_names
        assert names is not None  # the NER task always names its tags
        tags = [[names[j] for j in t.tolist()] for t in given]
        flags = prune_tokens(tags, probs, names, filter_by=opts.filter_by)
        targets = [torch.where(torch.from_numpy(f), IGNORE_INDEX, t) for t, f in zip(given, flags)]
        self.write(given, probs, flags)
        from accelerate.utils import set_seed

        set_seed(cfg.seed)  # the main network's init does not depend on the fold runs
        return Retargeted(train, targets)

    def cross_fit(self, train: Dataset, fold: np.ndarray) -> list[np.ndarray]:
        """Out-of-sample ``(n_words, C)`` probabilities of every training sentence."""
        from labelnoise.engine.collect import evaluate_units
        from labelnoise.engine.data import Reindexed, eval_loader
        from labelnoise.engine.loop import train as engine_train
        from labelnoise.engine.setup import build_task
        from labelnoise.tasks.ner.words import sentence_probs

        cfg, acc = self.run.cfg, self.run.accelerator
        probs: list[np.ndarray] = [np.empty(0)] * num_items(train)
        for k in range(self.options.folds):
            sub = fold_config(cfg, k)
            engine_train(sub, resume=(sub.run_dir / "config.yaml").is_file())
            task = build_task(sub)  # the fold run's (cached) task
            model = task.adapter.build_model(task.splits)
            best = torch.load(sub.run_dir / "best_model.pt", map_location="cpu", weights_only=True)
            model.load_state_dict(best)
            held = np.flatnonzero(fold == k).tolist()
            loader = eval_loader(
                Reindexed(task.splits.train, held),
                task.adapter,
                batch_size=cfg.data.eval_batch_size,
            )
            units = evaluate_units(task.adapter, model.to(acc.device), loader, acc, shrink=False)
            for i, p in zip(held, sentence_probs(units, len(held))[1], strict=True):
                probs[i] = p
        return probs

    def write(self, given: list, probs: list, flags: list) -> None:
        if not self.run.accelerator.is_main_process:
            return
        pruned = int(sum(int(f.sum()) for f in flags))
        total = int(sum(len(t) for t in given))
        with atomic_write(self.run.run_dir / "ner_prune.json") as f:
            json.dump({"pruned_words": pruned, "words": total, "folds": self.options.folds}, f)
        with atomic_write(self.run.run_dir / "ner_prune.pt", "wb") as f:
            torch.save(
                {
                    "lengths": torch.tensor([len(t) for t in given]),
                    "probs": torch.from_numpy(np.concatenate(probs)),
                    "labels": torch.cat(given),
                    "pruned": torch.from_numpy(np.concatenate(flags)),
                },
                f,
            )
