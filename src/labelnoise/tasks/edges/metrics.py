"""Boundary F-measure of the BSDS benchmark: ODS, OIS and AP (Martin et al., TPAMI 2004;
Arbelaez et al., TPAMI 2011).

Protocol, per image and threshold ``t`` (as ``evaluation_bdry_image`` of the BSDS code):
the soft prediction is thinned by non-maximum suppression (:func:`nms_thin`, after Dollar &
Zitnick's ``edgesNms``), thresholded at ``t``, and matched to EVERY annotator's map with the
tolerance ``max_dist = 0.0075 * image diagonal`` pixels. A predicted pixel is correct if it
matches some annotator (``cntP``), recall counts the matched pixels of every annotator
(``cntR`` over ``sumR``). ODS: the best F of the counts summed over images at one common
threshold; OIS: the F of the counts at each image's own best threshold; AP: the area under
the precision/recall curve over the thresholds (step rule, no interpolation).

Correspondence (``method``):

* ``"bipartite"`` (default): a maximum-cardinality one-to-one matching of predicted and
  annotated pixels closer than ``max_dist`` (Hopcroft-Karp,
  :func:`scipy.sparse.csgraph.maximum_bipartite_matching`). The BSDS ``correspondPixels``
  solves a min-cost assignment whose outlier cost exceeds any in-tolerance cost, so its
  number of matches is this maximum; only which pixels pair up may differ.
* ``"distance"``: a distance-transform approximation: a predicted pixel is correct when some
  annotated pixel lies within ``max_dist`` and vice versa (many-to-one allowed), so it is never
  below the bipartite counts. It is faster (all thresholds at once); on the fixture of
  ``benchmarks/edges_bsds.py`` (blurred consensus maps of 20 BSDS val images at 96 x 144) its
  ODS is higher than the bipartite ODS (numbers in ``benchmarks/results/edges_bsds.md``).

Differences to the MATLAB benchmark: no morphological thinning after thresholding (NMS
already gives one-pixel lines), no interpolation between thresholds for ODS/OIS.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.csgraph import maximum_bipartite_matching
from scipy.spatial import cKDTree

__all__ = [
    "boundary_counts",
    "edge_scores",
    "evaluate_edges",
    "match_boundaries",
    "nms_thin",
    "thresholds_for",
]

Method = Literal["bipartite", "distance"]
MAX_DIST = 0.0075


def thresholds_for(n: int) -> np.ndarray:
    """The BSDS thresholds ``linspace(1/(n+1), 1-1/(n+1), n)``."""
    if n < 1:
        raise ValueError(f"thresholds must be >= 1; got {n}")
    return np.linspace(1.0 / (n + 1), 1.0 - 1.0 / (n + 1), n)


def nms_thin(prob: np.ndarray, *, radius: int = 1) -> np.ndarray:
    """Non-maximum suppression across the edge direction: ``(H, W)`` -> ``(H, W)``.

    The normal direction comes from second derivatives of the smoothed map (Dollar & Zitnick,
    structured edges, ``edgesNms``); a pixel survives when it is not below the map at distance
    ``1..radius`` on both sides along the normal (bilinear interpolation); others become 0.
    """
    e = np.asarray(prob, dtype=np.float64)
    s = ndimage.gaussian_filter(e, 1.0)
    oy, ox = np.gradient(s)
    _, oxx = np.gradient(ox)
    oyy, oxy = np.gradient(oy)
    sign = np.where(oxy > 0, -1.0, 1.0)  # sign(-oxy), with +1 at 0 (straight lines)
    theta = np.mod(np.arctan(oyy * sign / (oxx + 1e-5)), np.pi)
    cos, sin = np.cos(theta), np.sin(theta)
    rows, cols = np.indices(e.shape, dtype=np.float64)
    keep = np.ones(e.shape, dtype=bool)
    for d in range(1, radius + 1):
        for side in (-1.0, 1.0):
            coords = np.stack([rows + side * d * sin, cols + side * d * cos])
            nb = ndimage.map_coordinates(e, coords, order=1, mode="nearest")
            keep &= e >= nb - 1e-12
    return np.where(keep, e, 0.0)


def match_boundaries(
    pred: np.ndarray, gt: np.ndarray, *, max_dist: float, method: Method = "bipartite"
) -> tuple[np.ndarray, np.ndarray]:
    """Which predicted and which annotated boundary pixels are matched.

    Args:
        pred, gt: ``(H, W)`` boolean maps.
        max_dist: tolerance in pixels (Euclidean, inclusive).
        method: ``bipartite`` (one-to-one) or ``distance`` (see the module docstring).

    Returns:
        ``(matched_pred, matched_gt)``, boolean ``(H, W)`` each.
    """
    pred, gt = pred.astype(bool), gt.astype(bool)
    if method == "distance":
        d_gt = ndimage.distance_transform_edt(~gt) if gt.any() else np.full(gt.shape, np.inf)
        d_pr = ndimage.distance_transform_edt(~pred) if pred.any() else np.full(gt.shape, np.inf)
        return pred & (d_gt <= max_dist), gt & (d_pr <= max_dist)
    mp, mg = np.zeros_like(pred), np.zeros_like(gt)
    p_idx, g_idx = np.argwhere(pred), np.argwhere(gt)
    if len(p_idx) == 0 or len(g_idx) == 0:
        return mp, mg
    pairs = cKDTree(p_idx).sparse_distance_matrix(
        cKDTree(g_idx), max_dist + 1e-9, output_type="coo_matrix"
    )
    graph = sparse.csr_matrix(
        (np.ones(pairs.nnz), (pairs.row, pairs.col)), shape=(len(p_idx), len(g_idx))
    )
    col_of_row = maximum_bipartite_matching(graph, perm_type="column")
    rows = np.flatnonzero(col_of_row >= 0)
    mp[tuple(p_idx[rows].T)] = True
    mg[tuple(g_idx[col_of_row[rows]].T)] = True
    return mp, mg


def boundary_counts(
    prob: np.ndarray,
    annotators: np.ndarray,
    *,
    thresholds: int | np.ndarray = 99,
    max_dist_frac: float = MAX_DIST,
    method: Method = "bipartite",
    thin: bool = True,
) -> np.ndarray:
    """Per-threshold counts ``(T, 4)``: ``cntR, sumR, cntP, sumP`` of one image.

    Args:
        prob: ``(H, W)`` edge probabilities in ``[0, 1]``.
        annotators: ``(K, H, W)`` binary maps (or ``(H, W)`` for one annotator).
        thresholds: a count ``n`` (:func:`thresholds_for`) or the thresholds themselves.
        max_dist_frac: tolerance as a fraction of the image diagonal (BSDS: 0.0075).
        method: correspondence, ``bipartite`` (default) or ``distance``.
        thin: apply :func:`nms_thin` before thresholding.
    """
    prob = np.asarray(prob, dtype=np.float64)
    gts = np.asarray(annotators)
    gts = gts[None] if gts.ndim == 2 else gts
    if prob.ndim != 2 or gts.ndim != 3 or gts.shape[1:] != prob.shape:
        raise ValueError(
            f"annotators must have shape (K, {prob.shape[0]}, {prob.shape[1]}) for prob of shape "
            f"{prob.shape}; got {tuple(gts.shape)}"
        )
    if method not in ("bipartite", "distance"):
        raise ValueError(f"method must be 'bipartite' or 'distance'; got {method!r}")
    if isinstance(thresholds, (int, np.integer)):
        ts = thresholds_for(int(thresholds))
    elif np.isscalar(thresholds):
        raise TypeError(f"thresholds must be an int or an array; got {thresholds!r}")
    else:
        ts = np.asarray(thresholds)
    max_dist = max_dist_frac * float(np.hypot(*prob.shape))
    e = nms_thin(prob) if thin else prob
    gts = gts.astype(bool)
    out = np.zeros((len(ts), 4), dtype=np.int64)
    out[:, 1] = int(gts.sum())
    out[:, 3] = (e[None] >= ts[:, None, None]).sum((1, 2))
    if method == "distance":
        return _distance_counts(e, gts, ts, max_dist, out)
    cand = np.argwhere(e >= ts.min())
    vals = e[tuple(cand.T)]
    graphs = []
    for gt in gts:
        g_idx = np.argwhere(gt)
        if len(cand) and len(g_idx):
            pairs = cKDTree(cand).sparse_distance_matrix(
                cKDTree(g_idx), max_dist + 1e-9, output_type="coo_matrix"
            )
            graphs.append(
                sparse.csr_matrix(
                    (np.ones(pairs.nnz), (pairs.row, pairs.col)), shape=(len(cand), len(g_idx))
                )
            )
    for i, t in enumerate(ts):
        rows = np.flatnonzero(vals >= t)
        acc = np.zeros(len(rows), dtype=bool)
        for graph in graphs:
            col_of_row = maximum_bipartite_matching(graph[rows], perm_type="column")
            acc |= col_of_row >= 0
            out[i, 0] += int((col_of_row >= 0).sum())
        out[i, 2] = int(acc.sum())
    return out


def _distance_counts(
    e: np.ndarray, gts: np.ndarray, ts: np.ndarray, max_dist: float, out: np.ndarray
) -> np.ndarray:
    """Counts of the distance-transform correspondence, all thresholds at once."""
    r = int(np.floor(max_dist))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disk = yy**2 + xx**2 <= max_dist**2 + 1e-9
    near_max = ndimage.maximum_filter(e, footprint=disk, mode="constant", cval=0.0)
    best_near = np.zeros(e.shape)
    for gt in gts:
        if gt.any():
            out[:, 0] += (near_max[gt][None] >= ts[:, None]).sum(1)
            close = ndimage.distance_transform_edt(~gt) <= max_dist
            best_near = np.maximum(best_near, np.where(close, e, 0.0))
    out[:, 2] = (best_near[None] >= ts[:, None, None]).sum((1, 2))
    return out


def _prf(c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = c[..., 0] / np.maximum(c[..., 1], 1)
    p = c[..., 2] / np.maximum(c[..., 3], 1)
    f = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0.0)
    return p, r, f


def edge_scores(counts: np.ndarray, thresholds: np.ndarray) -> dict[str, float]:
    """ODS, OIS, AP from stacked per-image counts ``(N, T, 4)`` at increasing ``thresholds``."""
    counts = np.asarray(counts)
    if counts.ndim != 3 or counts.shape[2] != 4 or counts.shape[1] != len(thresholds):
        raise ValueError(
            f"counts must have shape (N, {len(thresholds)}, 4); got {tuple(counts.shape)}"
        )
    p, r, f = _prf(counts.sum(0))
    best = int(np.argmax(f))
    _, _, f_img = _prf(counts)
    own = counts[np.arange(len(counts)), np.argmax(f_img, axis=1)]
    _, _, ois = _prf(own.sum(0))
    order = np.argsort(r)
    rs, ps = r[order], p[order]
    ap = float(np.sum(np.diff(np.concatenate([[0.0], rs])) * ps))
    return {
        "ods": float(f[best]),
        "ois": float(ois),
        "ap": ap,
        "ods_threshold": float(thresholds[best]),
        "ods_precision": float(p[best]),
        "ods_recall": float(r[best]),
    }


def evaluate_edges(
    probs: list[np.ndarray],
    annotators: list[np.ndarray],
    *,
    thresholds: int = 99,
    max_dist_frac: float = MAX_DIST,
    method: Method = "bipartite",
    thin: bool = True,
) -> dict[str, float]:
    """ODS / OIS / AP of predictions ``probs[i] (H_i, W_i)`` against ``annotators[i] (K_i, H_i,
    W_i)``, the BSDS protocol (module docstring)."""
    if len(probs) != len(annotators) or not probs:
        raise ValueError(
            f"probs and annotators must be non-empty lists of equal length; got {len(probs)} "
            f"and {len(annotators)}"
        )
    ts = thresholds_for(thresholds)
    counts = np.stack(
        [
            boundary_counts(
                p, a, thresholds=ts, max_dist_frac=max_dist_frac, method=method, thin=thin
            )
            for p, a in zip(probs, annotators)
        ]
    )
    return edge_scores(counts, ts)
