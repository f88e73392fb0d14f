"""Crowd readers: the three answer layouts, truth files, line-numbered errors, real sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labelnoise.common.datasets.crowd import CROWD_SETS, load_crowd, read_answers, read_truth

SNOW_HEADER = "!amt_annotation_ids\t!amt_worker_ids\torig_id\tresponse\tgold\n"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_zheng_layout_and_truth(tmp_path):
    ans = _write(tmp_path, "answer.csv", "question,worker,answer\n988_1,w1,1\n988_1,w2,0\n7,w1,1\n")
    read = read_answers(ans)
    assert read.layout == "zheng" and read.truth is None
    assert list(read.answers.columns) == ["task", "worker", "label"]
    assert read.answers["task"].tolist() == ["988_1", "988_1", "7"]
    assert read.answers["label"].dtype == np.int64
    assert read.lines.tolist() == [2, 3, 4]
    truth = read_truth(_write(tmp_path, "truth.csv", "question,truth\n988_1,1\n7,0\n"))
    assert truth.to_dict() == {"988_1": 1, "7": 0}


def test_snow_layout_with_embedded_gold(tmp_path):
    text = SNOW_HEADER + "a1\tW1\t12\t1\t1\na2\tW2\t12\t0\t1\na3\tW1\t13\t0\t0\n"
    read = read_answers(_write(tmp_path, "rte.tsv", text))
    assert read.layout == "snow"
    assert read.answers.to_dict("list") == {
        "task": ["12", "12", "13"],
        "worker": ["W1", "W2", "W1"],
        "label": [1, 0, 0],
    }
    assert read.truth.to_dict() == {"12": 1, "13": 0}
    assert read_truth(tmp_path / "rte.tsv").to_dict() == {"12": 1, "13": 0}


def test_crowdkit_layout_string_and_float_labels(tmp_path):
    read = read_answers(_write(tmp_path, "a.csv", "task,worker,label\nt1,w1,cat\nt1,w2,dog\n"))
    assert read.layout == "crowdkit" and read.answers["label"].tolist() == ["cat", "dog"]
    read = read_answers(_write(tmp_path, "b.csv", "task,worker,label\nt1,w1,0.5\nt1,w2,-3\n"))
    assert read.answers["label"].dtype == np.float64
    truth = read_truth(_write(tmp_path, "gt.csv", "task,true_label\nt1,cat\n"))
    assert truth.to_dict() == {"t1": "cat"}


@pytest.mark.parametrize(
    "text,match",
    [
        ("item,annotator,value\n1,a,0\n", "header must have the columns"),
        ("question,worker,answer\n1,a,0\n2,b,0,9\n", r"answer.csv:3: expected 3 fields"),
        ("question,worker,answer\n1,a,0\n2,b,\n", r"answer.csv:3: answer must not be missing"),
        ("question,worker,answer\n1,a,0\n\n2,b,NaN\n", r"answer.csv:4: answer must not be missing"),
        ("question,worker,answer\n1,a,0\n2,,\n", r"answer.csv:3: every item needs at least one"),
        ("question,worker,answer\n1,a,0\n2,,1\n", r"answer.csv:3: worker id must not be empty"),
        ("question,worker,answer\n", "answers must not be empty"),
        ("question,worker,answer\n1,a,inf\n", r"answer.csv:2: answer must be finite"),
    ],
)
def test_malformed_answers_name_the_line(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        read_answers(_write(tmp_path, "answer.csv", text))


def test_snow_conflicting_gold(tmp_path):
    text = SNOW_HEADER + "a1\tW1\t12\t1\t1\na2\tW2\t12\t0\t0\n"
    with pytest.raises(ValueError, match=r"rte.tsv:2: gold must be the same"):
        read_answers(_write(tmp_path, "rte.tsv", text))


def test_truth_errors(tmp_path):
    with pytest.raises(ValueError, match=r"truth.csv:3: truth items must appear.*'9'"):
        read_truth(
            _write(tmp_path, "truth.csv", "question,truth\n1,0\n9,1\n"), items=pd.Index(["1"])
        )
    with pytest.raises(ValueError, match=r"t.csv:3: item '1' has two different truth labels"):
        read_truth(_write(tmp_path, "t.csv", "question,truth\n1,0\n1,1\n"))
    with pytest.raises(ValueError, match=r"u.csv:2: truth must not be missing"):
        read_truth(_write(tmp_path, "u.csv", "question,truth\n1,\n"))
    with pytest.raises(FileNotFoundError, match="truth file must exist"):
        read_truth(tmp_path / "nope.csv")


@pytest.mark.parametrize("name", CROWD_SETS)
def test_real_crowd_sets_match_the_readme(data_dir, name):
    """Counts from the data README (items, workers, answers)."""
    from tests.conftest import require_data

    require_data(data_dir / "crowd" / name)
    answers, truth = load_crowd(data_dir, name)
    expected = {
        "product": (8315, 176, 24945),
        "dog": (807, 109, 8070),
        "face": (584, 27, 5242),
        "rte": (800, 164, 8000),
        "emotion": (700, 38, 7000),
    }[name]
    assert (answers["task"].nunique(), answers["worker"].nunique(), len(answers)) == expected
    assert truth.index.isin(answers["task"]).all() and len(truth) == expected[0]
