"""MOIT's label-noise detection in a feature space (Ortego et al., CVPR 2021): does an
example's label agree with its ``k`` nearest neighbours' (corrected) labels?

With L2-normalised features ``z (N, D)`` and cosine similarity (self excluded), two passes:

1. each example's kNN label histogram of the given labels; its argmax is the example's
   *corrected* label;
2. each example's kNN histogram of the neighbours' corrected labels, ``q = counts / k``;
   discrepancy ``d_i = -log(clip(q_{i, y_i}, 0.01, 0.99))``; *agreement*: ``argmax q_i = y_i``.

Class balance (``balance: median``, the authors' CIFAR setting): the number of agreeing
examples per given class is counted; every class then keeps its ``m`` (the median of those
counts; ``max`` / ``min`` also exist; capped at the class size) examples of smallest
discrepancy as clean. Neighbours are counted, not weighted by similarity (as in the authors'
code). Ties of the argmax go to the smaller class.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["knn_agreement"]


def _knn_counts(
    neigh: Tensor, labels: Tensor, num_classes: int
) -> Tensor:  # (N, k) ids -> (N, C) counts
    return F.one_hot(labels[neigh], num_classes).sum(1).double()


def knn_agreement(
    features: Tensor,
    labels: Tensor,
    num_classes: int,
    *,
    k: int = 250,
    balance: Literal["median", "max", "min", "none"] = "median",
    chunk: int = 2048,
) -> tuple[Tensor, Tensor]:
    """``(clean (N,) bool, discrepancy (N,) float64)`` of ``features (N, D)`` and the given
    ``labels (N,)``; ``k`` is capped at ``N - 1``."""
    n = len(labels)
    if n < 2:
        raise ValueError(f"knn_agreement needs at least 2 examples; got {n}")
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    if balance not in ("median", "max", "min", "none"):
        raise ValueError(f"balance must be median, max, min or none; got {balance!r}")
    k = min(k, n - 1)
    z = F.normalize(features.double(), dim=1)
    y = labels.long()
    neigh = torch.empty(n, k, dtype=torch.long)
    for s in range(0, n, chunk):  # top-k by cosine similarity, self excluded
        sim = z[s : s + chunk] @ z.T
        rows = torch.arange(sim.shape[0])
        sim[rows, rows + s] = -float("inf")
        neigh[s : s + chunk] = sim.topk(k, dim=1).indices
    corrected = _knn_counts(neigh, y, num_classes).argmax(1)
    q = _knn_counts(neigh, corrected, num_classes) / k
    disc = -q.gather(1, y.view(-1, 1)).squeeze(1).clamp(0.01, 0.99).log()
    agree = q.argmax(1) == y
    if balance == "none":
        return agree, disc
    per_class = torch.tensor([float(agree[y == c].sum()) for c in range(num_classes)])
    if balance == "median":  # torch's: the lower of the two middle values (as the authors)
        m = int(per_class.median())
    else:
        m = int(per_class.max() if balance == "max" else per_class.min())
    clean = torch.zeros(n, dtype=torch.bool)
    for c in range(num_classes):
        idx = torch.nonzero(y == c).view(-1)
        order = np.argsort(disc[idx].numpy(), kind="stable")[: min(m, len(idx))]
        clean[idx[torch.as_tensor(order, dtype=torch.long)]] = True
    return clean, disc
