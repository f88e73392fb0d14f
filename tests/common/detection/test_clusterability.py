"""SimiFeat-style k-NN clusterability against an independent brute-force implementation."""

from __future__ import annotations

import numpy as np
import pytest

from labelnoise.common.detection import knn_label_clusterability, knn_neighbors
from labelnoise.common.metrics import auroc


@pytest.fixture(scope="module")
def clusters():
    rng = np.random.default_rng(0)
    k, n, d = 5, 1500, 16
    centers = rng.normal(size=(k, d)) * 3
    clean = rng.integers(0, k, n)
    feats = centers[clean] + rng.normal(size=(n, d))
    noisy = clean.copy()
    flip = rng.random(n) < 0.25
    noisy[flip] = (clean[flip] + rng.integers(1, k, int(flip.sum()))) % k
    return feats, noisy, flip


def test_neighbours_match_brute_force(clusters):
    feats = clusters[0][:300]
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    expected = np.argsort(-sim, axis=1, kind="stable")[:, :7]
    np.testing.assert_array_equal(knn_neighbors(feats, k=7, block_size=64), expected)


def test_scores_and_vote(clusters):
    feats, noisy, flip = clusters
    quality, is_issue = knn_label_clusterability(feats, noisy, k=10)
    nbrs = knn_neighbors(feats, k=10)
    np.testing.assert_allclose(quality, (noisy[nbrs] == noisy[:, None]).mean(axis=1))
    assert auroc(flip, quality) > 0.95
    assert (is_issue == flip).mean() > 0.95
