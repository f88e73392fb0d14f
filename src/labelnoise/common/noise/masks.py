"""Spatial label noise for segmentation masks, COCO-N / Cityscapes-N style.

After Kimhi et al., "Noisy Annotations in Semantic Segmentation" / "Benchmarking Label Noise in
Instance Segmentation: Spatial Noise Matters" (COCO-N, Cityscapes-N, 2024): every instance (or,
for semantic masks, every connected region of a non-background class) is independently

- dilated or eroded by ``k`` pixels, ``k`` uniform in ``[-max_k, max_k]`` (3x3 square
  structuring element, ``|k|`` iterations, ``scipy.ndimage``);
- simplified: its boundary is approximated on a coarse grid of ``grid`` pixels (a block is in
  the region when at least half of it was) -- a rasterised stand-in for the papers'
  Douglas-Peucker polygon simplification, with the same effect of cutting corners and
  thin parts at a tolerance of about ``grid / 2`` pixels;
- shifted by up to ``shift_max`` pixels in each direction (pixels shifted in are empty);
- class-flipped with probability ``flip_rate`` (uniform over the other classes), or
- dropped with probability ``drop_rate`` (semantic: painted as ``background``).

Semantic masks are rebuilt by painting the perturbed regions, in random order, onto a
``background`` canvas; ignored pixels stay ignored. Presets ``easy`` / ``medium`` / ``hard``
are sized for ~256 px images.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

from labelnoise.common._checks import check_rate
from labelnoise.common._random import Seed, numpy_rng
from labelnoise.common.noise.base import NoisyTargets
from labelnoise.common.units import IGNORE_INDEX

__all__ = [
    "MASK_NOISE_PRESETS",
    "InstanceNoisyTargets",
    "MaskNoiseConfig",
    "instance_mask_noise",
    "perturb_region",
    "scaled",
    "semantic_mask_noise",
]

_SQUARE = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class MaskNoiseConfig:
    """Per-instance spatial noise parameters (see the module docstring)."""

    max_k: int = 0
    grid: int = 0
    shift_max: int = 0
    flip_rate: float = 0.0
    drop_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("max_k", "grid", "shift_max"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{name} must be a non-negative int; got {v!r}")
        check_rate("flip_rate", self.flip_rate, high_inclusive=True)
        check_rate("drop_rate", self.drop_rate, high_inclusive=True)
        if self.flip_rate + self.drop_rate > 1:
            raise ValueError(
                f"flip_rate + drop_rate must be <= 1; got {self.flip_rate + self.drop_rate}"
            )

    @property
    def margin(self) -> int:
        return self.max_k + self.shift_max + self.grid


MASK_NOISE_PRESETS: dict[str, MaskNoiseConfig] = {
    "none": MaskNoiseConfig(),
    "easy": MaskNoiseConfig(max_k=1, grid=0, shift_max=1, flip_rate=0.0, drop_rate=0.02),
    "medium": MaskNoiseConfig(max_k=2, grid=4, shift_max=2, flip_rate=0.03, drop_rate=0.07),
    "hard": MaskNoiseConfig(max_k=3, grid=6, shift_max=2, flip_rate=0.05, drop_rate=0.15),
}


def _resolve(preset: str | MaskNoiseConfig) -> MaskNoiseConfig:
    if isinstance(preset, MaskNoiseConfig):
        return preset
    if preset not in MASK_NOISE_PRESETS:
        raise ValueError(f"preset must be one of {sorted(MASK_NOISE_PRESETS)}; got {preset!r}")
    return MASK_NOISE_PRESETS[preset]


def perturb_region(
    region: np.ndarray, *, k: int = 0, grid: int = 0, shift: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Dilate (``k > 0``) / erode (``k < 0``), grid-simplify and shift one ``(H, W)`` bool mask."""
    out = region.astype(bool, copy=True)
    if k > 0:
        out = ndimage.binary_dilation(out, _SQUARE, iterations=k)
    elif k < 0:
        out = ndimage.binary_erosion(out, _SQUARE, iterations=-k, border_value=0)
    if grid > 1 and out.any():
        h, w = out.shape
        ph, pw = -h % grid, -w % grid
        padded = np.pad(out, ((0, ph), (0, pw)))
        blocks = padded.reshape((h + ph) // grid, grid, (w + pw) // grid, grid).mean(axis=(1, 3))
        out = np.repeat(np.repeat(blocks >= 0.5, grid, 0), grid, 1)[:h, :w]
    dy, dx = shift
    if dy or dx:
        shifted = np.zeros_like(out)
        h, w = out.shape
        ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
        xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
        shifted[yd, xd] = out[ys, xs]
        out = shifted
    return out


def _draw(cfg: MaskNoiseConfig, rng: np.random.Generator) -> tuple[int, tuple[int, int], str]:
    k = int(rng.integers(-cfg.max_k, cfg.max_k + 1)) if cfg.max_k else 0
    s = cfg.shift_max
    shift = (int(rng.integers(-s, s + 1)), int(rng.integers(-s, s + 1))) if s else (0, 0)
    u = rng.random()
    fate = "drop" if u < cfg.drop_rate else "flip" if u < cfg.drop_rate + cfg.flip_rate else "keep"
    return k, shift, fate


def _perturb_in_box(
    region: np.ndarray, cfg: MaskNoiseConfig, k: int, shift: tuple[int, int]
) -> tuple[tuple[slice, slice], np.ndarray]:
    """Perturb ``region`` inside its bounding box padded by the noise margin (fast path)."""
    h, w = region.shape
    ys, xs = np.nonzero(region)
    m = cfg.margin + 1
    y0, y1 = max(int(ys.min()) - m, 0), min(int(ys.max()) + m + 1, h)
    x0, x1 = max(int(xs.min()) - m, 0), min(int(xs.max()) + m + 1, w)
    box = (slice(y0, y1), slice(x0, x1))
    return box, perturb_region(region[box], k=k, grid=cfg.grid, shift=shift)


def _other_class(c: int, num_classes: int, rng: np.random.Generator) -> int:
    j = int(rng.integers(0, num_classes - 1))
    return j + (j >= c)


def _semantic_one(
    mask: np.ndarray,
    cfg: MaskNoiseConfig,
    num_classes: int,
    background: int,
    ignore_index: int,
    rng: np.random.Generator,
) -> np.ndarray:
    regions = []
    for c in range(num_classes):
        if c == background:
            continue
        lab, n = ndimage.label(mask == c)
        for i, sl in enumerate(ndimage.find_objects(lab), start=1):
            if sl is not None:
                regions.append((c, lab == i))
    out = np.full_like(mask, background)
    for idx in rng.permutation(len(regions)):
        c, region = regions[idx]
        k, shift, fate = _draw(cfg, rng)
        if fate == "drop":
            continue
        if fate == "flip" and num_classes > 1:
            c = _other_class(c, num_classes, rng)
        box, perturbed = _perturb_in_box(region, cfg, k, shift)
        out[box][perturbed] = c
    out[mask == ignore_index] = ignore_index
    return out


def semantic_mask_noise(
    mask: Tensor | np.ndarray,
    *,
    num_classes: int,
    preset: Literal["none", "easy", "medium", "hard"] | MaskNoiseConfig = "medium",
    background: int = 0,
    ignore_index: int = IGNORE_INDEX,
    seed: Seed = None,
) -> NoisyTargets:
    """Region-level spatial noise for semantic masks.

    Args:
        mask: ``(H, W)`` or ``(N, H, W)`` integer class ids in ``[0, num_classes)`` or
            ``ignore_index``.
        num_classes: ``C``.
        preset: a name of :data:`MASK_NOISE_PRESETS` or a :class:`MaskNoiseConfig`.
        background: the class painted where regions shrink, move away or are dropped.
        seed: int / generator; the only source of randomness.

    Returns:
        :class:`NoisyTargets` of the input's shape and dtype (torch tensors).
    """
    cfg = _resolve(preset)
    t = torch.as_tensor(mask)
    if t.dim() not in (2, 3) or t.is_floating_point() or t.dtype == torch.bool:
        raise ValueError(
            f"mask must be an integer (H, W) or (N, H, W) tensor; got {t.dtype} {tuple(t.shape)}"
        )
    if not 0 <= background < num_classes:
        raise ValueError(f"background must be in [0, {num_classes}); got {background}")
    arr = t.cpu().numpy()
    valid = arr[arr != ignore_index]
    if valid.size and (valid.min() < 0 or valid.max() >= num_classes):
        raise ValueError(
            f"mask values must be in [0, {num_classes}) or {ignore_index}; "
            f"got range [{valid.min()}, {valid.max()}]"
        )
    rng = numpy_rng(seed)
    batch = arr[None] if arr.ndim == 2 else arr
    noisy = np.stack(
        [_semantic_one(m, cfg, num_classes, background, ignore_index, rng) for m in batch]
    )
    noisy_t = torch.from_numpy(noisy.reshape(arr.shape)).to(t.dtype)
    return NoisyTargets(noisy_t, t.clone(), noisy_t != t)


@dataclass(frozen=True)
class InstanceNoisyTargets:
    """Noisy instance annotations.

    Attributes:
        masks: :class:`NoisyTargets` of the ``(K, H, W)`` bool masks (a dropped instance's
            noisy mask is empty).
        labels: :class:`NoisyTargets` of the ``(K,)`` class ids.
        dropped: ``(K,)`` bool, instances removed from the annotation.
    """

    masks: NoisyTargets
    labels: NoisyTargets
    dropped: Tensor

    def kept(self) -> tuple[Tensor, Tensor]:
        """The annotation a noisy annotator would deliver: ``(masks (K', H, W), labels (K',))``
        without dropped or emptied instances."""
        keep = ~self.dropped & self.masks.noisy.flatten(1).any(1)
        return self.masks.noisy[keep], self.labels.noisy[keep]


def instance_mask_noise(
    masks: Tensor | np.ndarray,
    labels: Tensor | np.ndarray,
    *,
    num_classes: int,
    preset: Literal["none", "easy", "medium", "hard"] | MaskNoiseConfig = "medium",
    seed: Seed = None,
) -> InstanceNoisyTargets:
    """Per-instance spatial noise, class flips and dropped instances (COCO-N style).

    Args:
        masks: ``(K, H, W)`` bool (or 0/1) instance masks of one image.
        labels: ``(K,)`` class ids in ``[0, num_classes)``.
        preset: a name of :data:`MASK_NOISE_PRESETS` or a :class:`MaskNoiseConfig`.

    Returns:
        :class:`InstanceNoisyTargets`; shapes and dtypes as given.
    """
    cfg = _resolve(preset)
    m = torch.as_tensor(masks)
    y = torch.as_tensor(labels)
    if m.dim() != 3:
        raise ValueError(f"masks must have shape (K, H, W); got {tuple(m.shape)}")
    if tuple(y.shape) != (m.shape[0],):
        raise ValueError(f"labels must have shape ({m.shape[0]},); got {tuple(y.shape)}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(
            f"labels must be in [0, {num_classes}); got range [{int(y.min())}, {int(y.max())}]"
        )
    rng = numpy_rng(seed)
    arr = m.cpu().numpy().astype(bool)
    noisy = np.zeros_like(arr)
    noisy_y = y.clone()
    dropped = torch.zeros(m.shape[0], dtype=torch.bool)
    for i in range(arr.shape[0]):
        k, shift, fate = _draw(cfg, rng)
        if fate == "drop":
            dropped[i] = True
            continue
        if fate == "flip" and num_classes > 1:
            noisy_y[i] = _other_class(int(y[i]), num_classes, rng)
        if arr[i].any():
            box, perturbed = _perturb_in_box(arr[i], cfg, k, shift)
            noisy[i][box] = perturbed
    noisy_m = torch.from_numpy(noisy).to(m.dtype)
    return InstanceNoisyTargets(
        NoisyTargets(noisy_m, m.clone(), noisy_m != m),
        NoisyTargets(noisy_y, y.clone(), (noisy_y != y) | dropped),
        dropped,
    )


def scaled(preset: str, factor: float) -> MaskNoiseConfig:
    """A preset with its pixel sizes scaled by ``factor`` (for images far from 256 px)."""
    cfg = _resolve(preset)
    return replace(
        cfg,
        max_k=round(cfg.max_k * factor),
        grid=round(cfg.grid * factor),
        shift_max=round(cfg.shift_max * factor),
    )
