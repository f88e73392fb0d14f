"""``labelnoise detect``: npy and csv inputs, ranked output, atomic failure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelnoise.cli import main
from labelnoise.common.detection import find_label_issues, get_label_quality_scores

from .common.detection._synthetic import make_pred_probs


@pytest.fixture()
def files(tmp_path):
    labels, probs, _ = make_pred_probs(300, 4, seed=0)
    np.save(tmp_path / "labels.npy", labels)
    np.save(tmp_path / "probs.npy", probs)
    pd.DataFrame({"label": labels}).to_csv(tmp_path / "labels.csv", index=False)
    np.savetxt(tmp_path / "probs.csv", probs, delimiter=",")
    return tmp_path, labels, probs


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_detect_writes_ranked_issues(files, suffix):
    tmp, labels, probs = files
    out = tmp / f"issues{suffix}.csv"
    rc = main(
        [
            "detect",
            "--labels",
            str(tmp / f"labels{suffix}"),
            "--pred-probs",
            str(tmp / f"probs{suffix}"),
            "--filter-by",
            "both",
            "--output",
            str(out),
        ]
    )
    assert rc == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["index", "given_label", "suggested_label", "quality", "is_issue"]
    expected = find_label_issues(labels, probs, filter_by="both")
    assert table["is_issue"].sum() == expected.sum() > 0
    flagged = table[table["is_issue"] == 1]
    assert set(flagged["index"]) == set(np.flatnonzero(expected))
    assert (table["is_issue"].iloc[: len(flagged)] == 1).all()
    assert flagged["quality"].is_monotonic_increasing
    q = get_label_quality_scores(labels, probs)
    np.testing.assert_allclose(table["quality"], q[table["index"]], rtol=1e-7)
    np.testing.assert_array_equal(table["given_label"], labels[table["index"]])


def test_bad_file_writes_nothing(files, capsys):
    tmp, labels, probs = files
    bad = probs.copy()
    bad[0, 0] = np.nan
    np.save(tmp / "bad.npy", bad)
    out = tmp / "issues.csv"
    rc = main(
        [
            "detect",
            "--labels",
            str(tmp / "labels.npy"),
            "--pred-probs",
            str(tmp / "bad.npy"),
            "--output",
            str(out),
        ]
    )
    assert rc == 2 and "pred_probs must be finite" in capsys.readouterr().err
    assert not out.exists() and list(tmp.glob(".issues.csv*")) == []
    (tmp / "garbage.csv").write_text("a,b\nx,y\n")
    rc = main(
        [
            "detect",
            "--labels",
            str(tmp / "garbage.csv"),
            "--pred-probs",
            str(tmp / "probs.npy"),
            "--output",
            str(out),
        ]
    )
    assert rc == 2 and not out.exists()
    rc = main(
        [
            "detect",
            "--labels",
            str(tmp / "missing.npy"),
            "--pred-probs",
            str(tmp / "probs.npy"),
            "--output",
            str(out),
        ]
    )
    assert rc == 2 and not out.exists()


def test_empty_or_folder_inputs_are_one_line_errors(tmp_path, capsys):
    """A 0-byte .npy (EOFError in numpy) and a folder given as a file (IsADirectoryError) end
    in a one-line error, exit 2 and no output file."""
    labels, probs = tmp_path / "l.npy", tmp_path / "p.npy"
    np.save(labels, np.array([0, 1, 1, 0]))
    np.save(probs, np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]]))
    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    out = tmp_path / "o.csv"
    for bad in (["--labels", str(empty)], ["--labels", str(tmp_path / "dir.npy")]):
        (tmp_path / "dir.npy").mkdir(exist_ok=True)
        code = main(["detect", *bad, "--pred-probs", str(probs), "--output", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("labelnoise detect: error:"), err
        assert "Traceback" not in err and not out.exists()


def test_train_into_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("x")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("task: {name: classification}\n")
    code = main(["train", str(recipe), f"--output_dir={target}", "--train.max_steps=1"])
    err = capsys.readouterr().err
    assert code == 2 and "output_dir must be a directory; got the file" in err
    assert target.read_text() == "x"


def test_string_labels_are_refused_naming_the_dtype(tmp_path, capsys):
    labels, probs = tmp_path / "s.npy", tmp_path / "p.npy"
    np.save(labels, np.array(["a", "b", "b", "a"]))
    np.save(probs, np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]]))
    out = tmp_path / "o.csv"
    code = main(
        ["detect", "--labels", str(labels), "--pred-probs", str(probs), "--output", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 2 and "--labels must be a numeric .npy array; got dtype <U1" in err
    assert not out.exists()
