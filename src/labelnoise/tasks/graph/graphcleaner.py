"""The pure pieces of GraphCleaner (the ``graphcleaner`` method trains its base model through
the engine and calls these).

Li, Zhou, Hooi et al., "GraphCleaner: Detecting Mislabelled Samples in Popular Graph Learning
Benchmarks", KDD 2023 (code: github.com/lywww/GraphCleaner, ``run_CL_negsamp.py``, read for the
features and the sampling):

* :func:`synthetic_mislabels`: on a held set of nodes whose labels are taken as correct, a
  fraction ``sample_rate`` gets a new label drawn from the estimated noise transition
  ``P(noisy | true)`` (column ``y`` of cleanlab's column-stochastic noise matrix, ``y``
  excluded); classes whose column has no off-diagonal mass are not sampled (as the authors).
* :func:`neighbourhood_features`: for node ``i`` with (possibly synthetic) label ``l_i``,
  ``[P0[i, l_i], (S P0)[i, l_i], ..., (S^k P0)[i, l_i], (S L)[i, l_i], ..., (S^k L)[i, l_i]]``
  (``2k + 1`` features) with ``P0`` the base model's probabilities, ``L`` the one-hot known
  labels (the originals, not the synthetic ones), ``S = D^-1/2 A D^-1/2`` (no self-loops) and
  the diagonal of ``S^h`` removed for ``h >= 2`` (a node never sees its own label).
* :func:`fit_detector`: a binary classifier (scikit-learn logistic regression, as the authors'
  ``LR`` option, or a 32-unit MLP) of "synthetic mislabel" from those features.

Simplified: ``S^h`` are exact powers with the diagonal removed (the authors chain ``S`` onto an
already diagonal-free ``S^3`` for ``h = 4``); the sampling draws the new label from the
column with ``y`` removed and renormalised, which is the distribution of the authors'
redraw-until-different loop.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp
from torch import Tensor

__all__ = ["fit_detector", "neighbourhood_features", "sym_adjacency", "synthetic_mislabels"]


def sym_adjacency(edge_index: Tensor | np.ndarray, num_nodes: int) -> sp.csr_matrix:
    """``D^-1/2 A D^-1/2`` (0/1 adjacency without self-loops, ``1e-10`` added to the degrees
    as the authors) as a scipy CSR matrix."""
    ei = np.asarray(edge_index)
    ei = ei[:, ei[0] != ei[1]]
    a = sp.coo_matrix((np.ones(ei.shape[1]), (ei[0], ei[1])), shape=(num_nodes, num_nodes))
    a = a.tocsr()
    a.data[:] = 1.0  # duplicate edges once
    deg = np.asarray(a.sum(1)).ravel() + 1e-10
    inv = sp.diags(deg**-0.5)
    return (inv @ a @ inv).tocsr()


def neighbourhood_features(
    s: sp.csr_matrix, probs: np.ndarray, known: np.ndarray, labels: np.ndarray, k: int
) -> np.ndarray:
    """``(N, 2k + 1)`` GraphCleaner features of every node for ``labels (N,)``.

    Args:
        s: :func:`sym_adjacency`.
        probs: ``(N, K)`` base-model probabilities ``P0``.
        known: ``(N, K)`` one-hot known labels ``L`` (zero rows: unknown).
        labels: ``(N,)`` the label each node is scored for (rows not scored may hold any class).
        k: hops, >= 1.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k!r}")
    n = probs.shape[0]
    rows = np.arange(n)
    p_cols, l_cols = [probs[rows, labels]], []
    power = sp.identity(n, format="csr")
    for h in range(1, k + 1):
        power = (s @ power).tocsr()
        sh = power
        if h >= 2:
            sh = power.copy()
            sh.setdiag(0.0)
            sh.eliminate_zeros()
        p_cols.append((sh @ probs)[rows, labels])
        l_cols.append((sh @ known)[rows, labels])
    return np.stack(p_cols + l_cols, axis=1)


def synthetic_mislabels(
    labels: np.ndarray,
    held: np.ndarray,
    noise_matrix: np.ndarray,
    sample_rate: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt ``sample_rate`` of the ``held`` nodes by ``noise_matrix`` (``(K, K)``,
    ``[noisy, true]``, column-stochastic; cleanlab's ``noise_matrix``).

    Returns:
        ``(labels (N,) with the synthetic ones, sampled node ids)``; nodes of a class whose
        column has no off-diagonal mass (or NaN) are never sampled.
    """
    if not 0 < sample_rate <= 1:
        raise ValueError(f"sample_rate must be in (0, 1]; got {sample_rate!r}")
    m = np.nan_to_num(np.asarray(noise_matrix, dtype=np.float64), nan=0.0)
    k = m.shape[0]
    off = m * (1 - np.eye(k))
    valid_class = off.sum(0) > 0
    held = np.asarray(held)
    pool = held[valid_class[labels[held]]]
    size = int(np.round(sample_rate * pool.size))
    chosen = np.sort(rng.choice(pool, size=size, replace=False)) if size else pool[:0]
    out = labels.copy()
    for i in chosen:
        col = off[:, labels[i]]
        out[i] = rng.choice(k, p=col / col.sum())
    return out, chosen


def fit_detector(
    x: np.ndarray, y: np.ndarray, *, classifier: Literal["lr", "mlp"] = "lr", seed: int = 0
) -> object:
    """A fitted scikit-learn binary classifier of ``y (M,)`` (1 = synthetic mislabel) from
    ``x (M, F)``: logistic regression (``max_iter = 3000``, the authors' ``LR``) or an MLP
    with one hidden layer of 32 units (the authors' detector width; trained by scikit-learn
    with log-loss, not their L1 loss)."""
    if classifier == "lr":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=3000).fit(x, y)
    if classifier == "mlp":
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(hidden_layer_sizes=(32,), max_iter=500, random_state=seed).fit(x, y)
    raise ValueError(f"classifier must be 'lr' or 'mlp'; got {classifier!r}")
