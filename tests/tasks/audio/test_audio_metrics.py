"""lwlrap and mAP against scikit-learn references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, label_ranking_average_precision_score

from labelnoise.common.units import two_class_units
from labelnoise.tasks.audio.metrics import (
    clip_scores,
    lwlrap,
    mean_average_precision,
    per_tag_lwlrap,
)


def _data(seed: int, n: int = 60, k: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = (rng.random((n, k)) < 0.3).astype(int)
    truth[::9] = 0  # some all-negative clips
    scores = rng.normal(size=(n, k)) + 1.5 * truth
    return scores, truth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lwlrap_matches_sklearn_lrap_weighted_by_positives(seed):
    scores, truth = _data(seed)
    has = truth.sum(1) > 0
    ref = label_ranking_average_precision_score(
        truth[has], scores[has], sample_weight=truth[has].sum(1)
    )
    assert lwlrap(scores, truth) == pytest.approx(ref, abs=1e-12)
    per_tag, weight = per_tag_lwlrap(torch.from_numpy(scores), torch.from_numpy(truth))
    assert weight.sum() == pytest.approx(1.0)
    assert np.nansum(per_tag * weight) == pytest.approx(ref, abs=1e-12)


def test_lwlrap_ties_count_pessimistically_like_sklearn():
    scores = np.array([[0.5, 0.5, 0.1], [0.2, 0.2, 0.2]])
    truth = np.array([[0, 1, 0], [1, 0, 0]])
    ref = label_ranking_average_precision_score(truth, scores, sample_weight=truth.sum(1))
    assert lwlrap(scores, truth) == pytest.approx(ref)
    assert lwlrap(scores, truth) == pytest.approx((0.5 + 1 / 3) / 2)


def test_map_matches_sklearn_macro_average_precision():
    scores, truth = _data(3)
    scores = np.round(scores, 1)  # ties
    ref = average_precision_score(truth, scores, average="macro")
    assert mean_average_precision(scores, truth) == pytest.approx(ref, abs=1e-12)


def test_metrics_reject_bad_shapes_and_values():
    with pytest.raises(ValueError, match="shape"):
        lwlrap(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="truth must be 0 or 1"):
        lwlrap(np.zeros((2, 2)), np.full((2, 2), 2))


def test_clip_scores_regroups_two_class_units_by_clip():
    logits = torch.randn(5, 4)
    ids_in = torch.tensor([13, 10, 14, 11, 12])
    units = two_class_units(logits, torch.zeros(5, 4), example_id=ids_in)
    ids, regrouped = clip_scores(units.pred, units.example_id, 4)
    assert torch.equal(ids, torch.arange(10, 15))
    assert torch.allclose(regrouped, logits[torch.argsort(ids_in)])
    with pytest.raises(ValueError, match="groups of num_tags"):
        clip_scores(units.pred[:-1], units.example_id[:-1], 4)
