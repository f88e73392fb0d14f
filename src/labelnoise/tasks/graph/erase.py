"""The pure label pieces of ERASE (the ``erase`` method, :mod:`labelnoise.methods.erase`,
trains with them through the engine).

Chen et al., "ERASE: Error-Resilient Representation Learning on Graphs for Label Noise
Tolerance", CIKM 2024: structural pre-correction of the training labels (:func:`precorrect`),
then at every step semantic labels from class prototypes of the representations and decoupled
label propagation over the whole graph (:func:`erase_labels`). The propagation operator is the
authors' ``A D^-1`` (:func:`column_normalized`) with the lazy step
``Y <- (1 - alpha) A Y + alpha Y`` (the current labels, not the initial ones, are kept).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["column_normalized", "erase_labels", "precorrect"]


def column_normalized(edge_index: Tensor, num_nodes: int, keep: Tensor | None = None) -> Tensor:
    """``A D^-1`` as a sparse ``(N, N)`` tensor: the 0/1 adjacency of ``edge_index`` (duplicate
    edges once; only edges between ``keep (N,)`` bool nodes when given), column ``j`` divided
    by the degree of ``j`` (0 for an isolated node)."""
    ei = edge_index
    if keep is not None:
        ei = ei[:, keep[ei[0]] & keep[ei[1]]]
    a = torch.sparse_coo_tensor(ei, torch.ones(ei.shape[1]), (num_nodes, num_nodes)).coalesce()
    idx = a.indices()
    deg = torch.bincount(idx[0], minlength=num_nodes).float()
    inv = torch.where(deg > 0, 1.0 / deg.clamp_min(1.0), torch.zeros_like(deg))
    return torch.sparse_coo_tensor(idx, inv[idx[1]], (num_nodes, num_nodes)).coalesce()


def _propagate(a: Tensor, y: Tensor, alpha: float, steps: int) -> Tensor:
    for _ in range(steps):
        y = (1 - alpha) * torch.sparse.mm(a, y) + alpha * y
    return y


def precorrect(
    labels: Tensor, edge_index: Tensor, train_idx: Tensor, num_classes: int, *, alpha: float, T: int
) -> Tensor:
    """``Y_pre (N, K)``: the one-hot labels of ``train_idx`` propagated ``T`` steps over the
    training-to-training edges (step 1 of the module docstring); 0 off the training nodes."""
    n = labels.shape[0]
    keep = torch.zeros(n, dtype=torch.bool)
    keep[train_idx] = True
    y = torch.zeros(n, num_classes)
    y[train_idx] = F.one_hot(labels[train_idx], num_classes).float()
    return _propagate(column_normalized(edge_index, n, keep), y, alpha, T)


@torch.no_grad()
def erase_labels(
    z: Tensor, y_pre: Tensor, train_idx: Tensor, a: Tensor, *, alpha: float, beta: float, T: int
) -> Tensor:
    """``L (N,)``: ERASE's labels of every node for representations ``z (N, D)`` (steps 2-3
    of the module docstring); ``a`` is :func:`column_normalized` of the whole graph."""
    k = y_pre.shape[1]
    z = z.float()
    given = y_pre[train_idx].argmax(1)
    onehot = F.one_hot(given, k).float()
    counts = onehot.sum(0)
    protos = (onehot.T @ z[train_idx]) / counts.clamp_min(1)[:, None]  # (K, D) class means
    cos = (F.normalize(z, dim=1) @ F.normalize(protos, dim=1).T).abs()
    y = F.softmax(beta * y_pre.to(z.device) + (1 - beta) * cos, dim=1)
    return _propagate(a.to(z.device), y, alpha, T).argmax(1)
