"""Split conformal: the quantile formula by hand, APS / RAPS against the papers' formulas
written out per example, and marginal coverage on exchangeable synthetic data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labelnoise.common.conformal import (
    aps_scores,
    calibrate,
    conformal_quantile,
    coverage,
    lac_scores,
    mean_set_size,
    predict_sets,
    quantile_rank,
    raps_scores,
)


def test_quantile_rank_and_value_by_hand():
    s = [0.3, 0.1, 0.2, 0.5, 0.4]  # sorted: 0.1 0.2 0.3 0.4 0.5
    assert quantile_rank(5, 0.5) == 3 and conformal_quantile(s, 0.5) == 0.3  # ceil(6 * 0.5)
    assert quantile_rank(5, 0.2) == 5 and conformal_quantile(s, 0.2) == 0.5  # ceil(4.8)
    assert quantile_rank(5, 0.34) == 4 and conformal_quantile(s, 0.34) == 0.4  # ceil(3.96)
    assert conformal_quantile(s, 0.1) == math.inf  # ceil(5.4) = 6 > n
    # (9 + 1) * 0.9 is 9.000000000000002 in floating point: still rank 9
    assert quantile_rank(9, 0.1) == 9 and quantile_rank(19, 0.1) == 18
    assert quantile_rank(99, 0.1) == 90


def test_calibrate_picks_the_label_scores_and_sets_follow_the_threshold():
    scores = np.array([[0.1, 0.9], [0.7, 0.2], [0.4, 0.5], [0.8, 0.3]])
    labels = np.array([0, 1, 1, 0])  # label scores 0.1, 0.2, 0.5, 0.8
    assert calibrate(scores, labels, 0.4) == 0.5  # ceil(5 * 0.6) = 3rd smallest
    sets = predict_sets(scores, 0.5)
    assert sets.tolist() == [[True, False], [False, True], [True, True], [False, True]]
    assert coverage(sets, labels) == 0.75 and mean_set_size(sets) == 1.25


def _aps_by_hand(p, y, u, k_reg=None, lam=0.0):
    order = sorted(range(len(p)), key=lambda j: (-p[j], j))
    pos = order.index(y)
    s = sum(p[j] for j in order[:pos]) + u * p[y]
    if k_reg is not None:
        s += lam * max(0, (pos + 1) - k_reg)  # o(x, y) is the 1-based rank
    return s


def test_aps_and_raps_match_the_papers_formulas_per_example():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(6) * 0.7, size=40)
    p[0] = [0.3, 0.3, 0.1, 0.1, 0.1, 0.1]  # ties ranked by class index
    u = rng.random(40)
    aps = aps_scores(p, u=u)
    raps = raps_scores(p, u=u, k_reg=2, lam=0.3)
    plain = aps_scores(p, randomized=False)
    for i in range(40):
        for y in range(6):
            assert aps[i, y] == pytest.approx(_aps_by_hand(p[i], y, u[i]))
            assert raps[i, y] == pytest.approx(_aps_by_hand(p[i], y, u[i], 2, 0.3))
            assert plain[i, y] == pytest.approx(_aps_by_hand(p[i], y, 1.0))
    np.testing.assert_allclose(lac_scores(p), 1 - p)
    # seeded draws are reproducible
    np.testing.assert_array_equal(aps_scores(p, seed=3), aps_scores(p, seed=3))


@pytest.mark.parametrize(
    "score",
    [
        lambda p, s: lac_scores(p),
        lambda p, s: aps_scores(p, seed=s),
        lambda p, s: raps_scores(p, k_reg=1, lam=0.05, seed=s),
    ],
    ids=["lac", "aps", "raps"],
)
def test_marginal_coverage_on_exchangeable_data(score):
    """Over 300 draws of (calibration n = 50, test 200) the mean coverage lies in
    [1 - alpha, 1 - alpha + 1 / (n + 1)] up to 0.01 (its standard error is ~0.003)."""
    alpha, n, m, k = 0.1, 50, 200, 5
    covs = []
    for seed in range(300):
        rng = np.random.default_rng(seed)
        logits = rng.normal(size=(n + m, k)) * 2.0
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        # labels drawn from a *different* distribution than the model's: coverage still holds
        truth = np.exp(0.5 * logits + rng.normal(size=(n + m, k)))
        truth /= truth.sum(1, keepdims=True)
        y = (truth.cumsum(1) > rng.random((n + m, 1))).argmax(1)
        s = score(probs, seed)
        q = calibrate(s[:n], y[:n], alpha)
        covs.append(coverage(predict_sets(s[n:], q), y[n:]))
    mean = float(np.mean(covs))
    assert 1 - alpha - 0.01 <= mean <= 1 - alpha + 1 / (n + 1) + 0.01, mean


def test_boundary_errors_name_the_argument():
    p = np.full((3, 2), 0.5)
    with pytest.raises(ValueError, match="alpha must be in"):
        calibrate(p, [0, 1, 0], 1.5)
    with pytest.raises(ValueError, match=r"labels_cal must have shape \(3,\)"):
        calibrate(p, [0, 1], 0.1)
    with pytest.raises(ValueError, match=r"labels_cal must be in \[0, 2\)"):
        calibrate(p, [0, 1, 2], 0.1)
    with pytest.raises(ValueError, match="probs rows must sum to 1"):
        aps_scores([[0.5, 0.6]])
    with pytest.raises(ValueError, match="scores must be finite"):
        conformal_quantile([0.1, float("nan")], 0.1)
    with pytest.raises(ValueError, match="k_reg must be an integer"):
        raps_scores(p, k_reg=-1)
    with pytest.raises(ValueError, match="sets must be a bool array"):
        coverage(np.ones((2, 2)), [0, 1])
    with pytest.raises(ValueError, match="threshold must be a number"):
        predict_sets(p, "x")  # type: ignore[arg-type]
