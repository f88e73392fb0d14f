"""Mask noise simulators: shapes/dtypes preserved, ignore kept, noise-free identity, dilation
grows regions, presets ordered, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from labelnoise.common.noise import instance_mask_noise, semantic_mask_noise
from labelnoise.common.noise.masks import MaskNoiseConfig, perturb_region


def _blobs(seed: int, n: int = 2, size: int = 32, classes: int = 3) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    m = np.zeros((n, size, size), dtype=np.int64)
    for i in range(n):
        for _ in range(4):
            y, x, r = rng.integers(0, size, 2).tolist() + [int(rng.integers(2, 7))]
            yy, xx = np.ogrid[:size, :size]
            m[i][(yy - y) ** 2 + (xx - x) ** 2 <= r * r] = rng.integers(1, classes)
    return torch.from_numpy(m)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    preset=st.sampled_from(["none", "easy", "medium", "hard"]),
    dtype=st.sampled_from([torch.int64, torch.int32, torch.uint8]),
)
def test_semantic_shapes_dtypes_ignore(seed, preset, dtype):
    clean = _blobs(seed).to(dtype)
    ignore = 255 if dtype == torch.uint8 else -100
    clean[:, :2, :2] = ignore
    out = semantic_mask_noise(clean, num_classes=3, preset=preset, seed=seed, ignore_index=ignore)
    assert out.noisy.shape == clean.shape and out.noisy.dtype == dtype
    assert bool((out.noisy[:, :2, :2] == ignore).all())
    vals = out.noisy[out.noisy != ignore]
    assert int(vals.min()) >= 0 and int(vals.max()) < 3
    torch.testing.assert_close(out.is_corrupted, out.noisy != clean)
    if preset == "none":
        torch.testing.assert_close(out.noisy, clean)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), preset=st.sampled_from(["easy", "medium", "hard"]))
def test_instance_shapes_dtypes(seed, preset):
    sem = _blobs(seed, n=1)[0]
    lab, n = ndimage.label(sem.numpy() > 0)
    masks = torch.from_numpy(np.stack([lab == i for i in range(1, n + 1)]))
    labels = torch.ones(n, dtype=torch.long)
    out = instance_mask_noise(masks, labels, num_classes=4, preset=preset, seed=seed)
    assert out.masks.noisy.shape == masks.shape and out.masks.noisy.dtype == torch.bool
    assert out.labels.noisy.dtype == torch.long and out.labels.noisy.shape == (n,)
    assert not bool(out.masks.noisy[out.dropped].any())
    kept_m, kept_y = out.kept()
    assert kept_m.shape[0] == kept_y.shape[0] <= n


def test_dilation_erosion_against_scipy():
    region = np.zeros((20, 20), dtype=bool)
    region[5:12, 6:14] = True
    grown = perturb_region(region, k=2)
    np.testing.assert_array_equal(grown, ndimage.binary_dilation(region, np.ones((3, 3)), 2))
    shrunk = perturb_region(region, k=-2)
    assert shrunk.sum() == 3 * 4 and (region | ~shrunk).all()
    moved = perturb_region(region, shift=(1, -2))
    np.testing.assert_array_equal(moved[6:13, 4:12], True)
    assert moved.sum() == region.sum()


def test_grid_simplification_cuts_thin_parts():
    region = np.zeros((16, 16), dtype=bool)
    region[:8, :8] = True
    region[8:16, 0] = True
    simple = perturb_region(region, grid=4)
    assert simple[:8, :8].all() and not simple[8:].any()


def test_presets_corrupt_more_when_harder():
    clean = _blobs(3, n=4, size=64)
    rates = [
        semantic_mask_noise(clean, num_classes=3, preset=p, seed=0).noise_rate
        for p in ("none", "easy", "medium", "hard")
    ]
    assert rates[0] == 0 and rates[1] < rates[2] < rates[3]


def test_drop_all_paints_background_and_flip_changes_class():
    clean = _blobs(1)
    out = semantic_mask_noise(clean, num_classes=3, preset=MaskNoiseConfig(drop_rate=1.0), seed=0)
    assert bool((out.noisy == 0).all())
    out = semantic_mask_noise(clean, num_classes=3, preset=MaskNoiseConfig(flip_rate=1.0), seed=0)
    fg = clean > 0
    assert bool((out.noisy[fg] != clean[fg]).all()) and bool((out.noisy[~fg] == 0).all())


def test_errors():
    with pytest.raises(ValueError, match="preset must be one of"):
        semantic_mask_noise(_blobs(0), num_classes=3, preset="extreme")
    with pytest.raises(ValueError, match=r"mask values must be in \[0, 2\)"):
        semantic_mask_noise(_blobs(0), num_classes=2)
    with pytest.raises(ValueError, match="max_k must be a non-negative int; got -1"):
        MaskNoiseConfig(max_k=-1)
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        instance_mask_noise(torch.zeros(2, 4, 4, dtype=torch.bool), torch.zeros(3), num_classes=2)
