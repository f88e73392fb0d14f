"""IBCC and EBCC: the variational updates on a hand-sized case, reductions, real and synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import digamma

from labelnoise.common.aggregation import EBCC, IBCC, MajorityVote
from labelnoise.common.datasets.crowd import load_crowd
from tests.conftest import require_data

#: (item, annotator, label): 3 items, 3 annotators, 2 classes; annotator "c" contradicts.
HAND = [
    ("i1", "a", 0), ("i1", "b", 0), ("i1", "c", 1),
    ("i2", "a", 1), ("i2", "b", 1), ("i2", "c", 0),
    ("i3", "a", 0), ("i3", "b", 1),
]  # fmt: skip


def _ibcc_by_hand(diag: float, off: float, class_prior: float, n_iter: int) -> np.ndarray:
    """Simpson et al. (2013) VB updates for IBCC, one answer at a time (items i1..i3)."""
    items, ann = ["i1", "i2", "i3"], ["a", "b", "c"]
    q = np.zeros((3, 2))
    for i, _, lab in HAND:  # majority vote start
        q[items.index(i), lab] += 1
    q /= q.sum(1, keepdims=True)
    for _ in range(n_iter):
        alpha = {
            (a, k, lab): diag if k == lab else off for a in ann for k in (0, 1) for lab in (0, 1)
        }
        for i, a, lab in HAND:
            for k in (0, 1):
                alpha[a, k, lab] += q[items.index(i), k]
        nu = class_prior + q.sum(0)
        new = np.tile(digamma(nu) - digamma(nu.sum()), (3, 1))
        for i, a, lab in HAND:
            for k in (0, 1):
                row = alpha[a, k, 0] + alpha[a, k, 1]
                new[items.index(i), k] += digamma(alpha[a, k, lab]) - digamma(row)
        new = np.exp(new - new.max(1, keepdims=True))
        q = new / new.sum(1, keepdims=True)
    return q


def _hand_table() -> pd.DataFrame:
    return pd.DataFrame(HAND, columns=["task", "worker", "label"])


@pytest.mark.parametrize("n_iter", [1, 2, 50])
@pytest.mark.parametrize("diag,off,class_prior", [(4.0, 1.0, 1.0), (2.0, 0.5, 3.0)])
def test_ibcc_follows_the_variational_updates(n_iter, diag, off, class_prior):
    model = IBCC(
        diagonal_prior=diag, off_diagonal_prior=off, class_prior=class_prior, n_iter=n_iter, tol=0
    ).fit(_hand_table())
    expected = _ibcc_by_hand(diag, off, class_prior, n_iter)
    np.testing.assert_allclose(model.probas_.to_numpy(), expected, atol=1e-12)
    assert model.n_iter_ == n_iter


def test_ebcc_with_one_subtype_is_ibcc():
    # M = 1: every item has the same subtype, E[log pi] = 0, and EBCC's updates are IBCC's
    df = _hand_table()
    ibcc = IBCC(class_prior=2.0, n_iter=40, tol=0).fit(df)
    ebcc = EBCC(n_subtypes=1, empirical_prior=False, class_prior=2.0, n_iter=40, tol=0).fit(df)
    np.testing.assert_allclose(ebcc.probas_.to_numpy(), ibcc.probas_.to_numpy(), atol=1e-12)
    np.testing.assert_allclose(
        ebcc.confusions_.matrix.numpy(), ibcc.confusions_.matrix.numpy(), atol=1e-6
    )


def _confused_crowd(seed: int, n_items: int = 400) -> tuple[pd.DataFrame, pd.Series]:
    """4 classes; half the annotators swap classes 0 <-> 1 most of the time, 3 answers per item."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 4, n_items)
    conf = np.zeros((12, 4, 4))
    for a in range(12):
        conf[a] = np.eye(4) * 0.6 + 0.1
        if a % 2:
            conf[a, 0] = [0.25, 0.65, 0.05, 0.05]
            conf[a, 1] = [0.65, 0.25, 0.05, 0.05]
    rows = []
    for i in range(n_items):
        for a in rng.choice(12, 3, replace=False):
            rows.append((i, a, int(rng.choice(4, p=conf[a, truth[i]]))))
    return pd.DataFrame(rows, columns=["task", "worker", "label"]), pd.Series(truth)


@pytest.mark.parametrize("method", [IBCC, EBCC])
def test_recovers_truth_better_than_majority_vote(method):
    df, truth = _confused_crowd(0)
    mv = (MajorityVote().fit_predict(df).loc[truth.index] == truth).mean()
    model = method().fit(df)
    acc = (model.labels_.loc[truth.index] == truth).mean()
    assert acc > mv + 0.05, (acc, mv)
    # the swapping annotators' confusions are found
    t = model.confusions_.matrix.numpy()
    swap, plain = t[1::2], t[0::2]
    assert swap[:, 0, 1].mean() > swap[:, 0, 0].mean() + 0.1
    assert swap[:, 1, 0].mean() > swap[:, 1, 1].mean() + 0.1
    assert plain[:, 0, 0].mean() > 0.5 and plain[:, 1, 1].mean() > 0.5


def test_ebcc_matches_the_authors_published_runs(data_dir):
    # Li et al.'s notebook (truth-inference-at-scale/code/test_ebcc.ipynb, best ELBO of 40
    # starts, empirical class prior): product 0.934937 = 7774/8315, rte 0.93125 = 745/800
    for name, correct in (("product", 7774), ("rte", 745)):
        require_data(data_dir / "crowd" / name)
        df, truth = load_crowd(data_dir, name)
        got = int((EBCC().fit_predict(df).loc[truth.index] == truth).sum())
        assert abs(got - correct) <= 2, (name, got, correct)


def test_bad_options():
    with pytest.raises(ValueError, match="diagonal_prior must be > 0; got 0"):
        IBCC(diagonal_prior=0)
    with pytest.raises(ValueError, match="n_subtypes must be >= 1; got 0"):
        EBCC(n_subtypes=0)
    with pytest.raises(ValueError, match="subtype_prior must be > 0"):
        EBCC(subtype_prior=-1.0)
