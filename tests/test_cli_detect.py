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
