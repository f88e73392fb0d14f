"""Bad input at the API boundary: each raises a ValueError naming what is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelnoise.common.aggregation import AGGREGATORS, DawidSkene, MajorityVote
from tests.common.aggregation._synthetic import make_crowd


def test_missing_columns():
    df = pd.DataFrame({"task": [1], "worker": [2], "answer": [0]})
    with pytest.raises(ValueError, match=r"columns task, worker, label.*missing \['label'\]"):
        MajorityVote().fit(df)


def test_nan_labels():
    with pytest.raises(ValueError, match="label must not contain missing values.*first at row 2"):
        DawidSkene().fit([1, 1, 2], ["a", "b", "a"], [0, 1, np.nan])


def test_item_with_no_answers():
    items = pd.Series(pd.Categorical(["a", "a"], categories=["a", "b"]))
    with pytest.raises(ValueError, match="every task must have at least one answer.*'b'"):
        MajorityVote().fit(items, ["x", "y"], [0, 1])


def test_different_lengths_and_empty():
    with pytest.raises(ValueError, match="same length"):
        MajorityVote().fit([1, 2], ["a"], [0, 1])
    with pytest.raises(ValueError, match="must not be empty"):
        MajorityVote().fit([], [], [])
    with pytest.raises(ValueError, match=r"label must be one-dimensional; got shape \(2, 1\)"):
        MajorityVote().fit([1, 2], ["a", "b"], [[0], [1]])


@pytest.mark.parametrize("method", ["ds", "one-coin-ds", "glad", "mace", "wawa"])
def test_annotator_with_a_single_answer(method):
    df, truth = make_crowd(21, n_items=40)
    df = pd.concat([df, pd.DataFrame({"task": ["t000"], "worker": ["lonely"], "label": [2]})])
    model = AGGREGATORS[method]().fit(df)
    assert np.isfinite(model.probas_.to_numpy()).all()
    assert "lonely" in model.skills_.index and np.isfinite(model.skills_["lonely"])
    if hasattr(model, "confusions_"):
        assert model.confusions_.is_valid()


def test_gold_with_unknown_item_or_class():
    df, _ = make_crowd(22, n_items=20)
    with pytest.raises(ValueError, match="gold items must appear.*'zzz'"):
        DawidSkene().fit(df, gold=pd.Series({"zzz": 1}))
    with pytest.raises(ValueError, match="gold labels must be classes"):
        DawidSkene().fit(df, gold=pd.Series({"t000": 7}))


def test_bad_options():
    with pytest.raises(ValueError, match="smoothing must be >= 0"):
        DawidSkene(smoothing=-1.0)
    with pytest.raises(ValueError, match="method must be 'vb' or 'em'"):
        AGGREGATORS["mace"](method="gibbs")
