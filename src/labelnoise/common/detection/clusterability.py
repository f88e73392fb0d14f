"""k-NN label clusterability: detect corrupted labels from features, without training.

Zhu, Dong & Liu, "Detecting Corrupted Labels Without Training a Model to Predict" (ICML 2022,
SimiFeat). Nearby examples in a good feature space share their clean label, so an example is
suspicious when its neighbours disagree with its label. The score of example ``i`` is the
fraction of its ``k`` nearest neighbours (cosine similarity, self excluded) labelled ``y_i``
-- a label quality in ``[0, 1]``, higher = cleaner; SimiFeat's voting rule flags an example
whose neighbours' majority label differs from its own.
"""

from __future__ import annotations

import numpy as np

from labelnoise.common.detection._validate import _as_labels, as_float_array

__all__ = ["knn_label_clusterability", "knn_neighbors"]


def knn_neighbors(features: np.ndarray, *, k: int = 10, block_size: int = 2048) -> np.ndarray:
    """Indices ``(N, k)`` of each row's ``k`` most cosine-similar other rows (blockwise)."""
    f = as_float_array("features", features)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"features must have shape (N, D) with N >= 2; got {f.shape}")
    if not np.isfinite(f).all():
        raise ValueError("features must be finite; got NaN or inf")
    n = f.shape[0]
    if not 1 <= int(k) < n:
        raise ValueError(f"k must be in [1, {n - 1}]; got {k}")
    k = int(k)
    f = f / np.clip(np.linalg.norm(f, axis=1, keepdims=True), 1e-12, None)
    out = np.empty((n, k), dtype=np.int64)
    for s in range(0, n, block_size):
        sim = f[s : s + block_size] @ f.T
        rows = np.arange(sim.shape[0])
        sim[rows, rows + s] = -np.inf
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sim, top, axis=1), axis=1, kind="stable")
        out[s : s + block_size] = np.take_along_axis(top, order, axis=1)
    return out


def knn_label_clusterability(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    k: int = 10,
    num_classes: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """SimiFeat-style k-NN scores and vote.

    Args:
        features: ``(N, D)`` features (e.g. a pre-trained encoder's embeddings).
        labels: ``(N,)`` given labels in ``[0, K)``.
        k: neighbours per example (default 10).
        num_classes: ``K`` (default ``max(labels) + 1``).

    Returns:
        ``(quality (N,), is_issue (N,))``: the fraction of neighbours agreeing with the label,
        and the vote ``majority neighbour label != label`` (ties favour the given label).
    """
    y = _as_labels("labels", labels)
    nbrs = knn_neighbors(features, k=k)
    if y.shape != (nbrs.shape[0],):
        raise ValueError(f"labels must have shape ({nbrs.shape[0]},); got {y.shape}")
    kk = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.min() < 0 or y.max() >= kk:
        raise ValueError(f"labels must be in [0, {kk}); got max {y.max()}")
    votes = np.zeros((y.shape[0], kk), dtype=np.int64)
    np.add.at(votes, (np.repeat(np.arange(y.shape[0]), nbrs.shape[1]), y[nbrs].reshape(-1)), 1)
    own = votes[np.arange(y.shape[0]), y]
    quality = own / nbrs.shape[1]
    return quality, votes.max(axis=1) > own
