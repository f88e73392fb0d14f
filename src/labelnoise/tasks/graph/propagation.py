"""Label propagation over the graph and the label pre-correction built on it.

Label propagation (Zhou et al., NIPS 2004) spreads the one-hot training labels with
``Y <- (1 - alpha) S Y + alpha Y0`` for ``k`` steps, ``S = D^-1/2 (A + I) D^-1/2``; the result
scores each node's classes by the labels of its graph neighbourhood. ERASE (Chen et al.,
CIKM 2024) pre-corrects the noisy training labels this way before training; here a training
label is replaced when the propagated evidence of its *other* labelled neighbours (the node's
own label left out) favours another class by a margin.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from labelnoise.tasks.graph.models import normalized_adjacency

__all__ = ["label_propagation", "lp_correct", "neighbour_label_agreement"]


def label_propagation(
    labels: Tensor,
    edge_index: Tensor,
    mask: Tensor,
    num_classes: int,
    *,
    k: int = 10,
    alpha: float = 0.1,
) -> Tensor:
    """Propagate the labels of ``mask`` nodes; returns row-normalised ``(N, K)`` scores.

    Args:
        labels: ``(N,)`` long labels (only ``mask`` entries are read).
        edge_index: ``(2, E)``.
        mask: ``(N,)`` bool, the labelled nodes.
        num_classes: ``K``.
        k, alpha: steps and restart probability of ``Y <- (1 - alpha) S Y + alpha Y0``.
    """
    n = labels.shape[0]
    y0 = torch.zeros(n, num_classes)
    y0[mask] = F.one_hot(labels[mask], num_classes).float()
    s = normalized_adjacency(edge_index, n)
    y = y0
    for _ in range(k):
        y = (1 - alpha) * (s @ y) + alpha * y0
    return y / y.sum(1, keepdim=True).clamp_min(1e-12)


def neighbour_label_agreement(
    labels: Tensor,
    edge_index: Tensor,
    train_idx: Tensor,
    num_classes: int,
    *,
    k: int = 10,
    alpha: float = 0.1,
) -> Tensor:
    """Leave-one-out label propagation: ``(M, K)`` class scores of each training node from the
    *other* training labels only (its own one-hot removed before normalising).

    Uses linearity: the propagated scores of node ``i`` minus its own contribution, which is
    ``P[i, i] * onehot(y_i)`` with ``P[i, i]`` the return mass of ``i`` under the PPR walk.
    """
    n, m = labels.shape[0], train_idx.numel()
    s = normalized_adjacency(edge_index, n)
    y0 = torch.zeros(n, num_classes)
    y0[train_idx] = F.one_hot(labels[train_idx], num_classes).float()
    # The return mass P[i, i]: propagate the M unit vectors of the training nodes alongside.
    unit = torch.zeros(n, m)
    unit[train_idx, torch.arange(m)] = 1.0
    y, p = y0, unit
    for _ in range(k):
        y = (1 - alpha) * (s @ y) + alpha * y0
        p = (1 - alpha) * (s @ p) + alpha * unit
    diag = p[train_idx, torch.arange(m)]
    own = F.one_hot(labels[train_idx], num_classes).float() * diag[:, None]
    others = (y[train_idx] - own).clamp_min(0.0)
    total = others.sum(1, keepdim=True)
    uniform = torch.full_like(others, 1.0 / num_classes)
    return torch.where(total > 1e-12, others / total.clamp_min(1e-12), uniform)


def lp_correct(
    labels: Tensor,
    edge_index: Tensor,
    train_idx: Tensor,
    num_classes: int,
    *,
    k: int = 10,
    alpha: float = 0.1,
    margin: float = 0.2,
) -> Tensor:
    """Label-propagation pre-correction of the training labels.

    A training label ``y_i`` becomes ``argmax_c a_ic`` when the leave-one-out neighbour
    scores ``a_i`` (:func:`neighbour_label_agreement`) exceed ``a_i[y_i]`` by ``margin``.

    Returns:
        ``(N,)`` labels, changed only at ``train_idx``.
    """
    a = neighbour_label_agreement(labels, edge_index, train_idx, num_classes, k=k, alpha=alpha)
    y = labels[train_idx]
    best = a.argmax(1)
    gain = a.gather(1, best[:, None]).squeeze(1) - a.gather(1, y[:, None]).squeeze(1)
    out = labels.clone()
    out[train_idx] = torch.where(gain > margin, best, y)
    return out
