"""Multi-label issues (one-vs-rest confident learning) against cleanlab 2.9."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("cleanlab")
from cleanlab.multilabel_classification import filter as ml_filter  # noqa: E402
from cleanlab.multilabel_classification import rank as ml_rank  # noqa: E402

from labelnoise.common.detection import (  # noqa: E402
    FILTER_BY,
    find_label_issues,
    get_multilabel_quality_scores,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n, k = 3000, 6
    truth = (rng.random((n, k)) < 0.3).astype(int)
    probs = np.clip(truth * 0.6 + rng.random((n, k)) * 0.4, 0, 1)
    given = truth.copy()
    flip = rng.random((n, k)) < 0.05
    given[flip] = 1 - given[flip]
    as_lists = [list(np.flatnonzero(row)) for row in given]
    return given, as_lists, probs, flip.any(axis=1)


def test_every_filter_by_matches_cleanlab(data):
    given, as_lists, probs, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for filter_by in FILTER_BY:
            ref = ml_filter.find_label_issues(as_lists, probs, filter_by=filter_by, n_jobs=1)
            for labels in (given, as_lists):
                ours = find_label_issues(labels, probs, filter_by=filter_by, multi_label=True)
                np.testing.assert_array_equal(ours, ref)
        ref = ml_filter.find_label_issues(
            as_lists, probs, return_indices_ranked_by="self_confidence", n_jobs=1
        )
        ours = find_label_issues(
            given, probs, multi_label=True, return_indices_ranked_by="self_confidence"
        )
        np.testing.assert_array_equal(ours, ref)


def test_quality_scores_match_cleanlab(data):
    given, as_lists, probs, corrupted = data
    for method in ("self_confidence", "normalized_margin"):
        for aggregator, kwargs in (
            ("exponential_moving_average", {"alpha": 0.8}),
            ("softmin", {"temperature": 0.1}),
        ):
            ref = ml_rank.get_label_quality_scores(
                as_lists, probs, method=method, aggregator_kwargs={"method": aggregator, **kwargs}
            )
            ours = get_multilabel_quality_scores(given, probs, method=method, aggregator=aggregator)
            np.testing.assert_allclose(ours, ref, atol=1e-6, rtol=0)
    q = get_multilabel_quality_scores(given, probs)
    assert q[corrupted].mean() < q[~corrupted].mean()
