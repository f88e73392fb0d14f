"""Boundary-tolerant targets: ignore the pixels near a (noisy) class boundary.

For two classes this is what label relaxation (Zhu et al., "Improving Semantic Segmentation via
Video Propagation and Label Relaxation", CVPR 2019) reduces to: a pixel whose ``(2k+1)``-window
holds both classes accepts either, so it carries no loss; the rest keep their label. Used as a
target transform before training with any core loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from labelnoise.common.units import IGNORE_INDEX

__all__ = ["ignore_near_boundary"]


def ignore_near_boundary(labels: Tensor, *, k: int = 1, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """``labels (N, H, W)`` with every pixel whose ``(2k+1) x (2k+1)`` window (Chebyshev
    distance ``<= k``) holds more than one class set to ``ignore_index``; ignored pixels do not
    count as a class. ``k = 0`` returns a copy."""
    if labels.dim() != 3 or labels.is_floating_point():
        raise ValueError(
            f"labels must be an integer (N, H, W) tensor; got {labels.dtype} {tuple(labels.shape)}"
        )
    if k < 0:
        raise ValueError(f"k must be >= 0; got {k}")
    out = labels.clone()
    if k == 0:
        return out
    valid = labels != ignore_index
    big = torch.iinfo(torch.int64).max
    lab = labels.long()[:, None]
    hi = F.max_pool2d(torch.where(valid[:, None], lab, -1).float(), 2 * k + 1, 1, k)
    lo = -F.max_pool2d(-torch.where(valid[:, None], lab, big).float(), 2 * k + 1, 1, k)
    out[(hi[:, 0] != lo[:, 0]) & valid] = ignore_index
    return out
