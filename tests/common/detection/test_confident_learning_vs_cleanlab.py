"""find_label_issues, quality scores and the confident joint against cleanlab 2.9."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("cleanlab")
import cleanlab.count as cl_count  # noqa: E402
import cleanlab.filter as cl_filter  # noqa: E402
import cleanlab.rank as cl_rank  # noqa: E402

from labelnoise.common.detection import (  # noqa: E402
    FILTER_BY,
    compute_confident_joint,
    estimate_joint,
    estimate_latent,
    find_label_issues,
    find_predicted_neq_given,
    get_confident_thresholds,
    get_label_quality_ensemble_scores,
    get_label_quality_scores,
    num_label_issues,
)

from ._synthetic import make_pred_probs  # noqa: E402


def _tied(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows drawn from 12 prototypes: many exact ties in every ranking cleanlab does."""
    rng = np.random.default_rng(seed)
    protos = rng.dirichlet(np.full(k, 0.5), size=12)
    rows = rng.integers(0, 12, n)
    labels = np.where(rng.random(n) < 0.7, protos[rows].argmax(1), rng.integers(0, k, n))
    return labels, protos[rows]


CASES = {
    "random_n2000_k2": lambda: make_pred_probs(2000, 2, seed=1)[:2],
    "random_n50000_k10": lambda: make_pred_probs(50_000, 10, seed=2)[:2],
    "random_n5000_k100": lambda: make_pred_probs(5000, 100, seed=3)[:2],
    "imbalanced_k10": lambda: make_pred_probs(8000, 10, seed=4, imbalance=True)[:2],
    "never_predicted_class": lambda: make_pred_probs(3000, 10, seed=5, never_predicted=3)[:2],
    "float32": lambda: make_pred_probs(20_000, 10, seed=6, dtype=np.float32)[:2],
    "ties_k10": lambda: _tied(4000, 10, seed=7),
}


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    return CASES[request.param]()


def test_every_filter_by_matches_cleanlab(case):
    labels, probs = case
    for filter_by in FILTER_BY:
        ref = cl_filter.find_label_issues(labels, probs, filter_by=filter_by, n_jobs=1)
        ours = find_label_issues(labels, probs, filter_by=filter_by)
        assert _jaccard(ours, ref) >= 0.99, filter_by
        assert ours.sum() > 0, filter_by


def test_quality_scores_match_cleanlab(case):
    labels, probs = case
    for method in ("self_confidence", "normalized_margin", "confidence_weighted_entropy"):
        for adjust in (False, True) if method != "confidence_weighted_entropy" else (False,):
            ref = cl_rank.get_label_quality_scores(
                labels, probs, method=method, adjust_pred_probs=adjust
            )
            ours = get_label_quality_scores(labels, probs, method=method, adjust_pred_probs=adjust)
            np.testing.assert_allclose(ours, ref, atol=1e-6, rtol=0)
            assert ours.min() >= 0 and ours.max() <= 1


def test_joint_and_counts_match_cleanlab(case):
    labels, probs = case
    np.testing.assert_allclose(
        estimate_joint(labels, probs), cl_count.estimate_joint(labels, probs), atol=1e-6, rtol=0
    )
    for calibrate in (True, False):
        np.testing.assert_array_equal(
            compute_confident_joint(labels, probs, calibrate=calibrate),
            cl_count.compute_confident_joint(labels, probs, calibrate=calibrate),
        )
    assert num_label_issues(labels, probs) == cl_count.num_label_issues(labels, probs)
    assert num_label_issues(
        labels, probs, estimation_method="off_diagonal_calibrated"
    ) == cl_count.num_label_issues(labels, probs, estimation_method="off_diagonal_calibrated")
    np.testing.assert_allclose(
        get_confident_thresholds(labels, probs),
        cl_count.get_confident_thresholds(labels, probs),
        atol=1e-6,
    )


def test_latent_estimates_match_cleanlab(case):
    labels, probs = case
    cj = cl_count.compute_confident_joint(labels, probs)
    for ours, ref in zip(estimate_latent(cj, labels), cl_count.estimate_latent(cj, labels)):
        np.testing.assert_allclose(ours, ref, atol=1e-6, rtol=0)


def test_options_and_ranking_match_cleanlab():
    labels, probs, _ = make_pred_probs(6000, 10, seed=8, imbalance=True)
    k = probs.shape[1]
    remove = np.bincount(labels, minlength=k) // 20
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kwargs in (
            {"frac_noise": 0.5},
            {"frac_noise": 0.5, "filter_by": "both"},
            {"num_to_remove_per_class": remove, "filter_by": "prune_by_class"},
            {"num_to_remove_per_class": remove},
            {"min_examples_per_class": 500},
            {"confident_joint": cl_count.compute_confident_joint(labels, probs, calibrate=False)},
        ):
            ref = cl_filter.find_label_issues(labels, probs, n_jobs=1, **kwargs)
            ours = find_label_issues(labels, probs, **kwargs)
            assert _jaccard(ours, ref) >= 0.99, kwargs
        for rank_by in ("self_confidence", "normalized_margin", "confidence_weighted_entropy"):
            ref = cl_filter.find_label_issues(
                labels, probs, return_indices_ranked_by=rank_by, n_jobs=1
            )
            ours = find_label_issues(labels, probs, return_indices_ranked_by=rank_by)
            np.testing.assert_array_equal(ours, ref)
    np.testing.assert_array_equal(
        find_predicted_neq_given(labels, probs), cl_filter.find_predicted_neq_given(labels, probs)
    )


def test_ensemble_scores_match_cleanlab():
    labels, p1, _ = make_pred_probs(3000, 5, seed=9)
    _, p2, _ = make_pred_probs(3000, 5, seed=10)
    for weighting in ("accuracy", "uniform"):
        ref = cl_rank.get_label_quality_ensemble_scores(
            labels, [p1, p2], weight_ensemble_members_by=weighting, verbose=False
        )
        ours = get_label_quality_ensemble_scores(
            labels, [p1, p2], weight_ensemble_members_by=weighting
        )
        np.testing.assert_allclose(ours, ref, atol=1e-6, rtol=0)


def test_detects_the_corrupted_labels():
    labels, probs, corrupted = make_pred_probs(5000, 10, seed=11)
    flagged = find_label_issues(labels, probs)
    precision = corrupted[flagged].mean()
    recall = flagged[corrupted].mean()
    assert precision > max(0.7, 3 * corrupted.mean()) and recall > 0.5
