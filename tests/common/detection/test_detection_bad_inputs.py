"""Bad inputs to the detection API: clear ValueErrors, or documented handling."""

from __future__ import annotations

import numpy as np
import pytest

from labelnoise.common.detection import (
    estimate_joint,
    find_label_issues,
    get_label_quality_scores,
    num_label_issues,
)

from ._synthetic import make_pred_probs


@pytest.fixture()
def valid():
    labels, probs, _ = make_pred_probs(200, 4, seed=0)
    return labels, probs


def test_rows_not_summing_to_one(valid):
    labels, probs = valid
    bad = probs.copy()
    bad[3] *= 1.01
    with pytest.raises(ValueError, match=r"pred_probs rows must sum to 1 .* at row 3"):
        find_label_issues(labels, bad)
    find_label_issues(labels, probs * (1 + 1e-5))  # within the tolerance


def test_nan_probabilities(valid):
    labels, probs = valid
    bad = probs.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="pred_probs must be finite; got NaN"):
        find_label_issues(labels, bad)


def test_negative_probabilities(valid):
    labels, probs = valid
    bad = probs.copy()
    bad[5, 1] = -0.1
    bad[5, 0] += 0.1
    with pytest.raises(ValueError, match="pred_probs must be non-negative"):
        get_label_quality_scores(labels, bad)


def test_labels_outside_range(valid):
    labels, probs = valid
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\); got max 4"):
        find_label_issues(np.where(labels == 0, 4, labels), probs)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\); got min -1"):
        find_label_issues(np.where(labels == 0, -1, labels), probs)


def test_k_mismatch_between_labels_and_probs(valid):
    labels, probs = valid
    three = probs[:, :3] / probs[:, :3].sum(axis=1, keepdims=True)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\); got max 3"):
        estimate_joint(labels, three)
    with pytest.raises(ValueError, match=r"labels must have shape \(199,\)"):
        find_label_issues(labels, probs[:-1])


def test_empty_input():
    with pytest.raises(ValueError, match="pred_probs must not be empty; got N = 0"):
        find_label_issues(np.zeros(0, dtype=int), np.zeros((0, 3)))


def test_one_dimensional_probs(valid):
    labels, probs = valid
    with pytest.raises(
        ValueError, match=r"pred_probs must have shape \(N, K\); got shape \(200,\)"
    ):
        num_label_issues(labels, probs[:, 0])


def test_class_with_no_examples_is_documented_handling(valid):
    """A class nobody is labelled with gets threshold 2 (never confident): cleanlab's rule.

    Nothing is counted as truly belonging to it, so no example is pruned towards it, and
    the joint has an (almost) empty column for it; detection still runs.
    """
    labels, probs = valid
    labels = np.where(labels == 2, 0, labels)
    mask = find_label_issues(labels, probs)
    joint = estimate_joint(labels, probs)
    assert mask.shape == labels.shape
    assert joint[:, 2].sum() == 0 and joint[2, 2] == 0
    np.testing.assert_allclose(joint.sum(), 1.0)


def test_bad_options(valid):
    labels, probs = valid
    with pytest.raises(ValueError, match="filter_by must be one of"):
        find_label_issues(labels, probs, filter_by="nope")
    with pytest.raises(ValueError, match="method must be one of"):
        get_label_quality_scores(labels, probs, method="nope")
    with pytest.raises(ValueError, match="num_to_remove_per_class must be None"):
        find_label_issues(
            labels, probs, filter_by="confident_learning", num_to_remove_per_class=[1] * 4
        )
