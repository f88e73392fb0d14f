"""Exact k-nearest-neighbour distances, blockwise: the kernel of the outlier and OUTRE scores.

Distances are those of ``sklearn.neighbors.NearestNeighbors`` (what cleanlab uses):
``euclidean`` ``sqrt(sum (a - b)^2)`` (a k-d tree, exact, for few dimensions) and ``cosine``
``clip(1 - a.b / (|a| |b|), 0, 2)`` (rows normalised first, zero rows left as they are).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.spatial import cKDTree

Metric = Literal["euclidean", "cosine"]

#: Bytes of one block of the (queries x train) distance matrix.
_BLOCK_BYTES = 64 * 2**20


def _normalize(x: np.ndarray) -> np.ndarray:
    """sklearn's ``normalize``: rows divided by their L2 norm, zero rows kept."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    norms[norms == 0.0] = 1.0
    return x / norms[:, None]


def _duplicate_groups(x: np.ndarray) -> np.ndarray:
    """Group id ``(N,)`` of each row among exact duplicate rows; -1 for a unique row."""
    _, inverse, counts = np.unique(x, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    return np.where(counts[inverse] > 1, inverse, -1)


def knn_distances(
    train: np.ndarray,
    k: int,
    metric: Metric,
    query: np.ndarray | None = None,
) -> np.ndarray:
    """Sorted distances ``(Nq, k)`` from each query row to its ``k`` nearest ``train`` rows.

    ``query=None`` queries ``train`` itself without the row itself, and exact duplicate rows
    are at distance 0 from each other (cleanlab's ``correct_knn_distances_and_indices``).
    A given ``query`` keeps every train row (a query equal to a train row is at 0).
    """
    self_query = query is None
    q = train if query is None else query
    if metric == "euclidean":
        tree = cKDTree(train)
        d, _ = tree.query(q, k=k + self_query)
        d = np.asarray(d, dtype=np.float64).reshape(q.shape[0], k + self_query)
        return d[:, 1:] if self_query else d  # column 0 is the row itself, at exactly 0
    tn = _normalize(train)
    qn = tn if self_query else _normalize(q)
    groups = _duplicate_groups(train) if self_query else None
    n = tn.shape[0]
    block = max(1, _BLOCK_BYTES // (8 * n))
    out = np.empty((qn.shape[0], k))
    for s in range(0, qn.shape[0], block):
        d = qn[s : s + block] @ tn.T
        np.subtract(1.0, d, out=d)
        np.clip(d, 0.0, 2.0, out=d)
        rows = np.arange(d.shape[0])
        if groups is not None:
            d[rows, rows + s] = np.inf
            g = groups[s : s + block]
            dup = np.flatnonzero(g >= 0)
            if dup.size:
                same = groups[None, :] == g[dup, None]
                same[np.arange(dup.size), dup + s] = False
                sub = d[dup]
                sub[same] = 0.0
                d[dup] = sub
        part = np.partition(d, k - 1, axis=1)[:, :k] if k < n else d
        out[s : s + block] = np.sort(part, axis=1)
    return out
