"""Spatial label noise for segmentation masks, COCO-N / Cityscapes-N style.

After Grad, Kimhi, Halika & Baskin, "Benchmarking Label Noise in Instance Segmentation:
Spatial Noise Matters" (COCO-N, Cityscapes-N, 2024; their ``noise_annotations.py``). Every
instance (for semantic masks: every connected region of a non-background class) independently
gets ONE spatial corruption, drawn at random:

- ``scale`` (probability ``p_scale``): dilated or eroded (sign by a fair coin) by ``max_k``
  pixels, i.e. one pass of a ``(2 max_k + 1)`` square kernel (``scipy.ndimage``);
- ``approximation`` (``p_approximation``): its outer contour is simplified by Douglas-Peucker
  with ``tolerance`` pixels and refilled; a contour that would collapse keeps a triangle (or
  stays as it is when it has no area), so objects are never deleted (the paper's
  ``preserve_topology=True``);
- ``localization`` (``p_localization``): the vertices of its outer contour are moved by
  Gaussian noise of standard deviation ``jitter`` pixels and the polygon is refilled;
- none of these with the remaining probability.

Contours are traced on the pixel grid (Moore neighbours, collinear runs merged, as OpenCV's
``CHAIN_APPROX_SIMPLE``); refilled polygons include their boundary pixels (as ``cv2.fillPoly``);
holes are filled (outer contours only, as the reference). Independently of the spatial draw,
an instance is class-flipped with probability ``flip_rate`` (uniform over the other classes;
for semantic masks over the other non-background classes, so a mask with one foreground class
gets no flips), or dropped with probability ``drop_rate`` (semantic: painted as
``background``). ``shift_max`` optionally moves every kept region by up to that many pixels.

Semantic masks are rebuilt by painting the perturbed regions, in random order, onto a
``background`` canvas; ignored pixels stay ignored. Presets ``easy`` / ``medium`` / ``hard``
are COCO-N's: corruption probabilities 0.2 / 0.25 / 0.3 each (so 40 / 25 / 10 % of instances
untouched), kernel 3 / 5 / 7 (``max_k`` 1 / 2 / 3), tolerance 5 / 10 / 15, jitter 2 / 3 / 4,
class noise 0.2 / 0.3 / 0.4 and no drops. COCO-N redraws a flipped class uniformly over all
``C`` classes (effective flip rate ``0.4 (C - 1) / C``); ``flip_rate`` here is the rate of an
actual change. The pixel sizes are COCO's; :func:`scaled` resizes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

from labelnoise.common._checks import check_rate
from labelnoise.common._random import Seed, numpy_rng
from labelnoise.common.noise._contours import fill_polygon, simplify_ring, trace_outer
from labelnoise.common.noise.base import NoisyTargets
from labelnoise.common.units import IGNORE_INDEX

__all__ = [
    "MASK_NOISE_PRESETS",
    "InstanceNoisyTargets",
    "MaskNoiseConfig",
    "instance_mask_noise",
    "jitter_region",
    "perturb_region",
    "scaled",
    "semantic_mask_noise",
    "simplify_region",
]

_SQUARE = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class MaskNoiseConfig:
    """Per-instance spatial noise parameters (see the module docstring).

    Attributes:
        max_k: dilation / erosion radius of the ``scale`` corruption (pixels).
        tolerance: Douglas-Peucker tolerance of the ``approximation`` corruption (pixels).
        jitter: vertex noise standard deviation of the ``localization`` corruption (pixels).
        p_scale, p_approximation, p_localization: the probability of each corruption;
            their sum is at most 1, the rest leaves the instance's shape untouched.
        shift_max: every kept region moves by up to this many pixels per axis (0: off).
        flip_rate: probability of a class flip; drop_rate: probability of a dropped instance.
    """

    max_k: int = 0
    tolerance: float = 0.0
    jitter: float = 0.0
    p_scale: float = 0.0
    p_approximation: float = 0.0
    p_localization: float = 0.0
    shift_max: int = 0
    flip_rate: float = 0.0
    drop_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("max_k", "shift_max"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{name} must be a non-negative int; got {v!r}")
        for name in ("tolerance", "jitter"):
            v = getattr(self, name)
            if not isinstance(v, (int, float, np.number)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{name} must be a finite number >= 0; got {v!r}")
        for name in ("p_scale", "p_approximation", "p_localization", "flip_rate", "drop_rate"):
            check_rate(name, getattr(self, name), high_inclusive=True)
        p = self.p_scale + self.p_approximation + self.p_localization
        if p > 1 + 1e-9:
            raise ValueError(f"p_scale + p_approximation + p_localization must be <= 1; got {p}")
        if self.flip_rate + self.drop_rate > 1:
            raise ValueError(
                f"flip_rate + drop_rate must be <= 1; got {self.flip_rate + self.drop_rate}"
            )

    @property
    def margin(self) -> int:
        """Pixels a corrupted region can grow beyond its bounding box (jitter up to 4 sd)."""
        return self.max_k + self.shift_max + math.ceil(4 * self.jitter) + 1


def _coco_n(p: float, k: int, tolerance: float, jitter: float, flip: float) -> MaskNoiseConfig:
    return MaskNoiseConfig(
        max_k=k,
        tolerance=tolerance,
        jitter=jitter,
        p_scale=p,
        p_approximation=p,
        p_localization=p,
        flip_rate=flip,
    )


MASK_NOISE_PRESETS: dict[str, MaskNoiseConfig] = {
    "none": MaskNoiseConfig(),
    "easy": _coco_n(0.2, 1, 5.0, 2.0, 0.2),
    "medium": _coco_n(0.25, 2, 10.0, 3.0, 0.3),
    "hard": _coco_n(0.3, 3, 15.0, 4.0, 0.4),
}


def _resolve(preset: str | MaskNoiseConfig) -> MaskNoiseConfig:
    if isinstance(preset, MaskNoiseConfig):
        return preset
    if preset not in MASK_NOISE_PRESETS:
        raise ValueError(f"preset must be one of {sorted(MASK_NOISE_PRESETS)}; got {preset!r}")
    return MASK_NOISE_PRESETS[preset]


def perturb_region(
    region: np.ndarray, *, k: int = 0, shift: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Dilate (``k > 0``) / erode (``k < 0``) by ``|k|`` pixels, then shift, one ``(H, W)`` bool
    mask. Erosion does not eat in from the image border (as OpenCV's default border)."""
    out = region.astype(bool, copy=True)
    if k > 0:
        out = ndimage.binary_dilation(out, _SQUARE, iterations=k)
    elif k < 0:
        out = ndimage.binary_erosion(out, _SQUARE, iterations=-k, border_value=1)
    dy, dx = shift
    if dy or dx:
        shifted = np.zeros_like(out)
        h, w = out.shape
        ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
        xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
        shifted[yd, xd] = out[ys, xs]
        out = shifted
    return out


def _per_component(region: np.ndarray, fn) -> np.ndarray:
    lab, n = ndimage.label(region, _SQUARE)
    out = np.zeros_like(region, dtype=bool)
    for i in range(1, n + 1):
        out |= fn(lab == i)
    return out


def simplify_region(region: np.ndarray, *, tolerance: float) -> np.ndarray:
    """COCO-N approximation noise: every outer contour of the ``(H, W)`` bool ``region``
    simplified by Douglas-Peucker (``tolerance`` pixels) and refilled; a contour that would
    keep fewer than 3 vertices keeps a triangle (or stays as it is when it has no area), so no
    object disappears."""

    def one(component: np.ndarray) -> np.ndarray:
        pts = trace_outer(component)
        if len(pts) < 4:
            return component
        simple = simplify_ring(pts, tolerance)
        return fill_polygon(simple, component.shape) if len(simple) >= 3 else component

    return _per_component(region.astype(bool), one)


def jitter_region(region: np.ndarray, *, std: float, rng: np.random.Generator) -> np.ndarray:
    """COCO-N localization noise: the vertices of every outer contour of the ``(H, W)`` bool
    ``region`` moved by rounded Gaussian noise (``std`` pixels), the polygon refilled."""

    def one(component: np.ndarray) -> np.ndarray:
        pts = trace_outer(component)
        return fill_polygon(np.rint(pts + rng.normal(0.0, std, pts.shape)), component.shape)

    return _per_component(region.astype(bool), one)


def _draw(cfg: MaskNoiseConfig, rng: np.random.Generator) -> tuple[str, int, tuple[int, int], str]:
    u = rng.random()
    cuts = np.cumsum([cfg.p_scale, cfg.p_approximation, cfg.p_localization])
    kind = ("scale", "approximation", "localization", "none")[
        int(np.searchsorted(cuts, u, "right"))
    ]
    k = cfg.max_k if rng.random() < 0.5 else -cfg.max_k
    s = cfg.shift_max
    shift = (int(rng.integers(-s, s + 1)), int(rng.integers(-s, s + 1))) if s else (0, 0)
    v = rng.random()
    fate = "drop" if v < cfg.drop_rate else "flip" if v < cfg.drop_rate + cfg.flip_rate else "keep"
    return kind, k, shift, fate


def _perturb_in_box(
    region: np.ndarray,
    cfg: MaskNoiseConfig,
    draw: tuple[str, int, tuple[int, int], str],
    rng: np.random.Generator,
) -> tuple[tuple[slice, slice], np.ndarray]:
    """Corrupt ``region`` inside its bounding box padded by the noise margin (fast path)."""
    kind, k, shift, _ = draw
    h, w = region.shape
    ys, xs = np.nonzero(region)
    m = cfg.margin + 1
    y0, y1 = max(int(ys.min()) - m, 0), min(int(ys.max()) + m + 1, h)
    x0, x1 = max(int(xs.min()) - m, 0), min(int(xs.max()) + m + 1, w)
    box = (slice(y0, y1), slice(x0, x1))
    out = region[box]
    if kind == "approximation" and cfg.tolerance > 0:
        out = simplify_region(out, tolerance=cfg.tolerance)
    elif kind == "localization" and cfg.jitter > 0:
        out = jitter_region(out, std=cfg.jitter, rng=rng)
    return box, perturb_region(out, k=k if kind == "scale" else 0, shift=shift)


def _other_class(c: int, choices: list[int], rng: np.random.Generator) -> int:
    others = [j for j in choices if j != c]
    return int(others[int(rng.integers(0, len(others)))]) if others else c


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
    foreground = [c for c in range(num_classes) if c != background]
    out = np.full_like(mask, background)
    for idx in rng.permutation(len(regions)):
        c, region = regions[idx]
        draw = _draw(cfg, rng)
        if draw[3] == "drop":
            continue
        if draw[3] == "flip":
            c = _other_class(c, foreground, rng)
        box, perturbed = _perturb_in_box(region, cfg, draw, rng)
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
        draw = _draw(cfg, rng)
        if draw[3] == "drop":
            dropped[i] = True
            continue
        if draw[3] == "flip":
            noisy_y[i] = _other_class(int(y[i]), list(range(num_classes)), rng)
        if arr[i].any():
            box, perturbed = _perturb_in_box(arr[i], cfg, draw, rng)
            noisy[i][box] = perturbed
    noisy_m = torch.from_numpy(noisy).to(m.dtype)
    return InstanceNoisyTargets(
        NoisyTargets(noisy_m, m.clone(), noisy_m != m),
        NoisyTargets(noisy_y, y.clone(), (noisy_y != y) | dropped),
        dropped,
    )


def scaled(preset: str, factor: float) -> MaskNoiseConfig:
    """A preset with its pixel sizes (``max_k``, ``tolerance``, ``jitter``, ``shift_max``)
    scaled by ``factor``, e.g. ``0.5`` for images half the size of COCO's."""
    cfg = _resolve(preset)
    return replace(
        cfg,
        max_k=round(cfg.max_k * factor),
        tolerance=cfg.tolerance * factor,
        jitter=cfg.jitter * factor,
        shift_max=round(cfg.shift_max * factor),
    )
