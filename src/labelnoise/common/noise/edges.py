"""Edge-map noise: the ways human boundary annotations go wrong.

Every simulator takes binary edge maps ``(H, W)`` or ``(N, H, W)`` (any dtype, values 0/1)
and returns :class:`NoisyTargets` with ``noisy`` of the same shape and dtype and
``is_corrupted = noisy != clean`` per pixel. Randomness comes only from ``seed``.

* :func:`displacement_noise` -- every edge pixel moves along a smooth random displacement
  field of at most ``max_shift`` pixels: the label-noise model of PNT-Edge (Xuan et al.,
  "Towards robust edge detection with noisy labels by learning pixel-level noise
  transitions", ACM MM 2023), where noisy edges are clean edges shifted locally.
* :func:`thickness_noise` -- thickening (dilation by a disk) or thinning (ridge of the
  distance transform) of the lines.
* :func:`drop_segments` -- remove a fraction of edge segments (pieces of connected edges
  cut by a grid of ``segment`` pixels): missed boundaries.
* :func:`spurious_edges` -- add straight fragments at random places: texture marked as edge.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

from labelnoise.common._checks import check_rate
from labelnoise.common._random import Seed, numpy_rng
from labelnoise.common.noise.base import NoisyTargets

__all__ = ["displacement_noise", "drop_segments", "spurious_edges", "thickness_noise"]


def _as_maps(edges: Tensor | np.ndarray) -> tuple[np.ndarray, Tensor]:
    t = torch.as_tensor(edges)
    if t.dim() not in (2, 3):
        raise ValueError(f"edges must have shape (H, W) or (N, H, W); got {tuple(t.shape)}")
    a = t.detach().cpu().numpy()
    if a.size and not np.isin(a, (0, 1)).all():
        raise ValueError(f"edges must be binary (0/1); got values in [{a.min()}, {a.max()}]")
    a = a.astype(bool)
    return (a[None] if t.dim() == 2 else a), t


def _result(noisy: np.ndarray, clean: Tensor) -> NoisyTargets:
    out = torch.from_numpy(noisy.reshape(clean.shape)).to(clean.dtype).to(clean.device)
    return NoisyTargets(out, clean, out != clean)


def displacement_noise(
    edges: Tensor | np.ndarray, *, max_shift: float, smoothness: float = 8.0, seed: Seed = None
) -> NoisyTargets:
    """Shift edge pixels along a smooth random field (PNT-Edge's corruption model).

    Args:
        edges: ``(H, W)`` or ``(N, H, W)`` binary maps.
        max_shift: largest displacement in pixels (``d``); every image's field is scaled so
            that its largest vector has this length.
        smoothness: standard deviation (pixels) of the Gaussian that smooths white noise into
            the field (larger: edges move together over longer stretches).
        seed: int or ``torch.Generator``.
    """
    if max_shift < 0 or smoothness <= 0:
        raise ValueError(
            f"max_shift must be >= 0 and smoothness > 0; got {max_shift} and {smoothness}"
        )
    maps, clean = _as_maps(edges)
    rng = numpy_rng(seed)
    out = np.zeros_like(maps)
    for i, m in enumerate(maps):
        h, w = m.shape
        field = np.stack(
            [ndimage.gaussian_filter(rng.standard_normal((h, w)), smoothness) for _ in range(2)]
        )
        norm = np.sqrt((field**2).sum(0)).max()
        field *= max_shift / max(norm, 1e-12)
        ys, xs = np.nonzero(m)
        ny = np.clip(np.rint(ys + field[0, ys, xs]), 0, h - 1).astype(int)
        nx = np.clip(np.rint(xs + field[1, ys, xs]), 0, w - 1).astype(int)
        out[i, ny, nx] = True
    return _result(out, clean)


def thickness_noise(
    edges: Tensor | np.ndarray,
    *,
    mode: Literal["thicken", "thin"] = "thicken",
    radius: int = 1,
) -> NoisyTargets:
    """Thicken lines (dilation by a disk of ``radius``) or thin them to the ridge of their
    distance transform (pixels not below any 8-neighbour's distance to the background)."""
    if mode not in ("thicken", "thin"):
        raise ValueError(f"mode must be 'thicken' or 'thin'; got {mode!r}")
    if radius < 1:
        raise ValueError(f"radius must be >= 1; got {radius}")
    maps, clean = _as_maps(edges)
    out = np.zeros_like(maps)
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    disk = yy**2 + xx**2 <= radius**2
    for i, m in enumerate(maps):
        if mode == "thicken":
            out[i] = ndimage.binary_dilation(m, structure=disk)
        else:
            dt = ndimage.distance_transform_edt(m)
            out[i] = m & (dt >= ndimage.maximum_filter(dt, size=3) - 1e-9)
    return _result(out, clean)


def drop_segments(
    edges: Tensor | np.ndarray, *, rate: float, segment: int = 16, seed: Seed = None
) -> NoisyTargets:
    """Remove each edge segment with probability ``rate``.

    A segment is a connected (8-neighbour) piece of edge inside one ``segment x segment``
    cell of a grid with a random offset per image.
    """
    rate = check_rate("rate", rate, high_inclusive=True)
    if segment < 1:
        raise ValueError(f"segment must be >= 1; got {segment}")
    maps, clean = _as_maps(edges)
    rng = numpy_rng(seed)
    out = maps.copy()
    for i, m in enumerate(maps):
        h, w = m.shape
        oy, ox = rng.integers(0, segment, size=2)
        cell = ((np.arange(h)[:, None] + oy) // segment) * (w // segment + 2) + (
            (np.arange(w)[None, :] + ox) // segment
        )
        labels, n = ndimage.label(m, structure=np.ones((3, 3)))
        key = labels.astype(np.int64) * (cell.max() + 1) + cell
        ids, inverse = np.unique(key[m], return_inverse=True)
        drop = rng.random(len(ids)) < rate
        out[i][m] = ~drop[inverse]
    return _result(out, clean)


def spurious_edges(
    edges: Tensor | np.ndarray, *, rate: float, length: int = 8, seed: Seed = None
) -> NoisyTargets:
    """Add straight fragments of ``length`` pixels at random positions and angles until about
    ``rate`` times the number of edge pixels of the image is added (at least one fragment
    when ``rate > 0``)."""
    if rate < 0:
        raise ValueError(f"rate must be >= 0; got {rate}")
    if length < 1:
        raise ValueError(f"length must be >= 1; got {length}")
    maps, clean = _as_maps(edges)
    rng = numpy_rng(seed)
    out = maps.copy()
    steps = np.arange(length)
    for i, m in enumerate(maps):
        h, w = m.shape
        n = 0 if rate == 0 else max(1, int(round(rate * m.sum() / length)))
        for _ in range(n):
            y0, x0 = rng.random() * h, rng.random() * w
            a = rng.random() * np.pi
            ys = np.clip(np.rint(y0 + steps * np.sin(a)), 0, h - 1).astype(int)
            xs = np.clip(np.rint(x0 + steps * np.cos(a)), 0, w - 1).astype(int)
            out[i, ys, xs] = True
    return _result(out, clean)
