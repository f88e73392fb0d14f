"""Outlier scores (features and pred_probs) against cleanlab 2.9's OutOfDistribution."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("cleanlab")
from cleanlab.outlier import OutOfDistribution as ClOOD  # noqa: E402

from labelnoise.common.detection.outlier import (  # noqa: E402
    OutOfDistribution,
    outlier_scores_from_features,
    outlier_scores_from_pred_probs,
)

from ._synthetic import make_pred_probs  # noqa: E402


def _cl(**params: object) -> ClOOD:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ClOOD(params=params or None)


@pytest.mark.parametrize(
    "n, m", [(12, 2), (60, 5), (150, 1), (300, 3), (400, 8)], ids=lambda v: str(v)
)
@pytest.mark.parametrize("k", [None, 1, 4])
def test_feature_scores_match_cleanlab(n: int, m: int, k: int | None) -> None:
    rng = np.random.default_rng(n + m)
    x = rng.normal(size=(n, m))
    x[5] = x[7] = x[9]  # a triple of exact duplicates: at distance 0 from each other
    x[3] = 2.0 * x[4]  # same direction: cosine distance ~0, not a duplicate
    x[0] += 25.0  # an outlier (in Euclidean space)
    ours = OutOfDistribution(k=k)
    got = ours.fit_score(features=x)
    params = {"k": k} if k else {}
    ref = _cl(**params)
    want = ref.fit_score(features=x, verbose=False)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert got.argmin() == 0 or m > 3  # cosine: M > 3 columns
    if k == 1:  # each of the triple's nearest other row is a duplicate, at 0
        np.testing.assert_array_equal(got[[5, 7, 9]], 1.0)
    query = rng.normal(size=(15, m))
    query[0] = x[2]  # equal to a fitted row: that neighbour is at 0
    np.testing.assert_allclose(
        ours.score(features=query), ref.score(features=query), rtol=0, atol=1e-12
    )


def test_feature_scores_by_hand() -> None:
    """k = 1, Euclidean: distance to the nearest other point, over the median of those."""
    x = np.array([[0.0], [1.0], [3.0], [7.0]])
    d = np.array([1.0, 1.0, 2.0, 4.0])  # nearest-other distances
    want = np.exp(-d / np.median(d))
    np.testing.assert_allclose(outlier_scores_from_features(x, k=1), want, rtol=1e-15)
    dup = np.array([[1.0, 1.0], [1.0, 1.0], [4.0, 5.0]])
    got = outlier_scores_from_features(dup, k=1)
    assert got[0] == got[1] == 1.0  # exact duplicates: distance 0 -> score 1


@pytest.mark.parametrize("k_cls", [2, 3, 10, 100])
@pytest.mark.parametrize("method", ["entropy", "least_confidence", "gen"])
@pytest.mark.parametrize("adjust", [True, False])
def test_pred_prob_scores_match_cleanlab(k_cls: int, method: str, adjust: bool) -> None:
    labels, p, _ = make_pred_probs(max(300, 4 * k_cls), k_cls, seed=k_cls, imbalance=True)
    got = outlier_scores_from_pred_probs(p, labels, method=method, adjust_pred_probs=adjust)
    ref = _cl(method=method, adjust_pred_probs=adjust)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = ref.fit_score(pred_probs=p, labels=labels if adjust else None, verbose=False)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    if adjust:  # the fitted thresholds score new data like cleanlab's
        ours = OutOfDistribution(method=method).fit(pred_probs=p, labels=labels)
        np.testing.assert_allclose(
            ours.score(pred_probs=p[:20]), ref.score(pred_probs=p[:20]), rtol=0, atol=1e-12
        )


def test_entropy_score_by_hand() -> None:
    p = np.array([[0.5, 0.5], [1.0, 0.0], [0.9, 0.1]])
    h = -(0.9 * np.log(0.9) + 0.1 * np.log(0.1)) / np.log(2)
    want = np.array([0.0, 1.0, 1.0 - h])
    got = outlier_scores_from_pred_probs(p, adjust_pred_probs=False)
    np.testing.assert_allclose(got, want, atol=1e-15)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: OutOfDistribution(k=0), "k must be a positive integer"),
        (lambda: OutOfDistribution(t=-1.0), "t must be a positive"),
        (lambda: OutOfDistribution(method="msp"), "method must be one of"),  # type: ignore[arg-type]
        (lambda: OutOfDistribution(metric="l1"), "metric must be"),  # type: ignore[arg-type]
        (lambda: outlier_scores_from_features(np.zeros((3, 2)), k=3), "k must be < N = 3"),
        (lambda: outlier_scores_from_features(np.full((3, 2), np.nan)), "features must be finite"),
        (lambda: outlier_scores_from_features(np.zeros(4)), "features must have shape"),
        (lambda: outlier_scores_from_pred_probs(np.eye(3)), "labels are needed"),
        (lambda: OutOfDistribution().fit_score(), "exactly one of features or pred_probs"),
        (lambda: OutOfDistribution().score(features=np.zeros((2, 2))), "fit on features first"),
    ],
)
def test_bad_inputs(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]
