"""K-fold out-of-sample predicted probabilities and ReCoV."""

from __future__ import annotations

import numpy as np
import pytest

from labelnoise.common.detection import cross_val_pred_probs, recov_noise_histogram


class NearestCentroid:
    """A tiny fit/predict_proba estimator (softmax of negative squared centroid distances)."""

    def fit(self, x, y):
        self.classes_ = np.unique(y)
        self.centroids_ = np.stack([x[y == c].mean(axis=0) for c in self.classes_])
        return self

    def predict_proba(self, x):
        d = ((x[:, None, :] - self.centroids_[None]) ** 2).sum(-1)
        e = np.exp(-(d - d.min(axis=1, keepdims=True)))
        return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    k, n = 3, 900
    clean = rng.integers(0, k, n)
    x = rng.normal(size=(n, 2)) + np.array([[0, 0], [6, 0], [0, 6]])[clean]
    noisy = clean.copy()
    flip = rng.random(n) < 0.2
    noisy[flip] = (clean[flip] + rng.integers(1, k, int(flip.sum()))) % k
    return x, noisy, flip


def test_every_example_is_predicted_out_of_sample(blobs):
    x, y, _ = blobs
    seen = np.zeros((len(y),), dtype=int)

    def fit_predict(x_tr, y_tr, x_te):
        rows = {tuple(r) for r in x_tr}
        assert not any(tuple(r) in rows for r in x_te)
        seen[[int(np.flatnonzero((x == r).all(1))[0]) for r in x_te]] += 1
        return NearestCentroid().fit(x_tr, y_tr).predict_proba(x_te)

    p = cross_val_pred_probs(fit_predict, x, y, n_splits=4, seed=1)
    assert (seen == 1).all() and p.shape == (len(y), 3)
    q = cross_val_pred_probs(NearestCentroid(), x, y, n_splits=4, seed=1)
    np.testing.assert_allclose(p, q)


def test_estimator_missing_a_class_in_a_fold_is_mapped_through_classes():
    x = np.arange(12, dtype=float)[:, None]
    y = np.array([0] * 6 + [1] * 5 + [2])
    p = cross_val_pred_probs(NearestCentroid(), x, y, n_splits=2, seed=0, num_classes=3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_recov_estimates_the_noise_rate(blobs):
    x, y, flip = blobs
    res = recov_noise_histogram(NearestCentroid(), x, y, n_repeats=5, n_splits=5, seed=0)
    assert res.histogram.sum() == len(y) and res.histogram.shape == (6,)
    # Bimodal: most mass at 0 (clean) and at 5 misses (mislabelled).
    assert res.histogram[0] + res.histogram[5] > 0.9 * len(y)
    assert abs(res.noise_rate - flip.mean()) < 0.03
    assert (res.is_issue == flip).mean() > 0.95
