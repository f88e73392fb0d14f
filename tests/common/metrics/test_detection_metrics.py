"""Detection, calibration and transition metrics against sklearn and hand computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, precision_recall_fscore_support, roc_auc_score

from labelnoise.common import TransitionMatrix
from labelnoise.common.metrics import (
    auprc,
    auroc,
    detection_report,
    expected_calibration_error,
    noise_rate_error,
    precision_at_k,
    precision_recall_f1,
    transition_error,
)


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(0)
    corrupted = rng.random(2000) < 0.2
    quality = np.round(rng.random(2000) - 0.3 * corrupted, 2)  # rounded: many ties
    return corrupted, quality


def test_auroc_and_auprc_match_sklearn(scored):
    corrupted, quality = scored
    assert auroc(corrupted, quality) == pytest.approx(roc_auc_score(corrupted, -quality), abs=1e-12)
    assert auprc(corrupted, quality) == pytest.approx(
        average_precision_score(corrupted, -quality), abs=1e-12
    )
    assert auroc(torch.from_numpy(corrupted), torch.from_numpy(quality)) == auroc(
        corrupted, quality
    )


def test_precision_recall_f1_match_sklearn(scored):
    corrupted, quality = scored
    flagged = quality < 0.3
    p, r, f, _ = precision_recall_fscore_support(corrupted, flagged, average="binary")
    assert precision_recall_f1(corrupted, flagged) == pytest.approx((p, r, f), abs=1e-12)
    assert precision_recall_f1(corrupted, np.zeros_like(flagged)) == (0.0, 0.0, 0.0)


def test_precision_at_k():
    corrupted = np.array([True, False, True, False, False])
    quality = np.array([0.1, 0.2, 0.9, 0.05, 0.8])
    assert precision_at_k(corrupted, quality) == 0.5  # k = 2: items 3 and 0
    assert precision_at_k(corrupted, quality, k=3) == pytest.approx(1 / 3)


def test_detection_report_and_noise_rate_error(scored):
    corrupted, quality = scored
    rep = detection_report(corrupted, quality, quality < 0.3)
    assert rep["auroc"] == auroc(corrupted, quality)
    assert rep["noise_rate_error"] == pytest.approx(abs((quality < 0.3).mean() - corrupted.mean()))
    assert noise_rate_error([0.1, 0.3], [0.2, 0.2]) == pytest.approx(0.1)


def test_expected_calibration_error_matches_a_loop():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(4), size=500)
    labels = rng.integers(0, 4, 500)
    conf, pred = probs.max(1), probs.argmax(1)
    expected = 0.0
    edges = np.linspace(0, 1, 11)
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            expected += inside.mean() * abs(
                (pred[inside] == labels[inside]).mean() - conf[inside].mean()
            )
    assert expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(expected)
    onehot = np.eye(4)[labels]
    assert expected_calibration_error(onehot, labels) == 0.0


def test_transition_error():
    t = TransitionMatrix.symmetric(3, 0.3)
    assert transition_error(t, t) == 0.0
    eye = TransitionMatrix.identity(3)
    assert transition_error(eye, t) == pytest.approx(0.6 * 3 / 3)
    assert transition_error(eye.numpy(), t, norm="max") == pytest.approx(0.3)


def test_metric_bad_inputs():
    with pytest.raises(ValueError, match="both corrupted and clean"):
        auroc(np.ones(5, bool), np.arange(5.0))
    with pytest.raises(ValueError, match=r"must both have shape \(N,\)"):
        auprc(np.ones(5, bool), np.arange(4.0))
    with pytest.raises(ValueError, match=r"k must be in \[1, 5\]"):
        precision_at_k(np.ones(5, bool), np.arange(5.0), k=0)
