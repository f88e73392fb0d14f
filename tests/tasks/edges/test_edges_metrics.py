"""BSDS boundary metrics against straightforward reference implementations."""

import numpy as np
import pytest

from labelnoise.tasks.edges.metrics import (
    boundary_counts,
    edge_scores,
    evaluate_edges,
    match_boundaries,
    nms_thin,
    thresholds_for,
)


def _ref_max_matching(pred, gt, max_dist):
    """Kuhn's augmenting paths over all pixel pairs within max_dist (plain Python)."""
    p, g = np.argwhere(pred), np.argwhere(gt)
    adj = [
        [j for j in range(len(g)) if np.hypot(*(p[i] - g[j])) <= max_dist] for i in range(len(p))
    ]
    match_g = [-1] * len(g)

    def augment(i, seen):
        for j in adj[i]:
            if not seen[j]:
                seen[j] = True
                if match_g[j] < 0 or augment(match_g[j], seen):
                    match_g[j] = i
                    return True
        return False

    return sum(augment(i, [False] * len(g)) for i in range(len(p)))


def _ref_counts(prob, gts, ts, max_dist, method):
    out = []
    for t in ts:
        pred = prob >= t
        acc, cnt_r, sum_r = np.zeros_like(pred), 0, 0
        for gt in gts:
            if method == "distance":
                p, g = np.argwhere(pred), np.argwhere(gt)
                d = (
                    np.hypot(*(p[:, None, :] - g[None, :, :]).transpose(2, 0, 1))
                    if len(p) and len(g)
                    else np.zeros((len(p), len(g)))
                )
                mp = (d <= max_dist).any(1) if len(g) else np.zeros(len(p), bool)
                acc[tuple(p[mp].T)] = True
                cnt_r += int((d <= max_dist).any(0).sum()) if len(p) else 0
            else:
                mp, _ = match_boundaries(pred, gt, max_dist=max_dist)
                acc |= mp
                cnt_r += _ref_max_matching(pred, gt, max_dist)
            sum_r += int(gt.sum())
        out.append([cnt_r, sum_r, int(acc.sum()), int(pred.sum())])
    return np.array(out)


def _line(h=20, w=30, row=10):
    m = np.zeros((h, w), bool)
    m[row, 3:27] = True
    return m


def test_prediction_equal_to_ground_truth_scores_one():
    gt = _line()
    gt[3:17, 15] = True
    s = evaluate_edges([gt.astype(float)], [gt[None]], thresholds=9, thin=False)
    assert s["ods"] == pytest.approx(1.0) and s["ois"] == pytest.approx(1.0)


@pytest.mark.parametrize("method", ["bipartite", "distance"])
def test_shift_within_tolerance_matches_beyond_does_not(method):
    gt = _line(row=10)
    # diagonal of 20x30 = 36.06 px; max_dist_frac 0.05 -> 1.80 px
    for shift, expected in [(1, 1.0), (3, 0.0)]:
        pred = _line(row=10 + shift).astype(float)
        s = evaluate_edges(
            [pred], [gt[None]], thresholds=5, max_dist_frac=0.05, method=method, thin=False
        )
        assert s["ods"] == pytest.approx(expected)


def test_bipartite_is_one_to_one_distance_is_not():
    gt = _line(row=10)
    pred = _line(row=10) | _line(row=11)  # a two-pixel-thick prediction
    mp_b, _ = match_boundaries(pred, gt, max_dist=1.5)
    mp_d, _ = match_boundaries(pred, gt, max_dist=1.5, method="distance")
    assert mp_b.sum() == gt.sum() and mp_d.sum() == pred.sum()


@pytest.mark.parametrize("method", ["bipartite", "distance"])
def test_counts_agree_with_reference(method):
    rng = np.random.default_rng(0)
    gts = np.zeros((2, 16, 18), bool)
    gts[0, 8, 2:16] = True
    gts[0, 2:14, 9] = True
    gts[1, 9, 1:15] = True
    gts[1, 4:12, 3] = True
    prob = np.where(rng.random((16, 18)) < 0.25, rng.random((16, 18)), 0.0)
    prob[8, 2:16] = rng.uniform(0.4, 1.0, 14)
    ts = thresholds_for(7)
    got = boundary_counts(prob, gts, thresholds=ts, max_dist_frac=0.06, method=method, thin=False)
    ref = _ref_counts(prob, gts, ts, 0.06 * np.hypot(16, 18), method)
    np.testing.assert_array_equal(got, ref)


def test_ods_at_least_every_single_threshold_f_and_ois_at_least_ods():
    rng = np.random.default_rng(1)
    ts = thresholds_for(9)
    counts = []
    for _ in range(4):
        gt = np.zeros((2, 20, 24), bool)
        gt[0, rng.integers(2, 18), 2:22] = True
        gt[1, 2:18, rng.integers(2, 22)] = True
        prob = np.clip(gt.mean(0) * rng.uniform(0.3, 1) + rng.random((20, 24)) * 0.4, 0, 1)
        counts.append(boundary_counts(prob, gt, thresholds=ts))
    counts = np.stack(counts)
    s = edge_scores(counts, ts)
    c = counts.sum(0)
    r, p = c[:, 0] / c[:, 1], c[:, 2] / np.maximum(c[:, 3], 1)
    f = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0)
    assert s["ods"] >= f.max() - 1e-12 and s["ods"] == pytest.approx(f.max())
    assert s["ois"] >= s["ods"] - 1e-12
    assert 0 <= s["ap"] <= 1


def test_nms_thins_a_blurred_line_to_one_pixel():
    from scipy import ndimage

    prob = ndimage.gaussian_filter(_line(row=10).astype(float), 1.5)
    thin = nms_thin(prob) > 0.05 * prob.max()
    cols = thin[:, 8:22]
    assert (cols.sum(0) == 1).all() and cols[10].all()


def test_bad_inputs():
    with pytest.raises(ValueError, match="annotators must have shape"):
        boundary_counts(np.zeros((4, 4)), np.zeros((1, 4, 5)))
    with pytest.raises(ValueError, match="method must be"):
        boundary_counts(np.zeros((4, 4)), np.zeros((1, 4, 4)), method="nearest")
