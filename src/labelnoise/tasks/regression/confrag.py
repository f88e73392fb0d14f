"""ConFrag's selection arithmetic: fragments, contrastive pairs, jittered windows and the
neighbourhood-agreement score (no training here).

Kim, Moon, Moon, Woo & Kim, "Sample Selection via Contrastive Fragmentation for Noisy
Label Regression", NeurIPS 2024 (arXiv:2502.17771). The method -- experts trained on
contrastive fragment pairs, then a regressor on the selected samples -- is
:mod:`labelnoise.methods.confrag`, trained by the one loop; these pure functions are its
pieces:

* :func:`fragment_of`: the target range split into ``F`` (even) contiguous fragments holding
  equal numbers of samples (the quantiles of the noisy targets, as the authors'
  ``range_target_fragmentation``).
* :func:`contrastive_pairs`: fragment ``j`` paired with ``j + F/2``; of all perfect matchings
  of ordered fragments this one maximises the smallest label distance within a pair.
* :func:`jittered_window`: neighbourhood jittering -- each epoch the fragments are recomputed
  on a random window covering ``coverage`` (0.95) of the sorted targets.
* :func:`expert_votes` and :func:`agreement_score`: a sample with noisy fragment ``f`` is
  judged by the experts of ``f`` and its adjacent fragments ``f - 1, f + 1``; the expert of
  fragment ``j`` votes ``(p_j + v_j) / 2``, ``p_j`` its head's probability of ``j`` and
  ``v_j`` the fraction of the sample's ``K`` nearest neighbours in the expert's
  (L2-normalised) feature space, among the expert's own samples, that carry fragment ``j``.
  The score is the mean vote over the neighbourhood; a sample is selected as clean when the
  score is ``>= threshold`` (0.5). No noise rate is needed.

The pairing, the quantile fragments, ``K = 5`` with a majority vote and the 0.95 coverage
follow the paper and the authors' configuration; the exact vote is our reading of the
paper's neighbourhood agreement and mixture of neighbouring fragments.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = [
    "agreement_score",
    "contrastive_pairs",
    "expert_votes",
    "fragment_of",
    "jittered_window",
]


def contrastive_pairs(fragments: int) -> list[tuple[int, int]]:
    """The maximally contrasting pairing ``[(j, j + F/2) for j < F/2]`` of ``F`` fragments."""
    if fragments < 2 or fragments % 2:
        raise ValueError(f"fragments must be an even integer >= 2; got {fragments!r}")
    half = fragments // 2
    return [(j, j + half) for j in range(half)]


def fragment_of(y: np.ndarray, fragments: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal-count fragments of ``y``: ``(fragment (N,) int64, edges (F + 1,))``.

    Sample ``i`` goes to fragment ``floor(F * rank_i / N)`` (stable ranks), so fragments hold
    ``N / F`` samples each even with tied targets; ``edges`` are the matching quantiles.
    """
    n = y.shape[0]
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(y, kind="stable")] = np.arange(n)
    frag = (rank * fragments) // n
    edges = np.quantile(y, np.linspace(0, 1, fragments + 1))
    return frag, edges


def jittered_window(
    y: np.ndarray, fragments: int, coverage: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One epoch's ``(indices (M,), fragment (M,))``: a random window of ``M = max(F,
    round(coverage * N))`` consecutive samples in target order, cut into ``F`` equal-count
    fragments."""
    n = y.shape[0]
    order = np.argsort(y, kind="stable")
    cover = min(n, max(fragments, int(round(coverage * n))))
    shift = int(rng.integers(0, n - cover + 1))
    return order[shift : shift + cover], (np.arange(cover) * fragments) // cover


def _without_self(nbr: np.ndarray) -> np.ndarray:
    """``(N, k + 1)`` neighbour lists -> ``(N, k)``: drop the query sample itself where it is
    listed, else the farthest neighbour."""
    n, kk = nbr.shape
    is_self = nbr == np.arange(n)[:, None]
    drop = np.where(is_self.any(1), is_self.argmax(1), kk - 1)
    keep = np.ones_like(nbr, dtype=bool)
    keep[np.arange(n), drop] = False
    return nbr[keep].reshape(n, kk - 1)


def expert_votes(
    features: np.ndarray,
    prob_b: np.ndarray,
    frag: np.ndarray,
    pair: tuple[int, int],
    neighbors: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Votes of one pair's expert for its two fragments.

    Args:
        features: ``(N, E)`` the expert's features of every sample (L2-normalised here).
        prob_b: ``(N,)`` the expert's probability of the pair's second fragment.
        frag: ``(N,)`` every sample's fragment.
        pair: ``(a, b)``; neighbors: ``K``.

    Returns:
        ``(vote_a (N,), vote_b (N,))``, ``vote_j = (p_j + v_j) / 2``.
    """
    n = features.shape[0]
    z = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    a, b = pair
    pool = np.flatnonzero((frag == a) | (frag == b))
    kk = min(neighbors + 1, pool.size)
    _, nbr = cKDTree(z[pool]).query(z, k=kk)
    nbr = _without_self(pool[np.asarray(nbr).reshape(n, kk)])
    vote_a = 0.5 * ((1.0 - prob_b) + (frag[nbr] == a).mean(1))
    vote_b = 0.5 * (prob_b + (frag[nbr] == b).mean(1))
    return vote_a, vote_b


def agreement_score(votes: np.ndarray, frag: np.ndarray) -> np.ndarray:
    """``(N,)`` mean of ``votes (N, F)`` over each sample's fragment and its neighbours."""
    fragments = votes.shape[1]
    hood = frag[:, None] + np.array([-1, 0, 1])[None, :]
    valid = (hood >= 0) & (hood < fragments)
    picked = np.take_along_axis(votes, hood.clip(0, fragments - 1), axis=1)
    return (picked * valid).sum(1) / valid.sum(1)
