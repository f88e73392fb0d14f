"""M-MSR: annotator skills by robust rank-one completion of their agreement matrix (Ma & Olshevsky)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import eigsh

from labelnoise.common.aggregation._base import Answers, CategoricalAggregator, majority_probas
from labelnoise.common.aggregation._ties import snap_ties
from labelnoise.common.aggregation.dawid_skene import softmax_rows

__all__ = ["MMSR"]

#: Graphs up to this many nodes get a dense eigensolver in the sign step.
DENSE_EIG_NODES = 2000


def _trimmed_update(
    x: np.ndarray, observed: np.ndarray, denom: np.ndarray, current: np.ndarray, f: int, n: int
) -> np.ndarray:
    """One M-MSR half-step: for every column ``j`` the mean of ``x[k, j] / denom[k]`` over the
    observed ``k``, after dropping the ``f`` smallest values below ``current[j]`` (all of them if
    fewer) and the ``f`` largest above it; unchanged where nothing is left."""
    ratio = np.where(observed, x / np.where(observed, denom[:, None], 1.0), np.nan)
    count = observed.sum(0)
    low = np.minimum((ratio < current).sum(0), f)
    high = np.minimum((ratio > current).sum(0), f)
    srt = np.sort(ratio, axis=0)  # NaN (unobserved) last
    csum = np.vstack([np.zeros((1, x.shape[1])), np.nan_to_num(srt).cumsum(0)])
    cols = np.arange(x.shape[1])
    kept = count - high - low
    total = csum[count - high, cols] - csum[low, cols]
    out = np.where(kept > 0, total / np.maximum(kept, 1), current)
    # a single kept zero becomes 1/sqrt(n) (the reference implementation's guard)
    return np.where((kept == 1) & (total == 0), 1.0 / np.sqrt(n), out)


def _smallest_eigvec(adj: sp.csr_matrix) -> np.ndarray:
    """Eigenvector of ``D^-1 adj`` for its smallest eigenvalue (via the symmetric form)."""
    deg = np.asarray(adj.sum(1)).ravel()
    scale = sp.diags(1.0 / np.sqrt(deg))
    sym = (scale @ adj @ scale).tocsr()
    if sym.shape[0] <= DENSE_EIG_NODES:
        _, vecs = np.linalg.eigh(sym.toarray())
        vec = vecs[:, 0]
    else:
        _, vecs = eigsh(-sym, k=1, which="LA", v0=np.ones(sym.shape[0]))
        vec = vecs[:, 0]
    return vec / np.sqrt(deg)


def _signs(cov: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """``(A,)`` +1 / -1 / 0: which side of chance each annotator is on (paper, Sec. 4).

    Negative observed pairs are edges, positive pairs are paths through a new middle node; the
    eigenvector of the random walk's eigenvalue closest to -1 two-colours that graph (annotators
    on the same side agree more than chance). The sign is fixed per connected component so that
    most of its annotators are above chance; annotators with no observed pair get 0.
    """
    a = cov.shape[0]
    iu, ju = np.nonzero(np.triu(observed & (cov != 0), 1))
    pos = cov[iu, ju] > 0
    m = int(pos.sum())
    mid = a + np.arange(m)
    rows = np.concatenate([iu[~pos], iu[pos], ju[pos]])
    cols = np.concatenate([ju[~pos], mid, mid])
    adj = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(a + m, a + m)).tocsr()
    adj = (adj + adj.T).tocsr()
    n_comp, comp = connected_components(adj, directed=False)
    out = np.zeros(a)
    for c in range(n_comp):
        nodes = np.flatnonzero(comp == c)
        workers = nodes[nodes < a]
        if len(nodes) < 2:
            continue
        vec = np.sign(_smallest_eigvec(adj[nodes][:, nodes]))[: len(workers)]
        out[workers] = vec * (np.sign(vec.sum()) or 1.0)
    return out


class MMSR(CategoricalAggregator):
    """Matrix Mean-Subsequence-Reduced skills, then a log-odds weighted vote.

    Q. Ma, A. Olshevsky, "Adversarial crowdsourcing through robust rank-one matrix completion",
    NeurIPS 2020 (arXiv:2010.12181). Under the one-coin model with accuracy ``p_a``,
    ``s_a = (C p_a - 1) / (C - 1)`` satisfies ``E[C/(C-1) * agree(a, b) - 1/(C-1)] = s_a s_b``
    for the share ``agree(a, b)`` of common items two annotators answer alike. ``|s|`` is found
    by alternating trimmed-mean updates of ``u, v`` on the observed entries of that matrix
    (dropping the ``F = floor(min common partners / 2) - 1`` largest and smallest ratios around
    the current value, clamped at ``F >= 0``) until ``||u v^T - u' v'^T||_F < tol``, started
    from the same uniform draw for ``u`` and ``v`` (per annotator in order of first appearance,
    ``random_state`` seeded), as crowd-kit's ``MMSR``. The signs come from the two-colouring
    eigenvector of :func:`_signs`; ``s`` is clipped to ``[-1/(C-1) + 1/sqrt(N), 1 - 1/sqrt(N)]``
    and each answer votes with ``log((C-1) p_a / (1 - p_a))``.

    Differences from crowd-kit: its sign step also counts item pairs that share no item (and
    each annotator with itself) as negative pairs; here only observed pairs are edges (as in
    the paper), and the eigenvector is computed per connected component. ``probas_`` is the
    softmax of the weighted votes (the one-coin posterior under a flat class prior); crowd-kit
    gives only the normalised vote (``scores_``). An item whose annotators all have weight 0
    (they share no item with anyone, e.g. one answer per item) gets the plain majority vote
    shares instead of a uniform row (crowd-kit's normalised vote is then 0 / 0). Dense
    ``(A, A)`` annotator matrices (about ten of them): fine for thousands of annotators
    (1,000 annotators, 1M answers: ~35 s, 743 rounds), not for hundreds of thousands.

    Args:
        n_iter: maximum alternating rounds (default 10000).
        tol: stopping tolerance (default 1e-10).
        random_state: seed of the start (default 0).

    Fitted: ``skills_`` (the log-odds weights), ``n_iter_``, ``loss_history_``.
    """

    def __init__(self, *, n_iter: int = 10000, tol: float = 1e-10, random_state: int = 0) -> None:
        if int(n_iter) < 1:
            raise ValueError(f"n_iter must be >= 1; got {n_iter}")
        if not float(tol) >= 0:
            raise ValueError(f"tol must be >= 0; got {tol}")
        self.n_iter = int(n_iter)
        self.tol = float(tol)
        self.random_state = int(random_state)

    def _fit(self, answers: Answers) -> np.ndarray:
        a, c, n = answers.n_annotators, answers.n_classes, answers.n_items
        ann, item = answers.annotator, answers.item
        seen = sp.csr_matrix((np.ones(len(ann)), (ann, item)), shape=(a, n))
        seen.data[:] = 1.0  # a repeated (item, annotator) pair counts once
        common = (seen @ seen.T).toarray()
        by_class = sp.csr_matrix((np.ones(len(ann)), (ann, item * c + answers.label)), (a, n * c))
        agree = (by_class @ by_class.T).toarray()
        np.fill_diagonal(common, 0)
        observed = common > 0
        rate = np.divide(agree, common, out=np.zeros_like(agree), where=observed)
        cov = np.where(observed, rate * c / (c - 1) - 1 / (c - 1), 0.0)
        x = np.abs(cov)
        f = max(int(observed.sum(0).min()) // 2 - 1, 0)

        start = np.empty(a)
        start[pd.unique(ann)] = np.random.RandomState(self.random_state).uniform(size=a)
        u, v = start.copy(), start.copy()
        self.loss_history_ = []
        for _ in range(self.n_iter):
            u_prev, v_prev = u, v
            v = _trimmed_update(x, observed, u, v, f, n)
            u = _trimmed_update(x, observed, v, u, f, n)
            loss = float(np.linalg.norm(np.outer(u, v) - np.outer(u_prev, v_prev)))
            self.loss_history_.append(loss)
            if loss < self.tol:
                break
        self.n_iter_ = len(self.loss_history_)
        s_abs = u * np.sqrt(np.linalg.norm(v) / np.linalg.norm(u))
        s = s_abs * _signs(cov, observed)
        s = np.clip(s, -1 / (c - 1) + 1 / np.sqrt(n), 1 - 1 / np.sqrt(n))
        p = s * (c - 1) / c + 1 / c
        weights = np.log(p * (c - 1) / (1 - p))
        self._set_skills(answers, weights)
        votes = np.bincount(item * c + answers.label, weights=weights[ann], minlength=n * c)
        probas = snap_ties(softmax_rows(votes.reshape(n, c)))
        # items whose annotators all got weight 0 (no common item with anyone, so no skill
        # estimate): the plain majority vote rather than a uniform row
        weighted = np.bincount(item, weights=(weights[ann] != 0).astype(float), minlength=n)
        void = weighted == 0
        if void.any():
            probas[void] = majority_probas(answers)[void]
        return probas
