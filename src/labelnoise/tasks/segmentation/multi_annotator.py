"""Multi-annotator masks: pixelwise majority vote and STAPLE.

STAPLE: Warfield, Zou & Wells, "Simultaneous Truth and Performance Level Estimation", IEEE TMI
2004 -- EM over a binary latent truth per pixel with a per-annotator sensitivity ``p_j =
P(D_j = 1 | T = 1)`` and specificity ``q_j = P(D_j = 0 | T = 0)`` and a global foreground prior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["StapleResult", "majority_vote_masks", "staple"]


def majority_vote_masks(masks: Tensor | np.ndarray, *, num_classes: int = 2) -> Tensor:
    """Pixelwise mode of ``masks (K, H, W)`` (class ids in ``[0, num_classes)``).

    Ties go to the largest tied class id, so for binary masks a tie is foreground -- crowd-kit's
    ``SegmentationMajorityVote`` rule (``2 * votes - K >= 0``). Returns ``(H, W)`` int64.
    """
    m = torch.as_tensor(np.asarray(masks)).long()
    if m.dim() != 3 or m.shape[0] == 0:
        raise ValueError(f"masks must have shape (K, H, W) with K >= 1; got {tuple(m.shape)}")
    if int(m.min()) < 0 or int(m.max()) >= num_classes:
        raise ValueError(
            f"masks must be in [0, {num_classes}); got range [{int(m.min())}, {int(m.max())}]"
        )
    votes = torch.nn.functional.one_hot(m, num_classes).sum(0)  # (H, W, C)
    return num_classes - 1 - votes.flip(-1).argmax(-1)


@dataclass(frozen=True)
class StapleResult:
    """``posterior (H, W)`` P(T = 1 | D), ``sensitivity (K,)``, ``specificity (K,)``,
    ``prior`` and the iterations run."""

    posterior: np.ndarray
    sensitivity: np.ndarray
    specificity: np.ndarray
    prior: float
    n_iter: int

    @property
    def mask(self) -> np.ndarray:
        """``posterior >= 0.5``."""
        return self.posterior >= 0.5


def staple(
    masks: Tensor | np.ndarray,
    *,
    max_iter: int = 100,
    tol: float = 1e-7,
    init: float = 0.9,
    prior: float | None = None,
) -> StapleResult:
    """STAPLE on binary ``masks (K, H, W)`` (or ``(K, U)``) of ``K`` annotators.

    Args:
        max_iter: EM iterations at most; stops when ``p`` and ``q`` move less than ``tol``.
        init: initial sensitivity and specificity of every annotator.
        prior: foreground prior; None: the mean of all votes (Warfield et al.'s choice).
    """
    d = np.asarray(masks).astype(bool)
    if d.ndim < 2 or d.shape[0] == 0:
        raise ValueError(f"masks must have shape (K, H, W) with K >= 1; got {d.shape}")
    shape = d.shape[1:]
    d = d.reshape(d.shape[0], -1).astype(np.float64)
    f = float(d.mean()) if prior is None else prior
    if not 0 < f < 1:
        return StapleResult(np.full(shape, float(f >= 1)), np.ones(len(d)), np.ones(len(d)), f, 0)
    p = np.full(len(d), init)
    q = np.full(len(d), init)
    eps = 1e-12
    n_run = 0
    for n_run in range(1, max_iter + 1):  # noqa: B007 (n_run is reported)
        lp, l1p = np.log(p + eps), np.log(1 - p + eps)
        lq, l1q = np.log(q + eps), np.log(1 - q + eps)
        a = np.log(f) + lp @ d + l1p @ (1 - d)
        b = np.log(1 - f) + lq @ (1 - d) + l1q @ d
        w = 1.0 / (1.0 + np.exp(np.clip(b - a, -700, 700)))
        p_new = (d @ w) / max(w.sum(), eps)
        q_new = ((1 - d) @ (1 - w)) / max((1 - w).sum(), eps)
        done = max(np.abs(p_new - p).max(), np.abs(q_new - q).max()) < tol
        p, q = p_new, q_new
        if done:
            break
    return StapleResult(w.reshape(shape), p, q, f, n_run)
