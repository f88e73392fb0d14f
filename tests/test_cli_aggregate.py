"""``labelnoise aggregate`` end to end: layouts, outputs, metrics, and bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from labelnoise.cli import main
from labelnoise.common.aggregation import DawidSkene
from tests.common.aggregation._synthetic import make_crowd


@pytest.fixture()
def zheng(tmp_path: Path) -> tuple[Path, Path, pd.DataFrame, pd.Series]:
    df, truth = make_crowd(31, n_items=40)
    ans = tmp_path / "answer.csv"
    df.rename(columns={"task": "question", "label": "answer"}).to_csv(ans, index=False)
    tr = tmp_path / "truth.csv"
    truth.rename_axis("question").rename("truth").to_csv(tr)
    return ans, tr, df, truth


def test_zheng_layout_writes_labels_and_prints_accuracy(zheng, tmp_path, capsys):
    ans, tr, df, truth = zheng
    out = tmp_path / "out.csv"
    assert (
        main(["aggregate", str(ans), "--method", "ds", "--output", str(out), "--truth", str(tr)])
        == 0
    )
    got = pd.read_csv(out, dtype={"item": str})
    assert list(got.columns) == ["item", "label", "confidence"]
    ref = DawidSkene().fit(df)
    assert got["label"].tolist() == ref.labels_.tolist()
    pd.testing.assert_series_equal(
        got["confidence"],
        ref.probas_.max(axis=1).reset_index(drop=True),
        atol=1e-5,
        check_names=False,
    )
    acc = (ref.labels_ == truth.loc[ref.labels_.index]).mean()
    assert f"accuracy {acc:.4f} on 40 items" in capsys.readouterr().out


def test_snow_and_crowdkit_layouts(tmp_path, capsys):
    snow = tmp_path / "rte.tsv"
    snow.write_text(
        "!amt_annotation_ids\t!amt_worker_ids\torig_id\tresponse\tgold\n"
        "a\tW1\t5\t1\t1\nb\tW2\t5\t1\t1\nc\tW3\t5\t0\t1\nd\tW1\t6\t0\t0\ne\tW2\t6\t0\t0\n"
    )
    out = tmp_path / "o.csv"
    assert (
        main(["aggregate", str(snow), "--method", "mv", "--output", str(out), "--truth", str(snow)])
        == 0
    )
    assert pd.read_csv(out)["label"].tolist() == [1, 0]
    assert "accuracy 1.0000 on 2 items" in capsys.readouterr().out
    ck = tmp_path / "ck.csv"
    ck.write_text("task,worker,label\nx,a,2.5\nx,b,3.5\ny,a,10\n")
    assert main(["aggregate", str(ck), "--method", "median", "--output", str(out)]) == 0
    assert pd.read_csv(out)["label"].tolist() == [3.0, 10.0]


def test_numeric_truth_prints_mae(tmp_path, capsys):
    ans = tmp_path / "answer.csv"
    ans.write_text("question,worker,answer\n1,a,10\n1,b,20\n2,a,0\n2,b,4\n")
    tr = tmp_path / "truth.csv"
    tr.write_text("question,truth\n1,16\n2,2\n")
    out = tmp_path / "o.csv"
    assert (
        main(["aggregate", str(ans), "--method", "mean", "--output", str(out), "--truth", str(tr)])
        == 0
    )
    assert "MAE 0.5000 on 2 items" in capsys.readouterr().out


def test_single_answer_annotator_is_fine(zheng, tmp_path):
    ans, _, _, _ = zheng
    with open(ans, "a") as f:
        f.write("t000,lonely,1\n")
    out = tmp_path / "o.csv"
    for method in ("ds", "glad", "mace"):
        assert main(["aggregate", str(ans), "--method", method, "--output", str(out)]) == 0
        assert len(pd.read_csv(out)) == 40


@pytest.mark.parametrize(
    "answers,truth,match",
    [
        ("question,worker\n1,a\n", None, "header must have the columns"),
        (
            "question,worker,answer\n1,a,0\n1,b,nan\n",
            None,
            r"answer.csv:3: answer must not be missing",
        ),
        (
            "question,worker,answer\n1,a,0\n2,,\n",
            None,
            r"answer.csv:3: every item needs at least one",
        ),
        ("question,worker,answer\n1,a,0\n1,b,1,1\n", None, r"answer.csv:3: expected 3 fields"),
        (
            "question,worker,answer\n1,a,0\n",
            "question,truth\n1,0\n2,1\n",
            r"truth.csv:3: .*unknown item '2'",
        ),
        (
            "question,worker,answer\n1,a,0\n1,b,high\n",
            None,
            r"answer.csv:3: --method mean needs numeric",
        ),
    ],
)
def test_bad_input_fails_without_output(tmp_path, capsys, answers, truth, match):
    ans = tmp_path / "answer.csv"
    ans.write_text(answers)
    argv = ["aggregate", str(ans), "--output", str(tmp_path / "out.csv")]
    argv += ["--method", "mean" if "high" in answers else "ds"]
    if truth is not None:
        (tmp_path / "truth.csv").write_text(truth)
        argv += ["--truth", str(tmp_path / "truth.csv")]
    assert main(argv) == 2
    assert re.search(match, capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["answer.csv"] + (["truth.csv"] if truth else [])
    )


def test_repeated_item_worker_rows_are_refused(tmp_path, capsys):
    """Three copies of one worker's answer must not outvote two workers: the file is refused,
    naming the first repeated row."""
    answers = tmp_path / "dup.csv"
    answers.write_text("task,worker,label\n1,a,x\n1,a,x\n1,a,x\n1,b,y\n1,c,y\n")
    out = tmp_path / "out.csv"
    code = main(["aggregate", str(answers), "--method", "mv", "--output", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "dup.csv:3: each worker must answer an item once" in err
    assert "2 repeated (item, worker) rows" in err and not out.exists()
