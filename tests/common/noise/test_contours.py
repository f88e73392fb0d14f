"""Contour helpers of the mask noise: tracing + filling round-trips hole-free shapes,
Douglas-Peucker against an independent recursive implementation, rings never collapse."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from labelnoise.common.noise._contours import (
    douglas_peucker,
    fill_polygon,
    simplify_ring,
    trace_outer,
)


def _dp_reference(pts: np.ndarray, tol: float) -> list[tuple[float, float]]:
    if len(pts) < 3:
        return [tuple(p) for p in pts]
    a, b = pts[0], pts[-1]
    d = b - a
    n = np.hypot(*d)
    dist = [
        abs(d[0] * (p[1] - a[1]) - d[1] * (p[0] - a[0])) / n if n else np.hypot(*(p - a))
        for p in pts[1:-1]
    ]
    i = int(np.argmax(dist)) + 1
    if dist[i - 1] <= tol:
        return [tuple(a), tuple(b)]
    return _dp_reference(pts[: i + 1], tol)[:-1] + _dp_reference(pts[i:], tol)


def test_trace_rectangle_corners():
    r = np.zeros((10, 12), dtype=bool)
    r[2:6, 3:9] = True
    assert trace_outer(r).tolist() == [[2, 3], [2, 8], [5, 8], [5, 3]]


@settings(max_examples=25, deadline=None)
@given(
    cy=st.integers(5, 25),
    cx=st.integers(5, 25),
    ry=st.integers(1, 9),
    rx=st.integers(1, 9),
)
def test_fill_of_trace_round_trips_ellipses(cy, cx, ry, rx):
    yy, xx = np.ogrid[:30, :30]
    region = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    np.testing.assert_array_equal(fill_polygon(trace_outer(region), region.shape), region)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), tol=st.floats(0.1, 10.0))
def test_douglas_peucker_matches_reference(seed, tol):
    pts = np.random.default_rng(seed).normal(0, 5, (30, 2)).cumsum(0)
    assert [tuple(p) for p in douglas_peucker(pts, tol)] == _dp_reference(pts, tol)


def test_ring_keeps_at_least_a_triangle():
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    ring = np.stack([10 * np.sin(t), 10 * np.cos(t)], 1)
    assert len(simplify_ring(ring, 100.0)) == 3
    assert len(simplify_ring(ring, 0.01)) == 40
