"""ConFrag's selection arithmetic and the scikit-learn wrapper of the detection helpers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold, cross_val_predict

from labelnoise.tasks.regression import (
    SklearnRegressor,
    agreement_score,
    contrastive_pairs,
    cross_val_predictions,
    expert_votes,
    fragment_of,
    jittered_window,
)


def test_fragments_and_contrastive_pairs():
    assert contrastive_pairs(4) == [(0, 2), (1, 3)]
    assert contrastive_pairs(6) == [(0, 3), (1, 4), (2, 5)]
    with pytest.raises(ValueError, match="fragments must be an even integer"):
        contrastive_pairs(5)
    frag, edges = fragment_of(np.array([5.0, 1.0, 1.0, 1.0, 9.0, 7.0, 3.0, 2.0]), 4)
    assert np.bincount(frag).tolist() == [2, 2, 2, 2]
    assert frag.tolist() == [2, 0, 0, 1, 3, 3, 2, 1]
    assert edges[0] == 1.0 and edges[-1] == 9.0


def test_jittered_window_and_votes_match_a_direct_recomputation():
    y = np.arange(40, dtype=float)[::-1].copy()
    idx, frag = jittered_window(y, 4, 0.9, np.random.default_rng(0))
    assert idx.size == 36 and np.bincount(frag).tolist() == [9, 9, 9, 9]
    assert np.all(np.diff(y[idx]) > 0)  # consecutive in target order
    # votes: features put samples 0-4 and 5-9 in two tight clusters
    feats = np.array([[1.0, 0.0]] * 5 + [[0.0, 1.0]] * 5) + 0.01 * np.arange(10)[:, None]
    frag = np.array([0, 0, 0, 0, 2, 2, 2, 2, 2, 0])  # sample 4 and 9 sit in the other cluster
    prob_b = np.full(10, 0.5)
    va, vb = expert_votes(feats, prob_b, frag, (0, 2), neighbors=3)
    assert va[0] == pytest.approx(0.5 * (0.5 + 1.0))  # neighbours 1, 2, 3: all fragment 0
    assert vb[4] == pytest.approx(0.5 * (0.5 + 0.0))  # sample 4's neighbours: fragment 0
    assert va[9] == pytest.approx(0.5 * (0.5 + 0.0)) and vb[9] == pytest.approx(0.75)
    votes = np.tile(np.array([[0.2, 0.4, 0.6, 0.8]]), (3, 1))
    got = agreement_score(votes, np.array([0, 1, 3]))
    np.testing.assert_allclose(got, [(0.2 + 0.4) / 2, (0.2 + 0.4 + 0.6) / 3, (0.6 + 0.8) / 2])


def test_cross_val_predictions_match_sklearn():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = x @ np.array([1.0, 2.0, -1.0]) + rng.normal(size=60)
    ref = cross_val_predict(LinearRegression(), x, y, cv=KFold(4, shuffle=True, random_state=7))
    np.testing.assert_allclose(
        cross_val_predictions(LinearRegression(), x, y, folds=4, seed=7), ref
    )
    wrapped = SklearnRegressor(LinearRegression())
    np.testing.assert_allclose(cross_val_predictions(wrapped, x, y, folds=4, seed=7), ref)
    with pytest.raises(ValueError, match="estimator must have fit and predict"):
        SklearnRegressor(object())
    with pytest.raises(ValueError, match=r"folds must be an integer in \[2, 60\]"):
        cross_val_predictions(LinearRegression(), x, y, folds=1)
