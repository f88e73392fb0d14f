"""Feature-based OOD scores fitted on the training set's penultimate features (higher = more
in-distribution).

- Mahalanobis (Lee, Lee, Lee & Shin, "A Simple Unified Framework for Detecting
  Out-of-Distribution Samples and Adversarial Attacks", NeurIPS 2018): class means ``mu_c`` and
  one tied covariance ``Sigma`` of the training features grouped by their (here: noisy)
  labels; the score is ``-min_c (f - mu_c)^T Sigma^+ (f - mu_c)``. Simplified: the last
  feature layer only, without the paper's input pre-processing and layer ensemble.
- Deep k-NN (Sun, Ming, Zhu & Li, "Out-of-Distribution Detection with Deep Nearest
  Neighbors", ICML 2022): features normalised to unit L2 norm; the score is minus the
  Euclidean distance to the ``k``-th nearest normalised training feature (the paper's
  CIFAR-10 default ``k = 50``, all training features kept).
"""

from __future__ import annotations

import numpy as np

from labelnoise.common.conformal._validate import as_labels, as_matrix

__all__ = ["KNNDetector", "MahalanobisDetector"]


def _features(name: str, x: object, dim: int | None = None) -> np.ndarray:
    f = as_matrix(name, x)
    if dim is not None and f.shape[1] != dim:
        raise ValueError(f"{name} must have {dim} columns (the fitted features'); got {f.shape}")
    return f


class MahalanobisDetector:
    """Class-conditional Gaussians with a tied covariance (Lee et al., 2018).

    Args:
        train_features: ``(N, D)`` training features.
        train_labels: ``(N,)`` their labels in ``[0, K)``; classes without examples get no
            mean (they are skipped in the minimum).
        num_classes: ``K`` (default ``max(labels) + 1``).

    Attributes:
        means: ``(K, D)`` class means (NaN rows for absent classes).
        precision: ``(D, D)`` pseudo-inverse of the tied covariance
            ``(1 / N) sum_i (f_i - mu_{y_i})(f_i - mu_{y_i})^T``.
    """

    def __init__(
        self, train_features: object, train_labels: object, *, num_classes: int | None = None
    ) -> None:
        f = _features("train_features", train_features)
        raw = np.asarray(train_labels)
        k = int(raw.max()) + 1 if num_classes is None and raw.size else int(num_classes or 0)
        if k < 1:
            raise ValueError(f"num_classes must be >= 1; got {num_classes!r}")
        y = as_labels("train_labels", raw, f.shape[0], k)
        self.means = np.full((k, f.shape[1]), np.nan)
        centered = np.empty_like(f)
        for c in range(k):
            idx = y == c
            if idx.any():
                self.means[c] = f[idx].mean(0)
                centered[idx] = f[idx] - self.means[c]
        cov = centered.T @ centered / f.shape[0]
        self.precision = np.linalg.pinv(cov, hermitian=True)
        self._present = np.flatnonzero(~np.isnan(self.means[:, 0]))

    def distances(self, features: object) -> np.ndarray:
        """Squared Mahalanobis distances ``(N, K)`` to every class mean (inf: absent class)."""
        f = _features("features", features, self.means.shape[1])
        out = np.full((f.shape[0], self.means.shape[0]), np.inf)
        for c in self._present:
            d = f - self.means[c]
            out[:, c] = np.einsum("nd,de,ne->n", d, self.precision, d)
        return out

    def score(self, features: object) -> np.ndarray:
        """``-min_c`` squared distance: ``(N, D)`` -> ``(N,)``."""
        return -self.distances(features).min(axis=1)


def _normalize(f: np.ndarray) -> np.ndarray:
    return f / np.clip(np.linalg.norm(f, axis=1, keepdims=True), 1e-12, None)


class KNNDetector:
    """Deep nearest neighbours (Sun et al., 2022).

    Args:
        train_features: ``(N, D)`` training features (normalised here).
        k: which nearest neighbour's distance is the score (default 50; ``1 <= k <= N``).
        block_size: test rows per distance block (memory ``block_size x N``).
    """

    def __init__(self, train_features: object, *, k: int = 50, block_size: int = 1024) -> None:
        f = _features("train_features", train_features)
        if int(k) != k or not 1 <= k <= f.shape[0]:
            raise ValueError(f"k must be an integer in [1, {f.shape[0]}]; got {k!r}")
        if int(block_size) != block_size or block_size < 1:
            raise ValueError(f"block_size must be an integer >= 1; got {block_size!r}")
        self.bank = _normalize(f)
        self.k, self.block_size = int(k), int(block_size)

    def kth_distance(self, features: object) -> np.ndarray:
        """Distance ``(N,)`` of each normalised row to its ``k``-th nearest training row."""
        f = _normalize(_features("features", features, self.bank.shape[1]))
        out = np.empty(f.shape[0])
        for s in range(0, f.shape[0], self.block_size):
            # |a - b|^2 = 2 - 2 a.b for unit vectors
            sq = np.clip(2.0 - 2.0 * f[s : s + self.block_size] @ self.bank.T, 0.0, None)
            out[s : s + self.block_size] = np.partition(sq, self.k - 1, axis=1)[:, self.k - 1]
        return np.sqrt(out)

    def score(self, features: object) -> np.ndarray:
        """Minus the ``k``-th nearest-neighbour distance: ``(N, D)`` -> ``(N,)``."""
        return -self.kth_distance(features)
