"""Transition estimation on synthetic data with a known T."""

from __future__ import annotations

import numpy as np
import pytest

from labelnoise.common import TransitionMatrix
from labelnoise.common.detection import (
    estimate_transition_anchor,
    estimate_transition_confident_joint,
)
from labelnoise.common.metrics import transition_error


@pytest.fixture(scope="module")
def synthetic():
    """Clean posteriors with near-anchor points; noisy posteriors = clean @ T; labels ~ T."""
    rng = np.random.default_rng(0)
    k, n = 4, 20_000
    t = TransitionMatrix.random(k, trace=0.7 * k, seed=0)
    tm = t.numpy()
    clean = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) * 1.5
    logits[np.arange(n), clean] += 3.0
    post = np.exp(logits)
    post /= post.sum(axis=1, keepdims=True)
    noisy_post = post @ tm
    cdf = tm[clean].cumsum(axis=1)
    noisy = (rng.random((n, 1)) > cdf).sum(axis=1)
    return t, noisy, noisy_post


def test_anchor_points_recover_t(synthetic):
    t, _, noisy_post = synthetic
    # Patrini et al.: the argmax anchor is near-exact when anchors exist.
    assert transition_error(estimate_transition_anchor(noisy_post, quantile=1.0), t) < 0.01
    # The 97th-percentile anchor trades a little bias for robustness to outliers.
    assert transition_error(estimate_transition_anchor(noisy_post), t) < 0.08


def test_confident_joint_recovers_t(synthetic):
    t, noisy, noisy_post = synthetic
    est = estimate_transition_confident_joint(noisy, noisy_post)
    assert isinstance(est, TransitionMatrix)
    # Confident learning overestimates the noise somewhat on soft posteriors; stated bound.
    assert transition_error(est, t) < 0.2
    assert transition_error(est, t, norm="max") < 0.1
    assert transition_error(est, TransitionMatrix.identity(4)) > transition_error(est, t)
