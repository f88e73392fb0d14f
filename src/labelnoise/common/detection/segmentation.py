"""Semantic segmentation: per-pixel label issues and per-image label quality.

Lad & Mueller, "Estimating label quality and errors in semantic segmentation data via any
model" (2023); semantics of cleanlab 2.9 ``segmentation.filter.find_label_issues`` and
``segmentation.rank.get_label_quality_scores`` / ``issues_from_scores``. Inputs are
``labels (N, H, W)`` integer class ids and ``pred_probs (N, K, H, W)`` (numpy arrays or
``np.memmap``: images are read ``batch_images`` at a time, so memory stays bounded by
``O(batch)`` plus one byte and one float32 per pixel for the results).

Pixel issues follow cleanlab: the streamed thresholds and issue count of
:func:`~labelnoise.common.detection.streaming.find_label_issues_streaming` over all pixels,
the ``num_issues`` lowest self-confidences flagged, then pixels whose given label is the
argmax (exactly) un-flagged. ``downsample = d``
(cleanlab's ``num_pixel_issues`` speed-up) first averages ``d x d`` blocks (labels: the
rounded mean of the class ids, probabilities: the mean, renormalised), finds issues on the
small images, repeats every flagged block to ``d x d`` pixels and un-flags the pixels whose
given label is the argmax at full resolution.

Stricter than cleanlab on purpose: probabilities must sum to 1 over classes (within 1e-3) at
every pixel; cleanlab silently accepts unnormalised scores, whose thresholds then mean nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np
import torch

from labelnoise.common.detection._kernels import as_tensor
from labelnoise.common.detection._pruning import _smallest
from labelnoise.common.detection._validate import as_float_array
from labelnoise.common.detection.streaming import find_label_issues_streaming

__all__ = [
    "find_segmentation_issues",
    "get_segmentation_quality_scores",
    "segmentation_issues_from_scores",
]


def _check(labels: object, pred_probs: object) -> tuple[np.ndarray, np.ndarray]:
    p = (
        pred_probs
        if isinstance(pred_probs, np.ndarray)
        else as_float_array("pred_probs", pred_probs)
    )
    y = np.asarray(labels)
    if p.ndim != 4:
        raise ValueError(f"pred_probs must have shape (N, K, H, W); got shape {p.shape}")
    n, k, h, w = p.shape
    if n == 0 or k < 2:
        raise ValueError(f"pred_probs must have N >= 1 images and K >= 2 classes; got {p.shape}")
    if y.shape != (n, h, w):
        raise ValueError(
            f"labels must have shape ({n}, {h}, {w}) to match pred_probs; got {y.shape}"
        )
    if y.dtype.kind not in "iu":
        raise ValueError(f"labels must be integer class ids; got dtype {y.dtype}")
    if p.dtype.kind != "f":
        raise ValueError(f"pred_probs must be a float array; got dtype {p.dtype}")
    return y, p


def _batch(h: int, w: int, k: int, batch_images: int | None) -> int:
    if batch_images is None:
        return max(1, (1 << 21) // max(h * w * k, 1))
    if isinstance(batch_images, bool) or int(batch_images) != batch_images or batch_images < 1:
        raise ValueError(f"batch_images must be a positive integer or None; got {batch_images!r}")
    return int(batch_images)


def _downsample(y: np.ndarray, p: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    if d == 1:
        return y, p
    n, k, h, w = p.shape
    small_y = np.round(y.reshape(n, h // d, d, w // d, d).mean((4, 2))).astype(np.int64)
    small_p = p.reshape(n, k, h // d, d, w // d, d).mean((5, 3))
    small_p /= small_p.sum(axis=1, keepdims=True)
    return small_y, small_p


def find_segmentation_issues(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    downsample: int = 1,
    batch_images: int | None = None,
) -> np.ndarray:
    """Pixel label issues ``(N, H, W)`` bool (cleanlab's ``segmentation.filter``).

    Args:
        labels: ``(N, H, W)`` given class ids in ``[0, K)``.
        pred_probs: ``(N, K, H, W)`` out-of-sample probabilities (sum to 1 over ``K``).
        downsample: block size ``d`` (``H`` and ``W`` divisible by it; default 1 = none).
        batch_images: images per chunk (default: about 2M probabilities per chunk).
    """
    y, p = _check(labels, pred_probs)
    n, k, h, w = p.shape
    d = downsample
    if isinstance(d, bool) or int(d) != d or d < 1 or h % d or w % d:
        raise ValueError(
            f"downsample must be a positive integer dividing H = {h} and W = {w}; got {d!r}"
        )
    b = _batch(h, w, k, batch_images)

    def chunks() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for s in range(0, n, b):
            yield _downsample(y[s : s + b], p[s : s + b], int(d))

    res = find_label_issues_streaming(chunks, k)
    assert res.unit_quality is not None
    small = np.zeros(res.unit_quality.shape[0], dtype=bool)
    small[_smallest(res.unit_quality, res.num_issues)] = True
    out = small.reshape(n, h // d, w // d)
    if d > 1:
        out = out.repeat(d, axis=1).repeat(d, axis=2)
    img, ii, jj = np.nonzero(out)
    for s in range(0, img.shape[0], 1 << 20):
        sl = slice(s, s + (1 << 20))
        a, i, j = img[sl], ii[sl], jj[sl]
        keep = p[a, :, i, j].argmax(axis=1) == y[a, i, j]
        out[a[keep], i[keep], j[keep]] = False
    return out


def _pick(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``p[i, y[i, h, w], h, w]`` ``(B, H, W)``: a torch gather on an in-memory array (numpy's
    ``take_along_axis`` is 3x slower), numpy's for a memmap (read as it goes)."""
    if isinstance(p, np.memmap) or not p.flags.c_contiguous:
        return np.take_along_axis(p, y[:, None], axis=1)[:, 0]
    idx = torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))[:, None]
    return as_tensor(p).gather(1, idx)[:, 0].numpy()


def _softmin_rows(s: np.ndarray, temperature: float) -> np.ndarray:
    """``sum_j s_j softmax((1 - s) / T)_j`` per row of ``s (B, U)``, cleanlab's softmin.

    ``T = 0`` is the minimum and ``T = inf`` the mean (cleanlab raises for 0 here). The
    softmax is shifted by the row minimum of ``s`` (``(min s - s) / T``, the same exponents as
    cleanlab's ``(1 - s) / T - max`` up to rounding, ~1e-16 relative) and normalised once per
    row: ``sum s e / sum e``."""
    if temperature == 0:
        return s.min(axis=1)
    if np.isinf(temperature):
        return s.mean(axis=1)
    x = s.min(axis=1, keepdims=True) - s
    x *= 1.0 / max(temperature, 1e-6)
    e = np.exp(x, out=x)
    return np.einsum("ij,ij->i", s, e) / e.sum(axis=1)


def get_segmentation_quality_scores(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    method: Literal["softmin", "num_pixel_issues"] = "softmin",
    temperature: float = 0.1,
    downsample: int = 1,
    batch_images: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(image_scores (N,), pixel_scores (N, H, W))`` in ``[0, 1]``, higher = cleaner.

    Pixel scores are the self-confidence ``p[label]``. ``softmin`` (default) reduces them per
    image with temperature ``temperature`` (0 = min, inf = mean); ``num_pixel_issues`` scores
    an image ``1 - fraction of its pixels flagged`` by :func:`find_segmentation_issues` (with
    ``downsample``).
    """
    y, p = _check(labels, pred_probs)
    if method not in ("softmin", "num_pixel_issues"):
        raise ValueError(f"method must be 'softmin' or 'num_pixel_issues'; got {method!r}")
    t = float(temperature)
    if not t >= 0:
        raise ValueError(f"temperature must be >= 0 (0 = min, inf = mean); got {temperature}")
    n, k, h, w = p.shape
    b = _batch(h, w, k, batch_images)
    pixel = np.empty((n, h, w))
    for s in range(0, n, b):
        pixel[s : s + b] = _pick(y[s : s + b], p[s : s + b])
    if method == "num_pixel_issues":
        issues = find_segmentation_issues(y, p, downsample=downsample, batch_images=b)
        return 1 - issues.mean(axis=(1, 2)), pixel
    if downsample != 1:
        raise ValueError(f"downsample must be 1 for method 'softmin'; got {downsample}")
    flat = pixel.reshape(n, -1)
    img = np.concatenate([_softmin_rows(flat[s : s + b], t) for s in range(0, n, b)])
    return img, pixel


def segmentation_issues_from_scores(
    image_scores: np.ndarray, pixel_scores: np.ndarray | None = None, threshold: float = 0.1
) -> np.ndarray:
    """With ``pixel_scores (N, H, W)``: the bool mask ``pixel_scores < threshold``; otherwise
    the indices of images sorted by ``image_scores`` up to and including the first one at or
    above ``threshold`` (cleanlab's cut, one past the last score below it)."""
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold must be in [0, 1]; got {threshold}")
    if pixel_scores is not None:
        return np.asarray(pixel_scores) < threshold
    s = np.asarray(image_scores)
    if s.ndim != 1:
        raise ValueError(f"image_scores must have shape (N,); got {s.shape}")
    ranking = np.argsort(s)
    return ranking[: int(np.searchsorted(s[ranking], threshold)) + 1]
