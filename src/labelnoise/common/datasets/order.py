"""Orders of a dataset's examples."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["interleave_classes"]


def interleave_classes(labels: np.ndarray | torch.Tensor) -> np.ndarray:
    """Order that visits the classes round-robin (first of each class, then the second, ...),
    so that any prefix (``data.limit``, ``data.eval_limit``) is close to class-balanced."""
    labels = np.asarray(labels)
    rank = np.zeros(len(labels), np.int64)
    for c in np.unique(labels):
        at = np.flatnonzero(labels == c)
        rank[at] = np.arange(len(at))
    return np.lexsort((labels, rank))
