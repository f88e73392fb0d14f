"""cleanlab 2.9 as the reference for the calls added in #26: count options, latent estimates,
dataset health, top issues, the argmax-confusion baseline; K = 2, 3, 10, 100, classes with 0-2
examples and tied probabilities. Multi-label, segmentation and token calls: see
test_cleanlab_parity_units.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("cleanlab")
import cleanlab.count as cl_count  # noqa: E402
import cleanlab.dataset as cl_dataset  # noqa: E402
import cleanlab.filter as cl_filter  # noqa: E402
import cleanlab.rank as cl_rank  # noqa: E402
import pandas as pd  # noqa: E402

from labelnoise.common.detection import (  # noqa: E402
    compute_confident_joint,
    estimate_latent,
    estimate_py_and_noise_matrices_from_probabilities,
    find_label_issues,
    find_label_issues_using_argmax_confusion_matrix,
    find_overlapping_classes,
    find_top_issues,
    get_label_quality_scores,
    health_summary,
    num_label_issues,
    overall_label_health_score,
    rank_classes_by_label_quality,
)


def make_case(n: int, k: int, seed: int, *, rare: bool = False, ties: bool = False):
    """``(labels, pred_probs)``: 20 % noise; ``rare``: the last class has no example and the
    one before it 2 (so its threshold and pruning edge cases apply); ``ties``: probabilities
    rounded to 0.05 steps (many exact ties in every ranking)."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), true] += 2.5
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    labels = np.where(rng.random(n) < 0.2, rng.integers(0, k, n), true)
    if rare and k >= 3:
        labels[labels == k - 1] = 0
        labels[labels == k - 2] = 1
        labels[:2] = k - 2
    if ties:
        p = np.round(p * 20) + 1e-3
        p /= p.sum(axis=1, keepdims=True)
    return labels, p


CASES = [
    (400, 2, 0, False, False),
    (600, 3, 1, True, False),
    (2000, 10, 2, False, False),
    (2000, 10, 3, True, True),
    (3000, 100, 4, True, False),
    (1500, 3, 5, False, True),
]


@pytest.fixture(params=CASES, ids=lambda c: f"n{c[0]}_k{c[1]}_rare{c[3]}_ties{c[4]}")
def case(request):
    n, k, seed, rare, ties = request.param
    return make_case(n, k, seed, rare=rare, ties=ties)


def _close(a, b) -> None:
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("py_method", ["cnt", "eqn", "marginal", "marginal_ps"])
@pytest.mark.parametrize("converge", [False, True])
def test_estimate_latent(case, py_method, converge):
    labels, p = case
    cj = cl_count.compute_confident_joint(labels, p)
    try:
        ref = cl_count.estimate_latent(
            cj, labels, py_method=py_method, converge_latent_estimates=converge
        )
    except np.linalg.LinAlgError:
        with pytest.raises(np.linalg.LinAlgError):
            estimate_latent(cj, labels, py_method=py_method, converge_latent_estimates=converge)
        return
    ours = estimate_latent(cj, labels, py_method=py_method, converge_latent_estimates=converge)
    _close(ours, ref)


@pytest.mark.parametrize("calibrate", [True, False])
def test_py_and_noise_matrices_from_probabilities(case, calibrate):
    labels, p = case
    ref = cl_count.estimate_py_and_noise_matrices_from_probabilities(labels, p, calibrate=calibrate)
    ours = estimate_py_and_noise_matrices_from_probabilities(labels, p, calibrate=calibrate)
    _close(ours, ref)


def test_num_label_issues_off_diagonal_custom(case):
    labels, p = case
    cj = cl_count.compute_confident_joint(labels, p, calibrate=False) * 3 + 1
    ref = cl_count.num_label_issues(
        labels, p, confident_joint=cj, estimation_method="off_diagonal_custom"
    )
    assert num_label_issues(
        labels, p, confident_joint=cj, estimation_method="off_diagonal_custom"
    ) == int(ref)
    with pytest.warns(UserWarning, match="confident_joint is ignored"):
        ours = num_label_issues(labels, p, confident_joint=cj)
    assert ours == cl_count.num_label_issues(labels, p)


@pytest.mark.parametrize("filter_by", ["prune_by_noise_rate", "prune_by_class", "both"])
def test_scalar_num_to_remove_per_class(case, filter_by):
    labels, p = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = cl_filter.find_label_issues(
            labels, p, filter_by=filter_by, num_to_remove_per_class=3, n_jobs=1
        )
    ours = find_label_issues(labels, p, filter_by=filter_by, num_to_remove_per_class=3)
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("calibrate", [True, False])
def test_argmax_confusion_matrix_baseline(case, calibrate):
    labels, p = case
    k = p.shape[1]
    if len(np.union1d(labels, p.argmax(axis=1))) < k:
        pytest.skip("cleanlab's sklearn confusion matrix drops classes never given nor predicted")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = cl_filter.find_label_issues_using_argmax_confusion_matrix(
            labels, p, calibrate=calibrate
        )
    ours = find_label_issues_using_argmax_confusion_matrix(labels, p, calibrate=calibrate)
    np.testing.assert_array_equal(ours, ref)


def test_argmax_confusion_matrix_keeps_absent_classes():
    """A class neither given nor predicted: cleanlab's matrix loses a row; ours keeps K."""
    labels, p = make_case(500, 4, 9)
    p = np.concatenate([p, np.zeros((500, 1))], axis=1)
    mask = find_label_issues_using_argmax_confusion_matrix(labels, p)
    assert mask.shape == (500,)
    np.testing.assert_array_equal(mask, find_label_issues_using_argmax_confusion_matrix(labels, p))


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-9)


@pytest.mark.parametrize("asymmetric", [False, True])
def test_health_summary(case, asymmetric):
    labels, p = case
    names = [f"c{i}" for i in range(p.shape[1])]
    ref = cl_dataset.health_summary(
        labels, p, asymmetric=asymmetric, class_names=names, verbose=False
    )
    ours = health_summary(labels, p, asymmetric=asymmetric, class_names=names)
    assert set(ours) == set(ref)
    assert ours["overall_label_health_score"] == pytest.approx(ref["overall_label_health_score"])
    np.testing.assert_allclose(ours["joint"], ref["joint"])
    _frames_equal(ours["classes_by_label_quality"], ref["classes_by_label_quality"])
    _frames_equal(ours["overlapping_classes"], ref["overlapping_classes"])


def test_dataset_from_confident_joint_or_joint(case):
    labels, p = case
    n = len(labels)
    cj = cl_count.compute_confident_joint(labels, p)
    joint = cl_count.estimate_joint(labels, p)
    for kw in (
        {"labels": labels, "confident_joint": cj},
        {"confident_joint": cj, "num_examples": n},
        {"joint": joint, "num_examples": n},
    ):
        _frames_equal(
            rank_classes_by_label_quality(**kw), cl_dataset.rank_classes_by_label_quality(**kw)
        )
        _frames_equal(find_overlapping_classes(**kw), cl_dataset.find_overlapping_classes(**kw))
        assert overall_label_health_score(**kw) == pytest.approx(
            cl_dataset.overall_label_health_score(**kw, verbose=False)
        )


@pytest.mark.parametrize("top", [0, 1, 10, 500, None])
def test_find_top_issues(case, top):
    labels, p = case
    for method in ("self_confidence", "normalized_margin"):
        q = get_label_quality_scores(labels, p, method=method)
        np.testing.assert_array_equal(
            find_top_issues(q, top=top), cl_rank.find_top_issues(q, top=top)
        )


def test_confident_joint_with_empty_and_tiny_classes():
    """Class K-1 has no example, class K-2 two: same joint, thresholds and mask as cleanlab."""
    labels, p = make_case(800, 5, 11, rare=True)
    assert np.bincount(labels, minlength=5)[3:].tolist() == [2, 0]
    np.testing.assert_array_equal(
        compute_confident_joint(labels, p), cl_count.compute_confident_joint(labels, p)
    )
    for m in (1, 2, 3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = cl_filter.find_label_issues(labels, p, min_examples_per_class=m, n_jobs=1)
        np.testing.assert_array_equal(find_label_issues(labels, p, min_examples_per_class=m), ref)


def test_bad_arguments_name_what_was_expected():
    labels, p = make_case(100, 3, 0)
    with pytest.raises(ValueError, match="py_method must be one of"):
        estimate_latent(np.eye(3), labels, py_method="bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="confident_joint must be given"):
        num_label_issues(labels, p, estimation_method="off_diagonal_custom")
    with pytest.raises(ValueError, match="top must be a non-negative integer"):
        find_top_issues(np.zeros(3), top=-1)
    with pytest.raises(ValueError, match="num_examples must be given with joint"):
        rank_classes_by_label_quality(joint=np.eye(3) / 3)
    with pytest.raises(ValueError, match="num_to_remove_per_class must be integers"):
        find_label_issues(labels, p, num_to_remove_per_class=1.5)  # type: ignore[arg-type]
