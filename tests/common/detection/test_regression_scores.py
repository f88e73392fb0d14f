"""Regression label-quality scores against cleanlab's on the same predictions."""

from __future__ import annotations

import numpy as np
import pytest
from cleanlab.regression.rank import get_label_quality_scores
from sklearn.linear_model import LinearRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import KFold, cross_val_predict

from labelnoise.common.detection.regression import (
    combined_quality,
    neighbor_agreement_quality,
    recalibrate,
    residual_quality,
    robust_scale,
)


def _noisy_linear(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=n)
    bad = rng.random(n) < 0.3
    y_noisy = np.where(bad, rng.uniform(y.min(), y.max(), n), y)
    pred = cross_val_predict(
        LinearRegression(), x, y_noisy, cv=KFold(5, shuffle=True, random_state=0)
    )
    return x, y_noisy, bad, pred


def test_residual_quality_equals_cleanlab_residual_at_unit_scale():
    _, y, _, pred = _noisy_linear()
    ref = get_label_quality_scores(y, pred, method="residual")
    np.testing.assert_allclose(
        residual_quality(y, pred, scale=1.0, recalibrated=False), ref, rtol=1e-12
    )


def test_detection_auprc_at_least_cleanlab_outre_on_same_predictions():
    x, y, bad, pred = _noisy_linear()
    outre = average_precision_score(bad, 1 - get_label_quality_scores(y, pred))
    ours = average_precision_score(bad, 1 - residual_quality(y, pred))
    both = average_precision_score(bad, 1 - combined_quality(y, pred, x))
    assert ours >= outre
    assert both >= outre - 0.02
    # the recalibration is what beats cleanlab here: the raw residual does not
    raw = average_precision_score(bad, 1 - residual_quality(y, pred, recalibrated=False))
    assert raw < ours
    nbr = average_precision_score(bad, 1 - neighbor_agreement_quality(y, x, k=10))
    assert nbr > 0.6  # chance level is the noise rate, ~0.3


def test_scores_in_unit_interval_and_standardised_residuals():
    _, y, _, pred = _noisy_linear(80)
    q = residual_quality(y, pred, std=np.full(80, 2.0), recalibrated=False)
    np.testing.assert_allclose(q, np.exp(-np.abs(y - pred) / 2.0))
    for s in (residual_quality(y, pred), neighbor_agreement_quality(y, y[:, None], k=3)):
        assert s.min() >= 0 and s.max() <= 1
    r = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    assert robust_scale(r) == pytest.approx(1.4826)  # MAD of r is 1


def test_neighbour_agreement_by_hand_and_duplicates():
    y = np.array([0.0, 0.0, 0.0, 10.0])
    x = np.array([[0.0], [0.0], [1.0], [1.0]])  # duplicates at 0: self may not come first
    q = neighbor_agreement_quality(y, x, k=1, bandwidth=1.0)
    np.testing.assert_allclose(q, [1.0, 1.0, np.exp(-50.0), np.exp(-50.0)])


def test_recalibration_undoes_shrinkage():
    rng = np.random.default_rng(1)
    y = rng.normal(size=200)
    shrunk = 0.5 * y + 3.0 + 0.01 * rng.normal(size=200)  # predictions shrunk by noise
    labels = y.copy()
    labels[:50] = rng.uniform(-8, 8, size=50)  # a corrupted minority of labels
    err = np.abs(recalibrate(labels, shrunk) - y)[50:]
    ols = np.polyval(np.polyfit(shrunk, labels, 1), shrunk)  # least squares is pulled away
    assert err.max() < 0.1 < np.abs(ols - y)[50:].max()


def test_bad_inputs():
    y = np.arange(5.0)
    with pytest.raises(ValueError, match=r"predictions must have shape \(5,\)"):
        residual_quality(y, y[:3])
    with pytest.raises(ValueError, match="labels must be finite; got NaN"):
        residual_quality(np.array([1.0, np.nan]), np.zeros(2))
    with pytest.raises(ValueError, match="std must be positive"):
        residual_quality(y, y, std=np.zeros(5))
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 5\)"):
        neighbor_agreement_quality(y, y[:, None], k=5)
    with pytest.raises(ValueError, match=r"features must have shape \(5, D\)"):
        neighbor_agreement_quality(y, y)
