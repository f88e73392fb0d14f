"""Contract of every registered aggregator: input forms, invariances, fitted state."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelnoise.common import TransitionMatrix
from labelnoise.common.aggregation import AGGREGATORS, BINARY_METHODS, NUMERIC_METHODS
from tests.common.aggregation._synthetic import make_crowd

CATEGORICAL = sorted(set(AGGREGATORS) - NUMERIC_METHODS)
NUMERIC = sorted(NUMERIC_METHODS)


def _numeric_crowd(seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 100, 40)
    noise = rng.uniform(2, 30, 6)
    rows = [
        (f"t{i:02d}", f"w{a}", float(truth[i] + rng.normal(0, noise[a])))
        for i in range(40)
        for a in rng.choice(6, 4, replace=False)
    ]
    df = pd.DataFrame(rows, columns=["task", "worker", "label"])
    return df, pd.Series(truth, index=[f"t{i:02d}" for i in range(40)])


def _permuted(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Shuffle the rows and rename the annotators by a random permutation."""
    rng = np.random.default_rng(seed)
    workers = df["worker"].unique()
    mapping = dict(zip(workers, rng.permutation(workers), strict=True))
    out = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    out["worker"] = out["worker"].map(mapping)
    return out


@pytest.mark.parametrize("method", CATEGORICAL)
def test_categorical_contract(method):
    n_classes = 2 if method in BINARY_METHODS else 3
    # KOS's messages settle only when answers carry enough signal (it oscillates otherwise)
    better = (0.7, 0.95) if method in BINARY_METHODS else (0.45, 0.9)
    df, truth = make_crowd(11, n_classes=n_classes, accuracy=better)
    model = AGGREGATORS[method]()
    assert model.fit(df) is model
    probas = model.probas_
    assert list(probas.columns) == list(range(n_classes))
    assert probas.index.equals(pd.Index(sorted(truth.index)))
    np.testing.assert_allclose(probas.sum(1), 1.0, atol=1e-9)
    assert (model.labels_ == probas.idxmax(axis=1)).all()
    assert (model.labels_ == truth.loc[model.labels_.index]).mean() > 0.75
    # arrays and the long table give the same answer
    same = AGGREGATORS[method]().fit_predict_proba(df["task"], df["worker"], df["label"])
    pd.testing.assert_frame_equal(same, probas)
    assert model.skills_.index.equals(pd.Index(sorted(df["worker"].unique()), name="worker"))
    if hasattr(model, "confusions_"):
        assert isinstance(model.confusions_, TransitionMatrix)
        assert model.confusions_.shape == (8, n_classes, n_classes)


@pytest.mark.parametrize("method", CATEGORICAL)
def test_invariant_to_row_order_and_annotator_ids(method):
    binary = method in BINARY_METHODS
    df, _ = make_crowd(
        12, n_classes=2 if binary else 3, accuracy=(0.7, 0.95) if binary else (0.45, 0.9)
    )
    base = AGGREGATORS[method]().fit_predict_proba(df)
    for seed in (1, 2):
        other = AGGREGATORS[method]().fit_predict_proba(_permuted(df, seed))
        np.testing.assert_allclose(other.loc[base.index].to_numpy(), base.to_numpy(), atol=1e-6)


@pytest.mark.parametrize("method", NUMERIC)
def test_numeric_invariant_to_row_order_and_annotator_ids(method):
    df, truth = _numeric_crowd()
    base = AGGREGATORS[method]().fit_predict(df)
    assert base.index.equals(pd.Index(sorted(truth.index), name="task"))
    other = AGGREGATORS[method]().fit_predict(_permuted(df, 3))
    np.testing.assert_allclose(other.loc[base.index].to_numpy(), base.to_numpy(), atol=1e-9)


def test_string_labels_and_mixed_ids():
    df, truth = make_crowd(13, n_classes=2)
    df["label"] = df["label"].map({0: "no", 1: "yes"})
    model = AGGREGATORS["ds"]().fit(df)
    assert list(model.classes_) == ["no", "yes"]
    assert set(model.labels_) <= {"no", "yes"}


def test_single_class_answers():
    df = pd.DataFrame({"task": ["a", "a", "b"], "worker": ["x", "y", "x"], "label": [1, 1, 1]})
    for method in CATEGORICAL:
        labels = AGGREGATORS[method]().fit_predict(df)
        assert labels.tolist() == [1, 1]
