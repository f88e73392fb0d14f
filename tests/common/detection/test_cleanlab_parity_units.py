"""cleanlab 2.9 as the reference for the multi-label, segmentation and token calls of #26:
multi-label counts and the confident_joint bug, low_memory, aggregators and health summaries;
pixel issues with downsampling and image scores; token issues and sentence scores."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("cleanlab")
import cleanlab.count as cl_count  # noqa: E402
import cleanlab.filter as cl_filter  # noqa: E402
import cleanlab.multilabel_classification.dataset as cl_ml_dataset  # noqa: E402
import cleanlab.multilabel_classification.filter as cl_ml_filter  # noqa: E402
import cleanlab.multilabel_classification.rank as cl_ml_rank  # noqa: E402
import cleanlab.segmentation.filter as cl_seg_filter  # noqa: E402
import cleanlab.segmentation.rank as cl_seg_rank  # noqa: E402
import cleanlab.token_classification.filter as cl_tok_filter  # noqa: E402
import cleanlab.token_classification.rank as cl_tok_rank  # noqa: E402
import pandas as pd  # noqa: E402

from labelnoise.common.detection import (  # noqa: E402
    calibrate_confident_joint,
    compute_confident_joint,
    estimate_joint,
    find_label_issues,
    find_predicted_neq_given,
    find_segmentation_issues,
    find_token_issues,
    get_confident_thresholds,
    get_multilabel_quality_scores,
    get_multilabel_quality_scores_per_class,
    get_segmentation_quality_scores,
    get_token_quality_scores,
    multilabel_health_summary,
    num_label_issues,
    segmentation_issues_from_scores,
    token_issues_from_scores,
)


def multilabel_case(n: int, k: int, seed: int):
    rng = np.random.default_rng(seed)
    truth = rng.random((n, k)) < 0.3
    p = np.clip(truth * 0.6 + rng.random((n, k)) * 0.5, 0, 1)
    p = np.round(p, 2)  # ties
    noisy = truth ^ (rng.random((n, k)) < 0.08)
    noisy[:, -1] = False  # a class nobody has
    noisy[:2, -1] = True  # ... but two examples
    return [np.flatnonzero(r).tolist() for r in noisy], p


@pytest.fixture(params=[(300, 2, 0), (400, 3, 1), (500, 10, 2)], ids=lambda c: f"k{c[1]}")
def ml_case(request):
    return multilabel_case(*request.param)


def test_issue_example_confident_joint_is_used():
    """The example of #26: with the reversed per-class joint cleanlab flags nothing."""
    p = np.array([[0.9, 0.1, 0, 0.4], [0.7, 0.8, 0.2, 0.3], [0.9, 0.8, 0.4, 0.2]])
    p = np.concatenate([p, [[0.1, 0.1, 0.8, 0.3], [0.4, 0.5, 0.1, 0.1]]])
    labels = [[0], [0, 1], [0, 1], [2], [0, 2, 3]]
    cj = cl_count.compute_confident_joint(labels, p, multi_label=True)[:, ::-1, ::-1].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = cl_filter.find_label_issues(labels, p, multi_label=True, confident_joint=cj)
    ours = find_label_issues(labels, p, multi_label=True, confident_joint=cj)
    np.testing.assert_array_equal(ours, ref)
    assert not ours.any()
    with pytest.raises(ValueError, match=r"confident_joint must have shape \(4, 2, 2\)"):
        find_label_issues(labels, p, multi_label=True, confident_joint=np.zeros((7, 7, 7)))


def test_multilabel_counts(ml_case):
    labels, p = ml_case
    kw = {"multi_label": True}
    np.testing.assert_allclose(
        get_confident_thresholds(labels, p, **kw),
        cl_count.get_confident_thresholds(labels, p, **kw),
    )
    for calibrate in (True, False):
        ours, offs = compute_confident_joint(
            labels, p, calibrate=calibrate, return_indices_of_off_diagonals=True, **kw
        )
        ref, ref_offs = cl_count.compute_confident_joint(
            labels, p, calibrate=calibrate, return_indices_of_off_diagonals=True, **kw
        )
        np.testing.assert_array_equal(ours, ref)
        for a, b in zip(offs, ref_offs):
            np.testing.assert_array_equal(a, b)
    cj = cl_count.compute_confident_joint(labels, p, calibrate=False, **kw)
    np.testing.assert_array_equal(
        calibrate_confident_joint(cj, labels, **kw),
        cl_count.calibrate_confident_joint(cj, labels, **kw),
    )
    for given in (None, cj * 2 + 1):
        np.testing.assert_allclose(
            estimate_joint(labels, p, confident_joint=given, **kw),
            cl_count.estimate_joint(labels, p, confident_joint=given, **kw),
        )
    assert num_label_issues(labels, p, **kw) == cl_count.num_label_issues(labels, p, **kw)
    np.testing.assert_array_equal(
        find_predicted_neq_given(labels, p, **kw),
        cl_filter.find_predicted_neq_given(labels, p, **kw),
    )


@pytest.mark.parametrize("filter_by", ["prune_by_noise_rate", "both", "low_self_confidence"])
def test_multilabel_filter_with_confident_joint(ml_case, filter_by):
    labels, p = ml_case
    cj = cl_count.compute_confident_joint(labels, p, multi_label=True)
    cj = cj + np.eye(2, dtype=cj.dtype)[None] * np.arange(cj.shape[0])[:, None, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = cl_filter.find_label_issues(
            labels, p, multi_label=True, confident_joint=cj, filter_by=filter_by, n_jobs=1
        )
    ours = find_label_issues(labels, p, multi_label=True, confident_joint=cj, filter_by=filter_by)
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("rank_by", [None, "self_confidence", "normalized_margin"])
def test_multilabel_low_memory(ml_case, rank_by):
    labels, p = ml_case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = cl_ml_filter.find_label_issues(
            labels, p, low_memory=True, return_indices_ranked_by=rank_by
        )
    ours = find_label_issues(
        labels, p, multi_label=True, low_memory=True, return_indices_ranked_by=rank_by
    )
    np.testing.assert_array_equal(ours, ref)


def test_multilabel_aggregators_and_per_class(ml_case):
    labels, p = ml_case

    def worst_two(s: np.ndarray, axis: int = 1) -> np.ndarray:
        return np.sort(s, axis=axis)[:, :2].mean(axis=axis)

    for ours_kw, ref_kw in (
        ({"aggregator": "softmin", "temperature": 0.2}, {"method": "softmin", "temperature": 0.2}),
        ({"alpha": None}, {"method": "exponential_moving_average", "alpha": None}),
        ({"aggregator": worst_two}, {"method": worst_two}),
    ):
        np.testing.assert_allclose(
            get_multilabel_quality_scores(labels, p, **ours_kw),  # type: ignore[arg-type]
            cl_ml_rank.get_label_quality_scores(labels, p, aggregator_kwargs=ref_kw),
        )
    ref = np.asarray(cl_ml_rank.get_label_quality_scores_per_class(labels, p))
    ours = get_multilabel_quality_scores_per_class(labels, p)
    np.testing.assert_allclose(ours, ref if ref.shape == ours.shape else ref.T)


def test_multilabel_health_summary(ml_case):
    labels, p = ml_case
    names = [f"c{i}" for i in range(p.shape[1])]
    ref = cl_ml_dataset.multilabel_health_summary(labels, p, class_names=names, verbose=False)
    ours = multilabel_health_summary(labels, p, class_names=names)
    assert ours["overall_multilabel_health_score"] == pytest.approx(
        ref["overall_multilabel_health_score"]
    )
    for key in ("classes_by_multilabel_quality", "common_multilabel_issues"):
        pd.testing.assert_frame_equal(ours[key], ref[key], check_dtype=False)


def segmentation_case(n: int, k: int, hw: int, seed: int):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, (n, hw, hw))
    logits = rng.normal(size=(n, k, hw, hw))
    np.put_along_axis(logits, y[:, None], np.take_along_axis(logits, y[:, None], 1) + 1.5, 1)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    noisy = np.where(rng.random(y.shape) < 0.2, rng.integers(0, k, y.shape), y)
    return noisy, p


@pytest.mark.parametrize(("k", "downsample"), [(2, 1), (3, 2), (10, 1), (10, 4)])
def test_segmentation(k, downsample):
    labels, p = segmentation_case(5, k, 16, seed=k)
    ref = cl_seg_filter.find_label_issues(labels, p, downsample=downsample, verbose=False)
    ours = find_segmentation_issues(labels, p, downsample=downsample, batch_images=2)
    np.testing.assert_array_equal(ours, ref)
    for kw in ({"temperature": 0.1}, {"method": "num_pixel_issues", "downsample": downsample}):
        ref_s = cl_seg_rank.get_label_quality_scores(labels, p, verbose=False, **kw)
        ours_s = get_segmentation_quality_scores(labels, p, **kw)  # type: ignore[arg-type]
        np.testing.assert_allclose(ours_s[0], ref_s[0])
        np.testing.assert_allclose(ours_s[1], ref_s[1])
    img, pix = ref_s
    np.testing.assert_array_equal(
        segmentation_issues_from_scores(img, threshold=0.9),
        cl_seg_rank.issues_from_scores(img, threshold=0.9),
    )
    np.testing.assert_array_equal(
        segmentation_issues_from_scores(img, pix, 0.3),
        cl_seg_rank.issues_from_scores(img, pix, 0.3),
    )


def test_segmentation_rejects_unnormalised_probabilities():
    labels, p = segmentation_case(2, 3, 8, seed=0)
    with pytest.raises(ValueError, match="must sum to 1 over classes"):
        find_segmentation_issues(labels, p * 2)


def token_case(k: int, seed: int):
    rng = np.random.default_rng(seed)
    labels, probs = [], []
    for t in rng.integers(1, 12, 250):
        y = rng.integers(0, k, t)
        logits = rng.normal(size=(t, k))
        logits[np.arange(t), y] += 2
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        labels.append(np.where(rng.random(t) < 0.15, rng.integers(0, k, t), y).tolist())
        probs.append(p)
    return labels, probs


@pytest.mark.parametrize("k", [2, 3, 10])
def test_token_classification(k):
    labels, probs = token_case(k, seed=k)
    for kw in (
        {},
        {"return_indices_ranked_by": "normalized_margin", "filter_by": "both"},
        {"low_memory": True},
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = cl_tok_filter.find_label_issues(labels, probs, **kw)
        assert find_token_issues(labels, probs, **kw) == ref
    for method, temperature in (
        ("min", 0.05),
        ("softmin", 0.05),
        ("softmin", 0),
        ("softmin", np.inf),
    ):
        kw = {
            "sentence_score_method": method,
            "sentence_score_kwargs": {"temperature": temperature},
        }
        ref_s, ref_t = cl_tok_rank.get_label_quality_scores(labels, probs, **kw)
        ours_s, ours_t = get_token_quality_scores(labels, probs, **kw)  # type: ignore[arg-type]
        np.testing.assert_allclose(ours_s, ref_s)
        for a, b in zip(ours_t, ref_t):
            pd.testing.assert_series_equal(a, b)
    assert token_issues_from_scores(ref_s, token_scores=ref_t, threshold=0.3) == (
        cl_tok_rank.issues_from_scores(ref_s, token_scores=ref_t, threshold=0.3)
    )
    np.testing.assert_array_equal(
        token_issues_from_scores(ref_s, threshold=0.3),
        cl_tok_rank.issues_from_scores(ref_s, threshold=0.3),
    )
