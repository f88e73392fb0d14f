"""CoNLL reader/writer: byte-for-byte round trips, columns, document markers, bad lines."""

from __future__ import annotations

import filecmp

import pytest

from labelnoise.tasks.ner.conll import read_conll, write_conll
from tests.conftest import require_data

SAMPLE = (
    "-DOCSTART- -X- -X- O\n\n"
    "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\n"
    "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n\n"
    "-DOCSTART- -X- -X- O\n\n"
    "BRUSSELS NNP B-NP B-LOC\n\n"
)


@pytest.mark.parametrize(
    "text",
    [SAMPLE, SAMPLE.rstrip("\n"), "\n\n" + SAMPLE + "\n", "a\tO\nb\tB-X\n\t\nc\tO\n"],
    ids=["conll03", "no-final-newline", "extra-blank-lines", "wnut-tab-blank"],
)
def test_round_trip_is_byte_for_byte(tmp_path, text):
    src, dst = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_bytes(text.encode())
    write_conll(read_conll(src), dst)
    assert dst.read_bytes() == text.encode()


def test_blocks_docstart_and_columns(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text(SAMPLE)
    c = read_conll(p)
    assert [b.docstart for b in c.blocks] == [True, False, False, True, False]
    assert c.sentences[1].tokens == ["Peter", "Blackburn"]
    assert c.tags(-1)[0] == ["B-ORG", "O", "B-MISC"]
    assert c.tags(2)[1] == ["B-NP", "I-NP"]


def test_write_replaces_tag_column(tmp_path):
    p, q = tmp_path / "x.txt", tmp_path / "y.txt"
    p.write_text(SAMPLE)
    c = read_conll(p)
    new = [["O"] * len(s.rows) for s in c.sentences]
    write_conll(c, q, tags=new)
    assert read_conll(q).tags(-1) == new
    assert read_conll(q).tags(2) == c.tags(2)


def test_wrong_column_count_names_the_line(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("EU NNP B-NP B-ORG\nrejects VBZ O\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: every line must have 4 columns"):
        read_conll(p)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="path must be an existing CoNLL file"):
        read_conll("/nonexistent/file.conll")


@pytest.mark.parametrize(
    "rel", ["ner/conll03/test.txt", "ner/wnut17/wnut17train.conll", "noisebench/noise_llm.traindev"]
)
def test_real_files_round_trip(data_dir, tmp_path, rel):
    src = require_data(data_dir / rel)
    write_conll(read_conll(src), tmp_path / "out")
    assert filecmp.cmp(src, tmp_path / "out", shallow=False)
