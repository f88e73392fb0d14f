"""Noise-Aware Conformal Prediction (Penso, Goldberger & Fetaya, COPA 2025): the estimate
against its formula written out, the uniform and matrix forms against each other, the noiseless
limit against split conformal, and clean coverage from noisy calibration labels."""

from __future__ import annotations

import numpy as np
import pytest

from labelnoise.common.conformal import (
    aps_scores,
    calibrate,
    calibrate_nacp,
    conformal_quantile,
    coverage,
    estimated_clean_coverage,
    lac_scores,
    mean_set_size,
    predict_sets,
)
from labelnoise.common.transition import TransitionMatrix


def _data(seed, n, k=4):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k)) * 2.0
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = (p.cumsum(1) > rng.random((n, 1))).argmax(1)  # a calibrated model
    return p, y, rng


def _corrupt(y, t, rng):
    return np.array([rng.choice(t.shape[0], p=t[c]) for c in y])


def test_estimate_matches_trace_of_m_times_t_inverse_written_out():
    p, y, rng = _data(0, 30)
    t = TransitionMatrix.random(4, trace=2.8, seed=1).numpy()
    noisy = _corrupt(y, t, rng)
    s = lac_scores(p)
    qs = np.array([0.2, 0.5, 0.8, 0.95])
    got = estimated_clean_coverage(s, noisy, qs, transition=t)
    w = np.linalg.inv(t)
    for q, g in zip(qs, got):
        m = np.zeros((4, 4))  # M[l, i] = (1/n) #{j : noisy_j = i, l in C_q(x_j)}
        for j in range(30):
            for l in range(4):  # noqa: E741
                if s[j, l] <= q:
                    m[l, noisy[j]] += 1 / 30
        assert g == pytest.approx(np.trace(m @ w))


def test_uniform_form_equals_the_matrix_form_and_the_paper_formula():
    p, y, rng = _data(1, 40)
    eps, k = 0.3, 4
    t = (1 - eps) * np.eye(k) + eps / k
    noisy = _corrupt(y, t, rng)
    s = aps_scores(p, seed=0)
    qs = np.linspace(0.05, 1.0, 9)
    uni = estimated_clean_coverage(s, noisy, qs, epsilon=eps)
    np.testing.assert_allclose(uni, estimated_clean_coverage(s, noisy, qs, transition=t))
    for q, g in zip(qs, uni):
        sets = s <= q
        f_n = sets[np.arange(40), noisy].mean()
        f_r = sets.sum(1).mean() / k
        assert g == pytest.approx((f_n - eps * f_r) / (1 - eps))


def test_noiseless_model_gives_split_conformal():
    p, y, _ = _data(2, 57)
    s = aps_scores(p, seed=2)
    q = conformal_quantile(s[np.arange(57), y], 0.1)
    assert calibrate(s, y, 0.1, epsilon=0.0) == q
    assert calibrate(s, y, 0.1, transition=np.eye(4)) == q
    assert calibrate_nacp(s, y, 0.01, epsilon=0.2) == np.inf  # ceil(58 * 0.99) > 57


def test_threshold_is_the_first_candidate_from_which_the_estimate_stays_above_target():
    p, y, rng = _data(3, 200)
    t = TransitionMatrix.symmetric(4, 0.3).numpy()
    noisy = _corrupt(y, t, rng)
    s = lac_scores(p)
    q = calibrate_nacp(s, noisy, 0.1, transition=t)
    level = np.ceil(201 * 0.9) / 200
    cand = np.unique(s)
    f = estimated_clean_coverage(s, noisy, cand, transition=t)
    above = cand >= q
    assert (f[above] >= level - 1e-12).all()
    assert f[np.flatnonzero(cand < q)[-1]] < level


@pytest.mark.parametrize("kind", ["uniform", "matrix"])
def test_clean_coverage_from_noisy_calibration(kind):
    """Calibration labels with 30 % noise (n = 500, K = 4): over 60 draws, noise-aware sets
    cover the clean test labels at 0.90 +- 0.015 (standard error ~0.004), while
    naive calibration on the noisy labels over-covers with larger sets."""
    alpha, n, m, k = 0.1, 500, 1000, 4
    t = (1 - 0.3) * np.eye(k) + 0.3 / k
    if kind == "matrix":  # class-dependent noise of the same strength
        t = TransitionMatrix.random(k, trace=2.8, seed=5).numpy()
    naive: list[float] = []
    aware: list[float] = []
    size_naive: list[float] = []
    size_aware: list[float] = []
    for seed in range(60):
        p, y, rng = _data(100 + seed, n + m, k)
        noisy = _corrupt(y[:n], t, rng)
        s = aps_scores(p, seed=seed)
        noise = {"epsilon": 0.3} if kind == "uniform" else {"transition": t}
        for out, size, q in (
            (naive, size_naive, calibrate(s[:n], noisy, alpha)),
            (aware, size_aware, calibrate(s[:n], noisy, alpha, **noise)),
        ):
            sets = predict_sets(s[n:], q)
            out.append(coverage(sets, y[n:]))
            size.append(mean_set_size(sets))
    assert abs(np.mean(aware) - 0.9) <= 0.015, np.mean(aware)
    assert np.mean(naive) > 0.93 and np.mean(size_naive) > np.mean(size_aware)


def test_noise_model_errors_name_the_argument():
    s = lac_scores(np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="exactly one of transition or epsilon"):
        calibrate_nacp(s, [0, 1, 0], 0.1)
    with pytest.raises(ValueError, match="exactly one of transition or epsilon"):
        calibrate_nacp(s, [0, 1, 0], 0.1, transition=np.eye(2), epsilon=0.1)
    with pytest.raises(ValueError, match=r"epsilon must be in \[0, 1\)"):
        calibrate(s, [0, 1, 0], 0.1, epsilon=1.0)
    with pytest.raises(ValueError, match=r"transition must have shape \(2, 2\)"):
        calibrate(s, [0, 1, 0], 0.1, transition=np.eye(3))
    with pytest.raises(ValueError, match="transition must be invertible"):
        calibrate(s, [0, 1, 0], 0.1, transition=np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="rows must sum to 1"):
        calibrate(s, [0, 1, 0], 0.1, transition=[[0.5, 0.2], [0.0, 1.0]])
