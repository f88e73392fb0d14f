"""Every categorical aggregator on small binary sets with few answers per item (issue #23).

The issue's held-out set has 108 binary items; here: a hand-made set with exact ties worked
out by symmetry, one answer per item (nothing to learn: the answer is the only sensible
label), and 108-item sets with 2 or 3 answers per item against crowd-kit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelnoise.common.aggregation import AGGREGATORS, NUMERIC_METHODS
from tests.common.aggregation._synthetic import make_crowd

CATEGORICAL = sorted(set(AGGREGATORS) - NUMERIC_METHODS)
#: Deterministic methods that treat the two classes and the annotators alike (no random start
#: that could break the symmetry of the mirror set).
EQUIVARIANT = ("mv", "ds", "one-coin-ds", "glad", "mace", "mmsr", "ibcc")
#: Swapping these annotators and flipping every label maps the mirror set onto itself.
SWAP = {"w0": "w1", "w1": "w0", "w2": "w3", "w3": "w2", "w4": "w5", "w5": "w4"}


def mirror_set() -> pd.DataFrame:
    """10 items, 22 answers, 1-3 answers per item; ``b`` and ``c`` are their own mirror.

    Every item ``x`` but ``b`` / ``c`` has a mirror ``x'`` with the annotators swapped by
    ``SWAP`` and the labels flipped, so the whole set is invariant under (flip labels, swap
    annotators, rename items). A method that treats classes and annotators alike must give
    ``P(x = 0) = P(x' = 1)``, and ``P = 0.5`` on ``b`` (w0 says 0, w1 says 1) and ``c``.
    """
    base = {
        "a": [("w0", 0), ("w2", 0), ("w3", 0)],
        "b": [("w0", 0), ("w1", 1)],
        "c": [("w2", 0), ("w3", 1)],
        "d": [("w0", 1), ("w2", 1), ("w4", 1)],
        "e": [("w1", 0), ("w2", 0)],
        "f": [("w4", 0)],
    }
    rows = []
    for item, answers in base.items():
        rows += [(item, w, label) for w, label in answers]
        if item not in ("b", "c"):
            rows += [(item + "'", SWAP[w], 1 - label) for w, label in answers]
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


#: Majority vote on the mirror set, worked by hand (ties to the smaller class: b, c).
MV_BY_HAND = {"a": 0, "a'": 1, "b": 0, "c": 0, "d": 1, "d'": 0, "e": 0, "e'": 1, "f": 0, "f'": 1}


def _check_valid(model, df: pd.DataFrame) -> None:
    probas = model.probas_.to_numpy()
    assert np.isfinite(probas).all() and (probas >= 0).all()
    np.testing.assert_allclose(probas.sum(1), 1.0, atol=1e-9)
    assert model.probas_.index.equals(pd.Index(sorted(df["task"].unique())))
    assert set(model.labels_) <= {0, 1}
    assert (model.labels_ == model.probas_.idxmax(axis=1)).all()
    if hasattr(model, "skills_"):
        assert np.isfinite(model.skills_.to_numpy()).all()


@pytest.mark.parametrize("method", CATEGORICAL)
def test_mirror_set_valid_and_symmetric(method):
    df = mirror_set()
    model = AGGREGATORS[method]().fit(df)
    _check_valid(model, df)
    if method == "mv":
        assert model.labels_.to_dict() == MV_BY_HAND
    if method in EQUIVARIANT:
        p0 = model.probas_[0]
        for item in "adef":
            assert p0[item] == pytest.approx(1 - p0[item + "'"], abs=1e-9)
        assert p0["b"] == pytest.approx(0.5, abs=1e-12)
        assert p0["c"] == pytest.approx(0.5, abs=1e-12)
        if method in ("mv", "mmsr", "ibcc"):  # exact there (snap_ties), so the tie rule holds
            assert p0["b"] == p0["c"] == 0.5
        assert model.labels_["b"] == model.labels_["c"] == 0
        # unanimous items of 2-3 annotators who agree with the vote everywhere else
        assert model.labels_["a"] == 0 and model.labels_["d"] == 1 and model.labels_["e"] == 0


@pytest.mark.parametrize("method", CATEGORICAL)
def test_one_answer_per_item_returns_the_answer(method):
    # nothing links the items, so no method can learn that an annotator is wrong: the label
    # must be the one answer (KOS's messages and M-MSR's weights are all 0 here; both fall
    # back to the vote)
    df, _ = make_crowd(0, n_classes=2, n_items=20, per_item=1)
    model = AGGREGATORS[method]().fit(df)
    _check_valid(model, df)
    answer = df.set_index("task")["label"]
    if method == "ibcc":
        # mean-field VB locks in: the class prior learned from 13 of 20 answers being 1 pulls
        # the 2-answer annotators who said 0 (no evidence on their skill) over to 1
        agree = (model.labels_.loc[answer.index] == answer).mean()
        assert 0.7 <= agree < 1.0
        assert model.priors_[1] > 0.7
    else:
        assert (model.labels_.loc[answer.index] == answer).all()


@pytest.mark.parametrize("method", CATEGORICAL)
@pytest.mark.parametrize("per_item", [2, 3])
def test_108_items_few_answers_valid(method, per_item):
    df, truth = make_crowd(
        3, n_classes=2, n_items=108, per_item=per_item, n_annotators=20, accuracy=(0.55, 0.95)
    )
    model = AGGREGATORS[method]().fit(df)
    _check_valid(model, df)
    # better than a coin on every method; KOS and M-MSR are the weak ones this small
    assert (model.labels_.loc[truth.index] == truth).mean() > 0.55


def _ck_zbs(df: pd.DataFrame) -> pd.Series:
    import crowdkit.aggregation as ck

    # crowd-kit's ZeroBasedSkill.predict trips over sklearn's tags; its predict is this vote
    return ck.MajorityVote().fit(df, skills=ck.ZeroBasedSkill().fit(df).skills_).labels_


CROWDKIT = {
    "ds": (lambda: AGGREGATORS["ds"](diagonal_prior=0), lambda ck: ck.DawidSkene().fit_predict),
    "one-coin-ds": (AGGREGATORS["one-coin-ds"], lambda ck: ck.OneCoinDawidSkene().fit_predict),
    "glad": (AGGREGATORS["glad"], lambda ck: ck.GLAD().fit_predict),
    "kos": (AGGREGATORS["kos"], lambda ck: ck.KOS().fit_predict),
    "zbs": (AGGREGATORS["zbs"], lambda ck: _ck_zbs),
}


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("method", sorted(CROWDKIT))
@pytest.mark.parametrize("seed,per_item", [(1, 2), (2, 3)])
def test_108_items_match_crowdkit(method, seed, per_item):
    ck = pytest.importorskip("crowdkit.aggregation")
    df, _ = make_crowd(
        seed, n_classes=2, n_items=108, per_item=per_item, n_annotators=20, accuracy=(0.55, 0.95)
    )
    ours_cls, theirs = CROWDKIT[method]
    ours = ours_cls().fit_predict(df)
    ref = theirs(ck)(df)
    assert (ours == ref.loc[ours.index]).all()


def test_kos_zero_score_where_crowdkit_fails():
    ck = pytest.importorskip("crowdkit.aggregation")
    df, _ = make_crowd(0, n_classes=2, n_items=20, per_item=1)
    with pytest.raises(KeyError):
        ck.KOS().fit_predict(df)  # sign(0) has no class in crowd-kit's back-mapping
    model = AGGREGATORS["kos"]().fit(df)
    assert (model.scores_ == 0).all()
    np.testing.assert_array_equal(
        model.probas_.to_numpy(), AGGREGATORS["mv"]().fit(df).probas_.to_numpy()
    )
