"""Readers: tables, scikit-learn datasets, raters; bad input names the column and the row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelnoise.tasks.regression.readers import (
    aggregate_raters,
    load_sklearn,
    read_raters,
    read_table,
)
from tests.conftest import require_data


def _csv(tmp_path, text: str):
    p = tmp_path / "t.csv"
    p.write_text(text)
    return p


def test_csv_and_parquet_read_named_columns(tmp_path):
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 0.1, 0.2], "y": [10.0, 20.0, 35.0]})
    df.to_csv(tmp_path / "t.csv", index=False)
    df.to_parquet(tmp_path / "t.parquet")
    for name in ("t.csv", "t.parquet"):
        d = read_table(tmp_path / name, target="y", features=["b"])
        np.testing.assert_array_equal(d.y, [10.0, 20.0, 35.0])
        assert d.x.shape == (3, 1) and d.x.dtype == np.float32 and d.feature_names == ["b"]
    assert read_table(tmp_path / "t.csv", target="y").feature_names == ["a", "b"]


def test_non_numeric_target_names_the_row(tmp_path):
    p = _csv(tmp_path, "a,y\n1,2.5\n2,3.0\n3,abc\n")
    with pytest.raises(
        ValueError, match=r"column 'y' must be numeric; got 'abc' at row 3 \(line 4"
    ):
        read_table(p, target="y")


def test_constant_targets_are_rejected(tmp_path):
    p = _csv(tmp_path, "a,y\n1,5\n2,5\n3,5\n")
    with pytest.raises(ValueError, match="target 'y' must vary; got the constant 5.0 for all 3"):
        read_table(p, target="y")


def test_nan_features_error_or_mean_imputation(tmp_path):
    p = _csv(tmp_path, "a,b,y\n1,4,1\n,6,2\n3,8,3\n")
    with pytest.raises(ValueError, match=r"NaN in column 'a' at row 2 \(line 3"):
        read_table(p, target="y")
    d = read_table(p, target="y", nan_features="mean")
    np.testing.assert_allclose(d.x[:, 0], [1.0, 2.0, 3.0])


def test_missing_target_column(tmp_path):
    p = _csv(tmp_path, "a,b\n1,2\n3,4\n")
    with pytest.raises(
        ValueError, match=r"target column 'y' must be in t.csv; got columns \['a', 'b'\]"
    ):
        read_table(p, target="y")
    with pytest.raises(FileNotFoundError):
        read_table(tmp_path / "missing.csv", target="y")


def test_sklearn_datasets_by_name():
    from sklearn.datasets import load_diabetes

    d = load_sklearn("diabetes")
    np.testing.assert_array_equal(d.y, load_diabetes().target)
    assert d.x.shape == (442, 10)
    f = load_sklearn("friedman1", n_samples=50, noise=0.0, seed=3)
    x = f.x.astype(np.float64)
    ref = (
        10 * np.sin(np.pi * x[:, 0] * x[:, 1])
        + 20 * (x[:, 2] - 0.5) ** 2
        + 10 * x[:, 3]
        + 5 * x[:, 4]
    )
    np.testing.assert_allclose(f.y, ref, rtol=1e-5)
    with pytest.raises(ValueError, match="name must be one of"):
        load_sklearn("boston")  # type: ignore[arg-type]


def test_raters_mean_matches_pandas_groupby(tmp_path):
    p = _csv(tmp_path, "question,worker,answer\n1,w1,10\n1,w2,30\n2,w1,5\n2,w3,6\n2,w2,100\n")
    r = read_raters(p)
    got = aggregate_raters(r, method="mean")
    ref = pd.read_csv(p, dtype={"question": str}).groupby("question")["answer"].mean()
    pd.testing.assert_series_equal(got.sort_index(), ref.astype(float), check_names=False)
    med = aggregate_raters(r, method="median")
    assert med.loc["2"] == 6.0
    bad = _csv(tmp_path, "question,worker,answer\n1,w1,x\n")
    with pytest.raises(ValueError, match=r"column 'answer' must be numeric; got 'x' at row 1"):
        read_raters(bad)


def test_emotion_worker_mean_mae_matches_the_data_readme(data_dir):
    """The data README: MAE of the worker mean vs gold 12.02, of the median 13.53."""
    root = require_data(data_dir / "crowd" / "emotion")
    r = read_raters(root / "answer.csv")
    gold = pd.read_csv(root / "truth.csv", dtype={"question": str}).set_index("question")["truth"]
    for method, ref in (("mean", 12.02), ("median", 13.53)):
        est = aggregate_raters(r, method=method)
        assert abs(float((est - gold.loc[est.index]).abs().mean()) - ref) < 0.01
