"""KOS, M-MSR and zero-based skill against crowd-kit's implementations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelnoise.commands.aggregate import METHODS
from labelnoise.common.aggregation import AGGREGATORS, KOS, MMSR, ZeroBasedSkill
from labelnoise.common.datasets.crowd import load_crowd
from tests.common.aggregation._synthetic import make_crowd
from tests.conftest import require_data

ck = pytest.importorskip("crowdkit.aggregation")

pytestmark = pytest.mark.filterwarnings("ignore")


def _crowd_set(data_dir, name):
    require_data(data_dir / "crowd" / name)
    return load_crowd(data_dir, name)


def test_cli_lists_every_aggregator():
    assert set(METHODS) == set(AGGREGATORS)


def _zbs_reference(df: pd.DataFrame, **kwargs):
    # crowd-kit's ZeroBasedSkill.predict trips over sklearn's tags; its predict is this vote
    skills = ck.ZeroBasedSkill(**kwargs).fit(df).skills_
    return skills, ck.MajorityVote().fit(df, skills=skills)


@pytest.mark.parametrize("seed,n_classes", [(0, 2), (2, 4)])
def test_zero_based_skill_matches_crowdkit(seed, n_classes):
    df, _ = make_crowd(seed, n_classes=n_classes)
    short = {"n_iter": 25, "lr_steps_to_reduce": 10}  # crowd-kit's rounds are slow
    ours = ZeroBasedSkill(**short).fit(df)
    skills, vote = _zbs_reference(df, **short)
    np.testing.assert_allclose(ours.skills_, skills.loc[ours.annotators_], atol=1e-12)
    theirs = vote.probas_.reindex(index=ours.probas_.index, columns=ours.classes_).fillna(0.0)
    np.testing.assert_allclose(ours.probas_.to_numpy(), theirs.to_numpy(), atol=1e-12)
    assert (ours.labels_ == vote.labels_.loc[ours.labels_.index]).all()


def test_zero_based_skill_matches_crowdkit_on_dog(data_dir):
    df, _ = _crowd_set(data_dir, "dog")
    short = {"n_iter": 30, "lr_steps_to_reduce": 10}
    ours = ZeroBasedSkill(**short).fit(df)
    skills, vote = _zbs_reference(df, **short)
    np.testing.assert_allclose(ours.skills_, skills.loc[ours.annotators_], atol=1e-12)
    assert (ours.labels_ == vote.labels_.loc[ours.labels_.index]).all()


@pytest.mark.parametrize("seed", [0, 3, 4])
def test_kos_matches_crowdkit(seed):
    df, _ = make_crowd(seed, n_classes=2, n_items=80)
    ours = KOS().fit_predict(df)
    theirs = ck.KOS().fit_predict(df)
    assert (ours == theirs.loc[ours.index]).all()


def test_kos_matches_crowdkit_on_rte(data_dir):
    df, truth = _crowd_set(data_dir, "rte")
    ours = KOS().fit_predict(df)
    assert (ours == ck.KOS().fit_predict(df).loc[ours.index]).all()


def test_kos_recovers_truth_and_refuses_multiclass():
    df, truth = make_crowd(5, n_classes=2, n_items=150, accuracy=(0.65, 0.95))
    model = KOS().fit(df)
    assert (model.labels_ == truth.loc[model.labels_.index]).mean() > 0.9
    assert set(np.unique(model.probas_.to_numpy())) <= {0.0, 0.5, 1.0}
    df3, _ = make_crowd(5, n_classes=3)
    with pytest.raises(ValueError, match=r"KOS is for binary answers; got 3 classes \[0, 1, 2\]"):
        KOS().fit(df3)


def _mmsr_reference(df: pd.DataFrame):
    model = ck.MMSR()
    model.fit(df)
    return model, ck.MajorityVote().fit(df, skills=model.skills_)


@pytest.mark.parametrize("seed,n_classes", [(1, 3), (2, 3), (3, 2)])
def test_mmsr_matches_crowdkit_on_dense_crowds(seed, n_classes):
    # 8 annotators, 5 per item: every pair of annotators shares items, which is where
    # crowd-kit's sign step (it counts pairs with no common item as disagreeing) is the paper's
    df, _ = make_crowd(seed, n_classes=n_classes)
    ours = MMSR().fit(df)
    ref, vote = _mmsr_reference(df)
    assert ours.n_iter_ == len(ref.loss_history_)
    np.testing.assert_allclose(ours.skills_, ref.skills_.loc[ours.annotators_], rtol=1e-9)
    # crowd-kit normalises the weighted vote by its sum, which flips the argmax where that
    # sum is negative (annotators below chance); compare where it is positive
    scores = vote.probas_  # normalised scores
    total = (
        df.join(ref.skills_.rename("w"), on="worker").groupby("task")["w"].sum().loc[scores.index]
    )
    positive = total.to_numpy() > 0
    assert positive.mean() > 0.5
    same = ours.labels_.loc[scores.index] == vote.labels_
    assert same[positive].all()


def test_mmsr_magnitudes_match_crowdkit_on_rte(data_dir):
    df, truth = _crowd_set(data_dir, "rte")
    ours = MMSR().fit(df)
    ref, vote = _mmsr_reference(df)
    assert ours.n_iter_ == len(ref.loss_history_)
    theirs = ref.skills_.loc[ours.annotators_]
    # the rank-one fit agrees; the signs differ for annotators crowd-kit calls "below chance"
    # only because they share no item with most others (see MMSR's docstring)
    agree = np.sign(ours.skills_.to_numpy()) == np.sign(theirs.to_numpy())
    np.testing.assert_allclose(ours.skills_[agree], theirs[agree], rtol=1e-9)
    assert (ours.skills_ < 0).sum() < (theirs < 0).sum()

    def accuracy(labels: pd.Series) -> float:
        return float((labels.loc[truth.index] == truth).mean())

    assert accuracy(ours.labels_) >= accuracy(vote.labels_)


def test_mmsr_matches_crowdkit_on_face(data_dir):
    df, _ = _crowd_set(data_dir, "face")
    ours = MMSR().fit_predict(df)
    _, vote = _mmsr_reference(df)
    assert (ours == vote.labels_.loc[ours.index]).all()
