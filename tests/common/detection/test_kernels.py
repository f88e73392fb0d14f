"""The blocked kernels of ``detection/_kernels.py`` against plain numpy / scipy / cleanlab."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import xlogy

from labelnoise.common.detection import _kernels as kn
from labelnoise.common.detection.confident_joint import _class_counts, _thresholds


def _probs(rng: np.random.Generator, n: int, k: int, dtype=np.float32) -> np.ndarray:
    p = rng.random((n, k)) ** 3
    return (p / p.sum(axis=1, keepdims=True)).astype(dtype)


@pytest.mark.parametrize("k", [1, 2, 3, 7, 8, 9, 10, 17, 31, 32, 100, 129, 300])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_row_sums_bit_for_bit(k: int, dtype) -> None:
    rng = np.random.default_rng(k)
    a = (rng.random((50, k)) ** 3 * rng.choice([1e-3, 1.0, 1e4], (50, k))).astype(dtype)
    np.testing.assert_array_equal(kn.numpy_row_sums(a), a.sum(axis=1))


@pytest.mark.parametrize("k", [2, 10, 100])
def test_confident_code_matches_the_counting_rule(k: int) -> None:
    rng = np.random.default_rng(0)
    p = np.round(_probs(rng, 5000, k) * 2 * k) / (2 * k)  # ties, rows with several confident
    p = p.astype(np.float32)
    cut = np.quantile(p, 1 - 1 / k, axis=0).astype(np.float32)  # ~1 confident class a row
    cut[0] = 2.0  # a class that is never confident
    n_conf, guess = kn.confident_code(p, cut)
    mask = p >= cut
    np.testing.assert_array_equal(n_conf, np.minimum(mask.sum(axis=1), 2))
    one = mask.sum(axis=1) == 1
    np.testing.assert_array_equal(guess[one], mask[one].argmax(axis=1))
    assert (n_conf == 0).any() and one.any() and ((n_conf == 2).any() or k == 2)


@pytest.mark.parametrize("k", [2, 10, 100])
def test_row_argmax_and_row_max_match_numpy_with_ties(k: int) -> None:
    rng = np.random.default_rng(1)
    p = np.round(_probs(rng, 4000, k) * 4).astype(np.float32)  # ties for the maximum
    np.testing.assert_array_equal(kn.row_argmax(p), p.argmax(axis=1))
    np.testing.assert_array_equal(kn.row_max(p), p.max(axis=1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalized_entropy_and_adjusted_blocks_bit_for_bit(dtype) -> None:
    rng = np.random.default_rng(2)
    p = _probs(rng, 70000, 10, dtype)  # several blocks
    p[0, :] = 0.0
    p[0, 3] = 1.0  # 0 log 0 = 0
    ref = -xlogy(p, p).sum(axis=1) / np.log(10)
    np.testing.assert_array_equal(kn.normalized_entropy(p), ref)
    thr = rng.random(10).astype(dtype)
    adj = p - thr
    adj += thr.max()
    sums = np.concatenate([s.copy() for _, _, s in kn.adjusted_blocks(p, thr)])
    np.testing.assert_array_equal(sums, adj.sum(axis=1))


def test_row_sums_and_min_read_only_and_strided_inputs() -> None:
    rng = np.random.default_rng(3)
    p = _probs(rng, 300, 40, np.float64)
    p.flags.writeable = False
    y = np.arange(300) % 40
    sums, lo, sc = kn.row_sums_and_min(p, y)
    np.testing.assert_allclose(sums, p.sum(axis=1), rtol=1e-12)
    assert lo == p.min()
    assert sc is not None
    np.testing.assert_array_equal(sc, p[np.arange(300), y])
    q = np.asfortranarray(p)
    assert kn.row_sums_and_min(q)[1] == p.min()
    assert kn.row_sums_and_min(q)[2] is None
    bad = p.copy()
    bad[5, 2] = np.nan
    assert np.isnan(kn.row_sums_and_min(bad)[0][5])


def test_class_counts_and_thresholds_on_the_many_labels_path() -> None:
    """Few classes and N >= 65536 counts by compare-and-count; thresholds stay cleanlab's."""
    import cleanlab.count as cc

    rng = np.random.default_rng(4)
    n, k = 70000, 5
    y = rng.integers(0, k - 1, n)  # class 4 has no label
    np.testing.assert_array_equal(_class_counts(y, k), np.bincount(y, minlength=k))
    p = _probs(rng, n, k)
    got = _thresholds(y, p)
    ref = cc.get_confident_thresholds(y, p)
    np.testing.assert_array_equal(got, ref)
    assert got.dtype == ref.dtype
