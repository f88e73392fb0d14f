"""NoiseBench unmasking with CoNLL-03 train and CleanCoNLL's token patch (data README)."""

from __future__ import annotations

import csv

import pytest

from labelnoise.tasks.ner.noisebench import NOISE_FILES, apply_normal_diff, load_noisebench
from tests.conftest import require_data


def test_apply_normal_diff_matches_diff_semantics():
    old = ["a", "b", "", "c", "d"]
    patch = "3d2\n< \n4c3,5\n< c\n---\n> x\n> -\n> y\n5a7\n> e\n"
    new, src = apply_normal_diff(old, patch)
    assert new == ["a", "b", "x", "-", "y", "d", "e"]
    assert src == [0, 1, None, None, None, 4, None]


@pytest.fixture(scope="module")
def nb(data_dir):
    require_data(data_dir / "noisebench" / "index.txt")
    require_data(data_dir / "ner" / "conll03" / "train.txt")
    return load_noisebench(data_dir)


def test_all_sentences_unmasked_and_expert_equals_conll03(nb, data_dir):
    assert len(nb.tokens) == 5885
    assert sum(map(len, nb.tokens)) == 79720
    assert "[TOK]" not in {t for s in nb.tokens for t in s}
    same = sum(a == b for a, b in zip(nb.labels["expert"], nb.conll03_tags))
    assert same == 5884  # the data README: CANADIAN OPEN is B-MISC B-MISC in noise_expert
    tsv = data_dir / "noisebench" / "noisebench_to_conll03_train.tsv"
    with open(tsv) as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["index_txt"] != "docstart"]
    assert [int(r["conll03_train_line"]) for r in rows] == nb.conll03_line
    assert [int(r["n_tokens"]) for r in rows] == [len(s) for s in nb.tokens]


def test_label_sets_and_split(nb):
    assert set(nb.labels) == set(NOISE_FILES)
    for tags in nb.labels.values():
        assert [len(t) for t in tags] == [len(s) for s in nb.tokens]
    assert (len(nb.select("train")), len(nb.select("dev"))) == (4879, 1006)
    diff = sum(a != b for x, y in zip(nb.labels["crowd"], nb.labels["clean"]) for a, b in zip(x, y))
    assert diff / 79720 == pytest.approx(0.0779, abs=5e-4)  # README: token label error 7.79 %


def test_missing_files_raise(tmp_path):
    with pytest.raises(FileNotFoundError, match="NoiseBench needs"):
        load_noisebench(tmp_path)
