"""Each aggregator against crowd-kit's implementation of the same method on small fixtures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelnoise.common.aggregation import (
    GLAD,
    MACE,
    DawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
    Wawa,
)
from tests.common.aggregation._synthetic import make_crowd

ck = pytest.importorskip("crowdkit.aggregation")
get_accuracy = pytest.importorskip("crowdkit.aggregation.utils").get_accuracy

pytestmark = pytest.mark.filterwarnings("ignore")


def _aligned(ours: pd.DataFrame, theirs: pd.DataFrame) -> np.ndarray:
    return theirs.loc[ours.index, ours.columns].to_numpy(dtype=float)


@pytest.mark.parametrize("seed", [0, 1])
def test_majority_vote_matches_crowdkit(seed):
    df, _ = make_crowd(seed, per_item=4)
    ours = MajorityVote().fit(df)
    theirs = ck.MajorityVote().fit(df)
    np.testing.assert_allclose(
        ours.probas_.to_numpy(), _aligned(ours.probas_, theirs.probas_), atol=1e-4
    )
    # crowd-kit breaks ties by column order; compare where the vote is not tied
    top = np.sort(ours.probas_.to_numpy(), 1)
    clear = top[:, -1] > top[:, -2] + 1e-9
    assert clear.sum() > 30
    assert (ours.labels_[clear] == theirs.labels_.loc[ours.labels_.index][clear]).all()
    # skills_: crowd-kit's definition (agreement with the labels) applied to our labels
    ref_skills = get_accuracy(df, ours.labels_, by="worker")
    np.testing.assert_allclose(
        ours.skills_.to_numpy(), ref_skills.loc[ours.annotators_], atol=1e-12
    )


def test_wawa_matches_crowdkit_steps():
    # crowd-kit's Wawa.predict trips over sklearn's tags; rebuild it from its own pieces.
    # Binary with 5 answers per item: no majority ties, whose winner crowd-kit leaves to column order
    df, _ = make_crowd(3, n_classes=2)
    skills = get_accuracy(df, ck.MajorityVote().fit_predict(df), by="worker")
    ref = ck.MajorityVote().fit(df, skills=skills)
    ours = Wawa().fit(df)
    np.testing.assert_allclose(
        ours.probas_.to_numpy(), _aligned(ours.probas_, ref.probas_), atol=1e-12
    )
    assert (ours.labels_ == ref.labels_.loc[ours.labels_.index]).all()


@pytest.mark.parametrize("seed,n_classes", [(0, 3), (2, 4)])
def test_dawid_skene_matches_crowdkit(seed, n_classes):
    df, _ = make_crowd(seed, n_classes=n_classes)
    ours = DawidSkene(n_iter=30, diagonal_prior=0.0).fit(df)
    theirs = ck.DawidSkene(n_iter=30).fit(df)
    np.testing.assert_allclose(
        ours.probas_.to_numpy(), _aligned(ours.probas_, theirs.probas_), atol=1e-4
    )
    assert (ours.labels_ == theirs.labels_.loc[ours.labels_.index]).all()
    assert ours.n_iter_ == len(theirs.loss_history_)
    np.testing.assert_allclose(ours.loss_history_, theirs.loss_history_, rtol=1e-6)
    # confusions_ are crowd-kit's errors_ transposed into the row convention
    w = ours.annotators_[0]
    err = theirs.errors_.loc[w].reindex(index=ours.classes_, columns=ours.classes_).fillna(0.0)
    t = ours.confusions_.matrix[0].numpy()
    np.testing.assert_allclose(t, err.to_numpy().T, atol=1e-6)


def test_dawid_skene_gold_matches_crowdkit():
    df, truth = make_crowd(4)
    gold = truth.iloc[:15]
    ours = DawidSkene(n_iter=15, diagonal_prior=0.0).fit(df, gold=gold)
    theirs = ck.DawidSkene(n_iter=15).fit(df, true_labels=gold)
    np.testing.assert_allclose(
        ours.probas_.to_numpy(), _aligned(ours.probas_, theirs.probas_), atol=1e-4
    )
    assert (ours.labels_.loc[gold.index] == gold).all()


def test_one_coin_dawid_skene_matches_crowdkit():
    df, _ = make_crowd(5)
    ours = OneCoinDawidSkene(n_iter=15).fit(df)
    theirs = ck.OneCoinDawidSkene(n_iter=15).fit(df)
    np.testing.assert_allclose(
        ours.probas_.to_numpy(), _aligned(ours.probas_, theirs.probas_), atol=1e-4
    )
    assert (ours.labels_ == theirs.labels_.loc[ours.labels_.index]).all()
    np.testing.assert_allclose(
        ours.skills_.to_numpy(), theirs.skills_.loc[ours.annotators_], atol=1e-4
    )


def test_glad_matches_crowdkit():
    df, _ = make_crowd(6, n_items=20, per_item=4)
    ours = GLAD(n_iter=3).fit(df)
    theirs = ck.GLAD(n_iter=3).fit(df)
    assert (ours.labels_ == theirs.labels_.loc[ours.labels_.index]).all()
    np.testing.assert_allclose(
        ours.probas_.to_numpy(), _aligned(ours.probas_, theirs.probas_), atol=1e-4
    )
    np.testing.assert_allclose(
        ours.alphas_.to_numpy(), theirs.alphas_.loc[ours.annotators_], atol=1e-3
    )


def test_mace_matches_crowdkit_labels():
    df, truth = make_crowd(7, n_items=50)
    # crowd-kit's MACE indexes groupby results (sorted) by first-appearance codes: give it data
    # whose workers and classes first appear in sorted order so that both orders agree
    df = df.sort_values(["worker", "task"]).reset_index(drop=True)
    df["label"] = pd.factorize(df["label"])[0]
    ours = MACE(method="vb", n_iter=20).fit(df)
    theirs = ck.MACE(n_restarts=1, n_iter=20, method="vb").fit(df)
    assert (ours.labels_ == theirs.labels_.loc[ours.labels_.index]).all()
    np.testing.assert_allclose(
        ours.probas_.to_numpy(), _aligned(ours.probas_, theirs.probas_), atol=0.05
    )
