"""Segmentation label issues vs cleanlab; majority vote and STAPLE vs crowd-kit and an
independent check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from labelnoise.tasks.segmentation.detection import model_chunks, segmentation_label_issues
from labelnoise.tasks.segmentation.multi_annotator import majority_vote_masks, staple


def _probs_labels(seed=0, n=6, c=3, h=8, w=9):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, c, h, w)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = probs.argmax(1)
    flip = rng.random(labels.shape) < 0.15
    labels[flip] = rng.integers(0, c, flip.sum())
    labels[2] = (labels[2] + 1) % c
    return labels, probs.astype(np.float32)


def test_issues_match_cleanlab_segmentation():
    from cleanlab.segmentation.filter import find_label_issues
    from cleanlab.segmentation.rank import get_label_quality_scores

    labels, probs = _probs_labels()
    chunks = [
        (torch.from_numpy(labels[i : i + 4]), torch.from_numpy(probs[i : i + 4]))
        for i in range(0, 6, 4)
    ]
    ours = segmentation_label_issues(chunks, 3)
    ref = find_label_issues(labels, probs, batch_size=10, n_jobs=1, verbose=False)
    np.testing.assert_array_equal(ours.pixel_issues, ref)
    img, pix = get_label_quality_scores(labels, probs, method="softmin", verbose=False)
    np.testing.assert_allclose(ours.image_quality, img, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours.pixel_quality, pix, rtol=1e-5, atol=1e-6)
    assert ours.ranking[0] == 2


def test_model_chunks_stream():
    model = torch.nn.Conv2d(1, 2, 1)
    x, y = torch.randn(5, 1, 6, 6), torch.randint(0, 2, (5, 6, 6))
    res = segmentation_label_issues(model_chunks(model, x, y, batch_size=2), 2)
    assert res.pixel_issues.shape == (5, 6, 6) and res.image_quality.shape == (5,)
    assert sorted(res.ranking.tolist()) == list(range(5))


def _crowd(seed=0, k=5, h=12, w=12):
    rng = np.random.default_rng(seed)
    truth = np.zeros((h, w), dtype=bool)
    truth[3:9, 2:10] = True
    quality = np.array([0.95, 0.9, 0.85, 0.6, 0.55])[:k]
    masks = np.stack([np.where(rng.random((h, w)) < q, truth, ~truth) for q in quality])
    return truth, masks


def test_majority_vote_matches_crowdkit():
    from crowdkit.aggregation import SegmentationMajorityVote

    for seed in range(3):
        _, masks = _crowd(seed, k=4)
        df = pd.DataFrame(
            [["t", f"w{j}", m] for j, m in enumerate(masks)],
            columns=["task", "worker", "segmentation"],
        )
        ref = SegmentationMajorityVote().fit_predict(df).loc["t"]
        np.testing.assert_array_equal(majority_vote_masks(masks).numpy().astype(bool), ref)


def test_majority_vote_multiclass():
    masks = torch.tensor([[[0, 2]], [[1, 2]], [[1, 0]]])
    assert majority_vote_masks(masks, num_classes=3).tolist() == [[1, 2]]
    with pytest.raises(ValueError, match=r"masks must be in \[0, 2\)"):
        majority_vote_masks(masks)


def test_staple_recovers_annotator_quality_and_agrees_with_crowdkit_em():
    from crowdkit.aggregation import SegmentationEM

    truth, masks = _crowd(1)
    res = staple(masks)
    acc = (masks == truth).reshape(5, -1).mean(1)
    assert np.argsort(res.sensitivity + res.specificity).tolist() == np.argsort(acc).tolist()
    np.testing.assert_allclose((res.sensitivity + res.specificity) / 2, acc, atol=0.08)
    df = pd.DataFrame(
        [["t", f"w{j}", m] for j, m in enumerate(masks)], columns=["task", "worker", "segmentation"]
    )
    ref = SegmentationEM().fit_predict(df).loc["t"]
    assert (res.mask == ref).mean() > 0.97
    assert (res.mask == truth).mean() >= (majority_vote_masks(masks).numpy() == truth).mean()
