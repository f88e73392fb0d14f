"""OOD scores and metrics against sklearn / scipy and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.covariance import EmpiricalCovariance
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.neighbors import NearestNeighbors

from labelnoise.common.ood import (
    KNNDetector,
    MahalanobisDetector,
    energy_score,
    fpr_at_tpr,
    max_logit_score,
    msp_score,
    ood_auroc,
)


def test_logit_scores_by_hand():
    z = np.array([[2.0, 0.0], [0.0, 0.0], [1.0, 3.0]])
    np.testing.assert_allclose(
        msp_score(z), [np.exp(2) / (np.exp(2) + 1), 0.5, 1 / (1 + np.exp(-2))]
    )
    np.testing.assert_allclose(max_logit_score(z), [2.0, 0.0, 3.0])
    np.testing.assert_allclose(
        energy_score(z), [np.log(np.exp(2) + 1), np.log(2), np.log(np.exp(1) + np.exp(3))]
    )
    np.testing.assert_allclose(energy_score(z, temperature=2.0), 2 * logsumexp(z / 2, axis=1))


@pytest.mark.parametrize("seed", range(4))
def test_auroc_and_fpr95_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    a = np.round(rng.normal(1.0, 1.0, 300), 1)  # rounded: ties across the two groups
    b = np.round(rng.normal(0.0, 1.0, 200), 1)
    truth = np.r_[np.ones(300), np.zeros(200)]
    assert ood_auroc(a, b) == pytest.approx(roc_auc_score(truth, np.r_[a, b]))
    fpr, tpr, _ = roc_curve(truth, np.r_[a, b], drop_intermediate=False)
    for level in (0.95, 0.8, 1.0):
        assert fpr_at_tpr(a, b, tpr=level) == pytest.approx(fpr[np.searchsorted(tpr, level)])


def test_fpr95_by_hand():
    id_scores = np.arange(1, 21, dtype=float)  # 20 in-distribution: keep 19, threshold 2
    ood = np.array([0.5, 1.5, 2.0, 10.0])
    assert fpr_at_tpr(id_scores, ood) == 0.5  # 2.0 and 10.0 score >= 2
    assert ood_auroc([3.0, 4.0], [1.0, 3.0]) == pytest.approx((1 + 0.5 + 1 + 1) / 4)


def test_mahalanobis_matches_sklearn_tied_covariance():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    f = rng.normal(size=(400, 5)) + y[:, None] * np.array([2.0, 0, 1, 0, 0])
    det = MahalanobisDetector(f, y, num_classes=3)
    means = np.stack([f[y == c].mean(0) for c in range(3)])
    cov = EmpiricalCovariance(assume_centered=True).fit(f - means[y])  # Lee et al.'s recipe
    test = rng.normal(size=(50, 5)) * 2
    ref = np.stack([cov.mahalanobis(test - means[c]) for c in range(3)], 1)
    np.testing.assert_allclose(det.distances(test), ref, rtol=1e-6)
    np.testing.assert_allclose(det.score(test), -ref.min(1), rtol=1e-6)
    # an absent class is skipped
    det4 = MahalanobisDetector(f, y, num_classes=4)
    assert np.isinf(det4.distances(test)[:, 3]).all()
    np.testing.assert_allclose(det4.score(test), det.score(test))


def test_knn_matches_sklearn_on_normalised_features():
    rng = np.random.default_rng(1)
    train, test = rng.normal(size=(300, 8)), rng.normal(size=(70, 8))
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    nn = NearestNeighbors(n_neighbors=7).fit(unit(train))
    dist, _ = nn.kneighbors(unit(test))
    det = KNNDetector(train, k=7, block_size=16)
    np.testing.assert_allclose(det.kth_distance(test), dist[:, 6], atol=1e-6)
    np.testing.assert_allclose(det.score(test * 3.0), -dist[:, 6], atol=1e-6)  # scale-free


def test_detectors_separate_shifted_data():
    """A feature-space shift far from the training clusters is detected (AUROC > 0.95)."""
    rng = np.random.default_rng(2)
    y = rng.integers(0, 4, 500)
    centers = rng.normal(size=(4, 6)) * 4
    f = centers[y] + rng.normal(size=(500, 6))
    test_in = centers[rng.integers(0, 4, 200)] + rng.normal(size=(200, 6))
    test_out = rng.normal(size=(200, 6)) * 6 + 20
    for det in (MahalanobisDetector(f, y), KNNDetector(f, k=10)):
        assert ood_auroc(det.score(test_in), det.score(test_out)) > 0.95


def test_boundary_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"logits must have shape \(N, K\)"):
        msp_score(np.zeros(3))
    with pytest.raises(ValueError, match="temperature must be"):
        energy_score(np.zeros((2, 2)), temperature=0)
    with pytest.raises(ValueError, match="tpr must be in"):
        fpr_at_tpr([1.0], [0.0], tpr=0)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 3\]"):
        KNNDetector(np.zeros((3, 2)), k=5)
    with pytest.raises(ValueError, match="features must have 2 columns"):
        KNNDetector(np.ones((3, 2)), k=1).score(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"train_labels must have shape \(3,\)"):
        MahalanobisDetector(np.ones((3, 2)), [0, 1])
    with pytest.raises(ValueError, match="id_scores must be finite"):
        ood_auroc([np.nan], [0.0])
