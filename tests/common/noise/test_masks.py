"""Mask noise simulators: shapes/dtypes preserved, ignore kept, noise-free identity, COCO-N's
one-corruption-per-instance scheme and preset values, contour simplification / jitter, presets
ordered, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from labelnoise.common.noise import instance_mask_noise, semantic_mask_noise
from labelnoise.common.noise.masks import (
    MASK_NOISE_PRESETS,
    MaskNoiseConfig,
    jitter_region,
    perturb_region,
    scaled,
    simplify_region,
)


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


def _shapes() -> np.ndarray:
    yy, xx = np.ogrid[:40, :40]
    region = (yy - 12) ** 2 + (xx - 12) ** 2 <= 64  # disc
    region[25:35, 5:30] = True  # rectangle
    region[20:38, 33] = True  # one-pixel line
    region[2, 30] = True  # single pixel
    region[5:8, 36:39] = True  # 3 x 3 square
    return region


def test_contour_simplification_and_jitter_without_strength_are_identities():
    region = _shapes()
    np.testing.assert_array_equal(simplify_region(region, tolerance=0.4), region)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(jitter_region(region, std=0.0, rng=rng), region)


def test_simplification_cuts_corners_but_never_deletes_objects():
    region = _shapes()
    simple = simplify_region(region, tolerance=15.0)
    _, n_before = ndimage.label(region, np.ones((3, 3)))
    lab, _ = ndimage.label(region, np.ones((3, 3)))
    assert all(simple[lab == i].any() for i in range(1, n_before + 1))
    assert simple.sum() < region.sum()  # the disc becomes a polygon inside it
    rect = np.zeros((20, 20), dtype=bool)
    rect[4:15, 3:17] = True  # a rectangle is its own simplification below its corner depth
    np.testing.assert_array_equal(simplify_region(rect, tolerance=3.0), rect)
    assert simplify_region(rect, tolerance=15.0).sum() < rect.sum()  # down to a triangle


def _squares(n: int) -> torch.Tensor:
    m = torch.zeros(n, 16, 16, dtype=torch.bool)
    m[:, 5:11, 5:11] = True
    return m


def test_scale_only_is_exactly_dilation_or_erosion_half_each():
    masks = _squares(400)
    cfg = MaskNoiseConfig(max_k=2, p_scale=1.0)
    out = instance_mask_noise(masks, torch.zeros(400, dtype=torch.long), num_classes=1, preset=cfg)
    sq = masks[0].numpy()
    grown = ndimage.binary_dilation(sq, np.ones((5, 5)))
    shrunk = ndimage.binary_erosion(sq, np.ones((5, 5)))
    is_grown = np.array([np.array_equal(m, grown) for m in out.masks.noisy.numpy()])
    is_shrunk = np.array([np.array_equal(m, shrunk) for m in out.masks.noisy.numpy()])
    assert (is_grown ^ is_shrunk).all() and 0.4 < is_grown.mean() < 0.6


def test_one_corruption_per_instance_with_the_drawn_probabilities():
    n = 3000
    masks = _squares(n)
    # squares survive simplification unchanged, scale always changes them: 30 % changed.
    cfg = MaskNoiseConfig(max_k=1, tolerance=2.0, p_scale=0.3, p_approximation=0.5)
    out = instance_mask_noise(masks, torch.zeros(n, dtype=torch.long), num_classes=1, preset=cfg)
    changed = out.masks.is_corrupted.flatten(1).any(1).float().mean().item()
    assert abs(changed - 0.3) < 4 * (0.3 * 0.7 / n) ** 0.5
    cfg = MaskNoiseConfig(jitter=3.0, p_localization=0.6)
    out = instance_mask_noise(masks, torch.zeros(n, dtype=torch.long), num_classes=1, preset=cfg)
    changed = out.masks.is_corrupted.flatten(1).any(1).float().mean().item()
    assert 0.5 < changed <= 0.6 + 4 * (0.24 / n) ** 0.5


def test_presets_are_coco_n_benchmarks():
    # noise_annotations.py of Grad et al. (2024): {approximation: [p, tol], localization:
    # [p, std], rand: [p, kernel], flip_class: mix} per level.
    reference = {
        "easy": (0.2, 5, 2, 3, 0.2),
        "medium": (0.25, 10, 3, 5, 0.3),
        "hard": (0.3, 15, 4, 7, 0.4),
    }
    for level, (p, tol, std, kernel, mix) in reference.items():
        cfg = MASK_NOISE_PRESETS[level]
        assert cfg.p_scale == cfg.p_approximation == cfg.p_localization == p
        assert (cfg.tolerance, cfg.jitter, 2 * cfg.max_k + 1) == (tol, std, kernel)
        assert (cfg.flip_rate, cfg.drop_rate, cfg.shift_max) == (mix, 0.0, 0)
    half = scaled("hard", 0.5)
    assert (half.max_k, half.tolerance, half.jitter, half.p_scale) == (2, 7.5, 2.0, 0.3)


def test_semantic_flips_only_among_foreground_classes():
    clean = (_blobs(2) > 0).long()
    out = semantic_mask_noise(clean, num_classes=2, preset=MaskNoiseConfig(flip_rate=1.0), seed=0)
    torch.testing.assert_close(out.noisy, clean)  # one foreground class: nothing to flip to


def test_hard_preset_is_unbiased_on_many_regions():
    clean = _blobs(5, n=8, size=96)
    out = semantic_mask_noise(clean, num_classes=3, preset="hard", seed=0)
    fg_clean = (clean > 0).float().mean().item()
    fg_noisy = (out.noisy > 0).float().mean().item()
    assert abs(fg_noisy - fg_clean) < 0.25 * fg_clean


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
    with pytest.raises(ValueError, match="p_scale \\+ p_approximation \\+ p_localization"):
        MaskNoiseConfig(p_scale=0.5, p_approximation=0.3, p_localization=0.3)
    with pytest.raises(ValueError, match="tolerance must be a finite number >= 0; got -1"):
        MaskNoiseConfig(tolerance=-1.0)
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        instance_mask_noise(torch.zeros(2, 4, 4, dtype=torch.bool), torch.zeros(3), num_classes=2)
