"""Pixel-contour helpers for the COCO-N mask noise (:mod:`labelnoise.common.noise.masks`).

Numpy stand-ins for the OpenCV / Shapely calls of Grad et al. (2024)'s ``noise_annotations.py``:
outer-contour tracing (``cv2.findContours`` with ``RETR_EXTERNAL`` and ``CHAIN_APPROX_SIMPLE``),
Douglas-Peucker on a closed ring that never collapses below a triangle (Shapely's
``simplify(preserve_topology=True)``) and polygon filling with the boundary pixels included
(``cv2.fillPoly``). Coordinates are ``(row, col)`` pixel centres.
"""

from __future__ import annotations

import numpy as np

__all__ = ["douglas_peucker", "fill_polygon", "simplify_ring", "trace_outer"]

# Moore neighbourhood, clockwise with rows pointing down: E, SE, S, SW, W, NW, N, NE.
_DIRS = ((0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1))
_DIR_INDEX = {d: i for i, d in enumerate(_DIRS)}


def trace_outer(component: np.ndarray) -> np.ndarray:
    """Outer contour ``(V, 2)`` (row, col) of one 8-connected component, collinear runs merged."""
    padded = np.pad(component, 1)
    r0, c0 = (int(v[0]) for v in np.nonzero(padded))
    start, cur, back = (r0, c0), (r0, c0), 4  # the west neighbour of the first pixel is empty
    points = [start]
    second = None
    for _ in range(4 * padded.size):
        for i in range(1, 9):
            d = (back + i) % 8
            nxt = (cur[0] + _DIRS[d][0], cur[1] + _DIRS[d][1])
            if padded[nxt]:
                break
        else:
            break  # a single pixel
        prev = _DIRS[(d - 1) % 8]
        back = _DIR_INDEX[(cur[0] + prev[0] - nxt[0], cur[1] + prev[1] - nxt[1])]
        if second is None:
            second = nxt
        elif cur == start and nxt == second:
            break
        cur = nxt
        points.append(cur)
    if len(points) > 1 and points[-1] == start:
        points.pop()
    pts = np.asarray(points) - 1
    if len(pts) < 3:
        return pts
    step = np.roll(pts, -1, 0) - pts
    turn = (step != np.roll(step, 1, 0)).any(1)
    return pts[turn] if turn.any() else pts


def douglas_peucker(pts: np.ndarray, tolerance: float) -> np.ndarray:
    """Douglas-Peucker on an open polyline ``(V, 2)``; keeps both ends."""
    keep = np.zeros(len(pts), dtype=bool)
    keep[[0, -1]] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        seg = pts[b] - pts[a]
        rel = pts[a + 1 : b] - pts[a]
        norm = float(np.hypot(*seg))
        dist = (
            np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / norm
            if norm > 0
            else np.hypot(rel[:, 0], rel[:, 1])
        )
        i = int(dist.argmax())
        if dist[i] > tolerance:
            keep[a + 1 + i] = True
            stack += [(a, a + 1 + i), (a + 1 + i, b)]
    return pts[keep]


def simplify_ring(pts: np.ndarray, tolerance: float) -> np.ndarray:
    """Douglas-Peucker on a closed ring, split at the vertex farthest from the first."""
    far = int(((pts - pts[0]) ** 2).sum(1).argmax())
    if far == 0:
        return pts
    a = douglas_peucker(pts[: far + 1], tolerance)
    b = douglas_peucker(np.concatenate([pts[far:], pts[:1]]), tolerance)
    ring = np.concatenate([a[:-1], b[:-1]])
    if len(ring) >= 3:
        return ring
    # keep a valid ring (as a topology-preserving simplifier): the triangle of the chord and
    # the vertex farthest from it
    chord, rel = pts[far] - pts[0], pts - pts[0]
    apex = int(np.abs(chord[0] * rel[:, 1] - chord[1] * rel[:, 0]).argmax())
    return pts[sorted({0, far, apex})]


def fill_polygon(poly: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise a closed polygon ``(V, 2)`` (row, col): pixel centres inside (even-odd) plus
    the pixels its edges pass through, clipped to ``shape``."""
    out = np.zeros(shape, dtype=bool)
    h, w = shape
    lo = np.clip(np.floor(poly.min(0)).astype(int), 0, [h - 1, w - 1])
    hi = np.clip(np.ceil(poly.max(0)).astype(int) + 1, 1, [h, w])
    rows = np.arange(lo[0], hi[0], dtype=float)[:, None, None]
    cols = np.arange(lo[1], hi[1], dtype=float)[None, :, None]
    a, b = poly.astype(float), np.roll(poly, -1, 0).astype(float)
    crosses = (a[:, 0] > rows) != (b[:, 0] > rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = a[:, 1] + (rows - a[:, 0]) * (b[:, 1] - a[:, 1]) / (b[:, 0] - a[:, 0])
    inside = (crosses & (cols < x)).sum(-1) % 2 == 1
    out[lo[0] : hi[0], lo[1] : hi[1]] = inside
    for p, q in zip(a, b):
        n = int(np.abs(q - p).max()) + 1
        line = np.rint(np.linspace(p, q, n)).astype(int)
        ok = (line[:, 0] >= 0) & (line[:, 0] < h) & (line[:, 1] >= 0) & (line[:, 1] < w)
        out[line[ok, 0], line[ok, 1]] = True
    return out
