"""The NER adapter on a tiny random BERT: alignment, units, metrics, bad input, and both modes
(fine-tuning, frozen features + head) trained by the engine."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from labelnoise.common.units import IGNORE_INDEX
from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.tasks.ner.adapter import NERAdapter, NERConfig
from labelnoise.tasks.ner.align import encode_words, first_subword_labels, word_values
from labelnoise.tasks.registry import get_task
from tests.tasks.ner.tiny import make_tiny_bert, recipe, write_conll

TRAIN = (
    "-DOCSTART- -X- -X- O\n\n"
    "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\ncall NN I-NP O\n\n"
    "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\nvisited VBD B-VP O\nBrussels NNP B-NP B-LOC\n\n"
    "Unbelievably NNP B-NP O\nhyperpolarized JJ I-NP O\nWashington NNP B-NP B-LOC\n\n"
)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    """A random 1-layer BERT with MiniLM's word-piece tokenizer (offline, from the package)."""
    return make_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture()
def conll_dir(tmp_path) -> Path:
    d = tmp_path / "ner" / "conll03"
    d.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        (d / f"{split}.txt").write_text(TRAIN)
    return tmp_path


def test_registered():
    assert get_task("ner") is NERAdapter


def test_alignment_round_trips_words_subwords_words(tiny_model):
    adapter = NERAdapter(NERConfig(model=tiny_model))
    sents = [["Unbelievably", "hyperpolarized", "EU"], ["a"], ["\x07", "b"]]
    for sent, (ids, wids) in zip(sents, encode_words(adapter.tokenizer, sents, max_length=32)):
        labels = list(range(len(sent)))
        sub = first_subword_labels(wids, labels)
        assert len(sub) == len(ids) and sub.count(IGNORE_INDEX) == len(ids) - len(sent)
        assert word_values(sub, sub) == labels
    assert len(encode_words(adapter.tokenizer, sents[:1], max_length=32)[0][0]) > 5  # split words


def test_units_are_words_and_metrics(tiny_model, conll_dir):
    adapter = NERAdapter(NERConfig(dataset="conll03", model=tiny_model))
    splits = adapter.build_datasets(conll_dir, seed=0)
    assert splits.class_names == ["O"] + [
        f"{p}-{t}" for t in ("LOC", "MISC", "ORG", "PER") for p in "BI"
    ]
    model = adapter.build_model(splits)
    batch = adapter.collate([splits.train[i] for i in range(len(splits.train))])
    units = adapter.units(model, batch)
    assert units.pred.shape == (11, 9)
    assert units.example_id.tolist() == [0] * 4 + [1] * 4 + [2] * 3
    forced = type(units)(
        torch.nn.functional.one_hot(units.target, 9).float(), units.target, units.example_id
    )
    assert adapter.metrics(forced) == {"entity_f1": 1.0, "token_accuracy": 1.0}


def test_too_long_sentence_is_a_clear_error(tiny_model, conll_dir):
    adapter = NERAdapter(NERConfig(dataset="conll03", model=tiny_model, max_length=5))
    with pytest.raises(ValueError, match=r"sentence 0 must fit the model's maximum of 5 sub-words"):
        adapter.build_datasets(conll_dir, seed=0)


def test_tag_set_mismatch_between_train_and_test(tiny_model, conll_dir):
    (conll_dir / "ner" / "conll03" / "test.txt").write_text("Mars NNP B-NP B-PLANET\n\n")
    adapter = NERAdapter(NERConfig(dataset="conll03", model=tiny_model))
    with pytest.raises(ValueError, match=r"test tags must be among the train tag set.*B-PLANET"):
        adapter.build_datasets(conll_dir, seed=0)


def test_frozen_units_are_the_same_words_with_encoder_features(tiny_model, conll_dir, tmp_path):
    """Frozen mode: the same word units (targets, sentence and word ids) as fine-tuning; each
    word's features are the encoder's last two layers at its first sub-word (recomputed)."""
    from transformers import AutoModel

    tuned = NERAdapter(NERConfig(dataset="conll03", model=tiny_model))
    frozen = NERAdapter(
        NERConfig(
            dataset="conll03", model=tiny_model, frozen=True, feature_cache=str(tmp_path / "c")
        )
    )
    a, b = (x.build_datasets(conll_dir, seed=0) for x in (tuned, frozen))
    n = len(a.train)
    ua = tuned.units(tuned.build_model(a), tuned.collate([a.train[i] for i in range(n)]))
    head = frozen.build_model(b)
    ub = frozen.units(head, frozen.collate([b.train[i] for i in range(n)]))
    assert ub.pred.shape == (11, 9) and frozen.num_unit_ids(n) == 11
    for x, y in ((ua, ub),):
        assert torch.equal(x.target, y.target) and torch.equal(x.example_id, y.example_id)
        assert torch.equal(x.unit_id, y.unit_id) and x.unit_id.tolist() == list(range(11))
    encoder = AutoModel.from_pretrained(tiny_model).eval()
    item = a.train[1]
    with torch.no_grad():
        hs = encoder(input_ids=torch.tensor([item["input_ids"]]), output_hidden_states=True)
    first = [k for k, t in enumerate(item["target"]) if t != IGNORE_INDEX]
    want = torch.cat([hs.hidden_states[-1], hs.hidden_states[-2]], -1)[0, first]
    torch.testing.assert_close(b.train[1]["features"], want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("frozen", [False, True])
def test_both_modes_train_through_the_engine(tiny_model, tmp_path, frozen):
    """One recipe, fine-tuned or frozen: the engine trains it, ELR keeps one slot per word."""
    write_conll(tmp_path / "data")
    rec = recipe(
        tiny_model,
        tmp_path / "data",
        tmp_path / "run",
        task={"frozen": frozen},
        loss={"name": "elr"},
        train={"epochs": 2},
    )
    metrics = train(resolve(rec))
    assert metrics["train"]["epochs"] == 2 and 0.0 <= metrics["test"]["entity_f1"] <= 1.0
    words = sum(
        len(line.split()) > 1 and not line.startswith("-DOCSTART-")
        for line in (tmp_path / "data" / "ner" / "conll03" / "train.txt").read_text().splitlines()
    )
    saved = torch.load(next((tmp_path / "run").rglob("loop_state.pt")), weights_only=False)
    memory = saved["losses"][0]["memory"]  # ELR's target memory: one row per training word
    assert memory.shape == (words, 7) and bool((memory.sum(1) > 0).all())
