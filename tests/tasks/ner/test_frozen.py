"""The frozen-feature cache: a second build reads the file instead of running the encoder; a
changed model or changed sentences get a new key (and are encoded again)."""

from __future__ import annotations

import pytest
import torch

import labelnoise.tasks.ner.adapter as adapter_mod
from labelnoise.tasks.ner.adapter import NERAdapter, NERConfig
from labelnoise.tasks.ner.frozen import NERFeatures, feature_key
from tests.tasks.ner.tiny import make_tiny_bert, write_conll


def _build(model, data, cache):
    cfg = NERConfig(dataset="conll03", model=model, frozen=True, feature_cache=str(cache))
    splits = NERAdapter(cfg).build_datasets(data, seed=0)
    return splits, splits.info["feature_cache"]


@pytest.fixture()
def count_encodes(monkeypatch):
    calls = []
    original = adapter_mod.encode_features

    def counted(*args, **kwargs):
        calls.append(len(args[1]))
        return original(*args, **kwargs)

    monkeypatch.setattr(adapter_mod, "encode_features", counted)
    return calls


def test_second_build_reads_the_cache(tmp_path, count_encodes):
    model = make_tiny_bert(tmp_path / "m")
    data = write_conll(tmp_path / "d")
    a, first = _build(model, data, tmp_path / "c")
    assert first == {"train": "encoded", "val": "encoded", "test": "encoded"}
    assert len(count_encodes) == 3 and len(list((tmp_path / "c").glob("ner-*.pt"))) == 3
    b, second = _build(model, data, tmp_path / "c")
    assert second == {"train": "hit", "val": "hit", "test": "hit"} and len(count_encodes) == 3
    assert isinstance(b.train, NERFeatures)
    assert torch.equal(a.train.features, b.train.features)
    assert [a.train[i]["target"].tolist() for i in range(len(a.train))] == [
        b.train[i]["target"].tolist() for i in range(len(b.train))
    ]


def test_changed_model_or_data_is_encoded_again(tmp_path, count_encodes):
    model = make_tiny_bert(tmp_path / "m")
    data = write_conll(tmp_path / "d")
    base, _ = _build(model, data, tmp_path / "c")
    # another model (other weights): every split again, other features
    other, info = _build(make_tiny_bert(tmp_path / "m2", seed=1), data, tmp_path / "c")
    assert info == {"train": "encoded", "val": "encoded", "test": "encoded"}
    assert not torch.equal(base.train.features, other.train.features)
    # the same folder rewritten with new weights is another model too
    make_tiny_bert(tmp_path / "m", seed=2)
    assert set(_build(model, data, tmp_path / "c")[1].values()) == {"encoded"}
    # other test sentences: only the test split is encoded again
    test = data / "ner" / "conll03" / "test.txt"
    test.write_text(test.read_text().replace("visited", "saw"))
    assert _build(model, data, tmp_path / "c")[1] == {
        "train": "hit",
        "val": "hit",
        "test": "encoded",
    }


def test_key_depends_on_layers_length_and_words(tmp_path):
    model = make_tiny_bert(tmp_path / "m")
    sents = [["a", "b"], ["c"]]
    base = feature_key(model, sents, max_length=32, layers=[-1, -2])
    assert base == feature_key(model, [list(s) for s in sents], max_length=32, layers=[-1, -2])
    for other in (
        feature_key(model, sents, max_length=32, layers=[-1]),
        feature_key(model, sents, max_length=16, layers=[-1, -2]),
        feature_key(model, [["a"], ["b", "c"]], max_length=32, layers=[-1, -2]),
        feature_key("bert-base-cased", sents, max_length=32, layers=[-1, -2]),
    ):
        assert other != base


def test_bad_head_options_name_the_key():
    with pytest.raises(ValueError, match=r"task.head_dropout must be in \[0, 1\); got 1.0"):
        NERConfig(head_dropout=1.0)
    with pytest.raises(ValueError, match=r"task.feature_layers must name at least one layer"):
        NERConfig(feature_layers=[])


def test_word_items_are_the_words_with_their_sentence(tmp_path):
    model = make_tiny_bert(tmp_path / "m")
    data = write_conll(tmp_path / "d")
    sents, _ = _build(model, data, tmp_path / "c")
    cfg = NERConfig(
        dataset="conll03",
        model=model,
        frozen=True,
        feature_cache=str(tmp_path / "c"),
        train_items="words",
    )
    words = NERAdapter(cfg).build_datasets(data, seed=0)
    assert len(words.train) == sum(sents.train.lengths) and len(words.test) == len(sents.test)
    s, w = 3, sents.train.starts[3] + 1  # the 2nd word of sentence 3
    item = words.train[w]
    assert item["sentence"] == s and item["example_id"] == w and item["word_start"] == w
    assert torch.equal(item["features"], sents.train[s]["features"][1:2])
    assert torch.equal(item["target"], sents.train[s]["target"][1:2])
    with pytest.raises(ValueError, match=r"task.train_items 'words' needs task.frozen: true"):
        NERConfig(train_items="words")
