"""numpy views of metric inputs (numpy arrays, torch tensors or sequences)."""

from __future__ import annotations

import numpy as np
import torch


def to_numpy(x: object) -> np.ndarray:
    """``x`` as a numpy array (tensors detached and moved to CPU)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def mask_and_scores(is_corrupted: object, quality: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate a ground-truth mask ``(N,)`` and quality scores ``(N,)``; return them flat."""
    m = to_numpy(is_corrupted)
    q = to_numpy(quality)
    if m.ndim != 1 or q.shape != m.shape:
        raise ValueError(
            f"is_corrupted and quality must both have shape (N,); got {m.shape} and {q.shape}"
        )
    if m.size == 0:
        raise ValueError("is_corrupted must not be empty; got 0 elements")
    if m.dtype != bool:
        if not np.isin(m, (0, 1)).all():
            raise ValueError("is_corrupted must be a bool or 0/1 mask; got other values")
        m = m.astype(bool)
    q = q.astype(np.float64)
    if not np.isfinite(q).all():
        raise ValueError("quality must be finite; got NaN or inf")
    return m, q


def both_classes(m: np.ndarray, metric: str) -> None:
    """Raise unless ``m`` holds both corrupted and clean items."""
    if m.all() or not m.any():
        raise ValueError(
            f"{metric} needs both corrupted and clean items in is_corrupted; "
            f"got {int(m.sum())} corrupted of {m.size}"
        )
