"""``labelnoise aggregate`` end to end: layouts, outputs, metrics, and bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from labelnoise.cli import main
from labelnoise.common.aggregation import DawidSkene, MajorityVote
from tests.common.aggregation._synthetic import make_crowd
from tests.conftest import require_data


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
            "question,truth\n2,1\n3,0\n",
            r"--truth .*truth.csv: needs gold items that have answers; got none of its 2 items",
        ),
        (
            "question,worker,answer\n1,a,0\n1,b,1\n",
            "question,truth\n1,yes\n",
            r"--truth .*truth.csv: gold labels must be labels the workers used",
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


@pytest.mark.parametrize(
    "policy,expected", [("first", "x"), ("keep-first", "x"), ("last", "y"), ("keep-last", "y")]
)
def test_duplicates_policy_keeps_one_answer_per_pair(tmp_path, policy, expected):
    """Worker a answers item 1 three times (x, x, y); with one answer kept per pair, b and c
    decide the vote unless a's kept answer breaks the tie."""
    answers = tmp_path / "dup.csv"
    answers.write_text("task,worker,label\n1,a,x\n1,a,x\n1,b,x\n1,c,y\n1,a,y\n")
    out = tmp_path / "out.csv"
    argv = ["aggregate", str(answers), "--method", "mv", "--output", str(out)]
    assert main([*argv, "--duplicates", policy]) == 0
    assert pd.read_csv(out)["label"].tolist() == [expected]


def test_duplicates_error_names_the_option(tmp_path, capsys):
    answers = tmp_path / "dup.csv"
    answers.write_text("task,worker,label\n1,a,x\n1,a,y\n1,b,y\n")
    out = tmp_path / "out.csv"
    argv = ["aggregate", str(answers), "--method", "mv", "--output", str(out)]
    assert main([*argv, "--duplicates", "error"]) == 2
    err = capsys.readouterr().err
    assert "dup.csv:3:" in err and "--duplicates first|keep-last" in err and not out.exists()


def test_numeric_method_with_text_truth_fails_before_writing(tmp_path, capsys):
    ans = tmp_path / "answer.csv"
    ans.write_text("question,worker,answer\n1,a,10\n1,b,20\n2,a,0\n")
    tr = tmp_path / "truth.csv"
    tr.write_text("question,truth\n1,high\n2,low\n")
    out = tmp_path / "o.csv"
    argv = ["aggregate", str(ans), "--method", "mean", "--output", str(out), "--truth", str(tr)]
    assert main(argv) == 2
    assert "needs numeric gold labels; got 'high' for item '1'" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("which", ["answers", "truth"])
def test_binary_file_is_named(tmp_path, capsys, which):
    ans = tmp_path / "answer.csv"
    ans.write_text("question,worker,answer\n1,a,0\n1,b,1\n")
    blob = tmp_path / "blob.csv"
    blob.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    out = tmp_path / "o.csv"
    argv = ["aggregate", str(blob if which == "answers" else ans), "--output", str(out)]
    if which == "truth":
        argv += ["--truth", str(blob)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{blob}: {which} must be a UTF-8 text file" in err and "Traceback" not in err
    assert not out.exists()


def test_partial_gold_is_scored_on_the_overlap(data_dir, tmp_path, capsys):
    """Real gold files cover more items than have answers (AdultContent: 333 of 1,517): keep
    the dog set's answers on every fifth item and score on those, printing the coverage."""
    dog = require_data(data_dir / "crowd" / "dog")
    answers = pd.read_csv(dog / "answer.csv", dtype={"question": str})
    gold = pd.read_csv(dog / "truth.csv", dtype={"question": str})
    part = answers[answers["question"].isin(gold["question"].iloc[::5])]
    ans = tmp_path / "part.csv"
    part.to_csv(ans, index=False)
    out = tmp_path / "o.csv"
    argv = ["aggregate", str(ans), "--method", "mv", "--output", str(out)]
    assert main([*argv, "--truth", str(dog / "truth.csv")]) == 0
    text = capsys.readouterr().out
    n, total = part["question"].nunique(), len(gold)
    mv = MajorityVote().fit_predict(part.rename(columns={"question": "task", "answer": "label"}))
    acc = (mv.astype(str) == gold.set_index("question")["truth"].astype(str)[mv.index]).mean()
    assert f"accuracy {acc:.4f} on {n} items" in text
    assert f"scored on {n} of {total} gold items ({100 * n / total:.1f} %)" in text
