"""Neighbourhood-aware mislabel detection on graphs, in the style of GraphCleaner.

GraphCleaner (Li et al., "GraphCleaner: Detecting Mislabelled Samples in Popular Graph
Learning Benchmarks", ICCV 2023) combines a classifier's predicted probabilities with how well
a node's label agrees with the labels around it. We keep that idea in closed form: the
evidence for class ``c`` at training node ``i`` is

    e_ic = lam * p_ic + (1 - lam) * a_ic

with ``p`` the model's (out-of-sample or early-stopped) class probabilities and ``a`` the
leave-one-out label-propagation scores of the other training labels
(:func:`~labelnoise.tasks.graph.propagation.neighbour_label_agreement`). The label quality is
``e_i[y_i]`` (higher = cleaner, cleanlab's convention) and a node is flagged when another class
beats its label: ``argmax_c e_ic != y_i``.
"""

from __future__ import annotations

from torch import Tensor

from labelnoise.common._checks import check_in_range, check_probabilities
from labelnoise.tasks.graph.propagation import neighbour_label_agreement

__all__ = ["graph_label_quality"]


def graph_label_quality(
    labels: Tensor,
    pred_probs: Tensor,
    edge_index: Tensor,
    train_idx: Tensor,
    *,
    lam: float = 0.5,
    k: int = 10,
    alpha: float = 0.1,
) -> tuple[Tensor, Tensor]:
    """Label quality and issue flags of the training nodes.

    Args:
        labels: ``(N,)`` long (noisy) labels; only ``train_idx`` entries are scored.
        pred_probs: ``(N, K)`` or ``(M, K)`` model probabilities (rows of ``train_idx`` are
            taken when ``N`` rows are given).
        edge_index: ``(2, E)``.
        train_idx: ``(M,)`` training node ids.
        lam: weight of the model in ``[0, 1]`` (1: model only, 0: neighbours only).
        k, alpha: label-propagation steps and restart probability.

    Returns:
        ``(quality (M,), is_issue (M,) bool)`` in ``train_idx`` order.
    """
    check_in_range("lam", lam, 0.0, 1.0)
    n, m = labels.shape[0], train_idx.shape[0]
    if pred_probs.dim() != 2 or pred_probs.shape[0] not in (n, m):
        raise ValueError(
            f"pred_probs must have shape ({n}, K) or ({m}, K); got {tuple(pred_probs.shape)}"
        )
    check_probabilities("pred_probs", pred_probs.double(), dim=1, atol=1e-3)
    p = pred_probs[train_idx] if pred_probs.shape[0] == n and n != m else pred_probs
    k_classes = p.shape[1]
    a = neighbour_label_agreement(labels, edge_index, train_idx, k_classes, k=k, alpha=alpha)
    evidence = lam * p.float() + (1 - lam) * a
    y = labels[train_idx]
    quality = evidence.gather(1, y[:, None]).squeeze(1)
    return quality, evidence.argmax(1) != y
