"""Non-conformity scores of every class: LAC, APS and RAPS (higher = less conforming).

Each function maps predicted probabilities ``(N, K)`` to a score matrix ``(N, K)`` whose entry
``[i, y]`` is the score of label ``y`` for example ``i``; a prediction set is ``{y : S[i, y]
<= threshold}`` (:func:`~labelnoise.common.conformal.split.predict_sets`).

- LAC (least ambiguous set-valued classifier; Sadinle, Lei & Wasserman, JASA 2019):
  ``S(x, y) = 1 - p_y(x)``.
- APS (adaptive prediction sets; Romano, Sesia & Candes, NeurIPS 2020): with the classes
  sorted by decreasing probability, ``S(x, y) = sum of p_j over the classes ranked before y
  + u * p_y(x)`` with ``u ~ U(0, 1)`` per example (randomized) or ``u = 1`` (not randomized:
  the cumulative mass up to and including ``y``).
- RAPS (regularized APS; Angelopoulos, Bates, Malik & Jordan, ICLR 2021): APS plus
  ``lam * max(0, o(x, y) - k_reg)``, where ``o(x, y)`` is the 1-based rank of ``y``.

Ties in the probabilities are ranked by class index (a stable sort), so the scores are a
deterministic function of ``probs`` and ``u``.
"""

from __future__ import annotations

import numpy as np

from labelnoise.common._random import Seed, numpy_rng
from labelnoise.common.conformal._validate import as_probs

__all__ = ["aps_scores", "lac_scores", "raps_scores"]


def lac_scores(probs: object) -> np.ndarray:
    """``1 - probs``: ``(N, K)`` -> ``(N, K)`` (LAC; Sadinle et al., 2019)."""
    return 1.0 - as_probs("probs", probs)


def _uniforms(n: int, randomized: bool, u: object | None, seed: Seed) -> np.ndarray:
    if not randomized:
        if u is not None:
            raise ValueError("u must be None when randomized is False; got an array")
        return np.ones(n)
    if u is None:
        return numpy_rng(seed).random(n)
    arr = np.asarray(u, dtype=np.float64)
    if arr.shape != (n,) or not np.all((arr >= 0) & (arr <= 1)):
        raise ValueError(f"u must have shape ({n},) with values in [0, 1]; got shape {arr.shape}")
    return arr


def _ranked(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``order`` (classes by decreasing probability, stable) and each class's 0-based rank."""
    order = np.argsort(-p, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(p.shape[1])[None, :].repeat(p.shape[0], 0), axis=1)
    return order, rank


def aps_scores(
    probs: object,
    *,
    randomized: bool = True,
    u: object | None = None,
    seed: Seed = None,
) -> np.ndarray:
    """APS scores ``(N, K)`` (Romano et al., 2020).

    Args:
        probs: ``(N, K)`` predicted probabilities.
        randomized: add ``u * p_y`` with ``u ~ U(0, 1)`` (exact coverage) instead of ``p_y``
            (default True).
        u: ``(N,)`` the uniforms (one per example, shared by its classes); default drawn from
            ``seed``.
        seed: seed of ``u`` when it is drawn.
    """
    p = as_probs("probs", probs)
    uu = _uniforms(p.shape[0], randomized, u, seed)
    order, rank = _ranked(p)
    sorted_p = np.take_along_axis(p, order, axis=1)
    before = np.cumsum(sorted_p, axis=1) - sorted_p  # mass strictly before each position
    mass_before = np.take_along_axis(before, rank, axis=1)
    return mass_before + uu[:, None] * p


def raps_scores(
    probs: object,
    *,
    k_reg: int = 1,
    lam: float = 0.01,
    randomized: bool = True,
    u: object | None = None,
    seed: Seed = None,
) -> np.ndarray:
    """RAPS scores ``(N, K)`` (Angelopoulos et al., 2021): APS + ``lam * (rank - k_reg)+``.

    Args:
        probs: ``(N, K)`` predicted probabilities.
        k_reg: ranks up to ``k_reg`` are not penalised (default 1; the paper picks it on
            held-out data).
        lam: penalty per rank beyond ``k_reg`` (default 0.01; the paper's grid is
            0.001..0.5).
        randomized, u, seed: as :func:`aps_scores`.
    """
    if int(k_reg) != k_reg or k_reg < 0:
        raise ValueError(f"k_reg must be an integer >= 0; got {k_reg!r}")
    if not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be a finite number >= 0; got {lam!r}")
    s = aps_scores(probs, randomized=randomized, u=u, seed=seed)
    _, rank = _ranked(as_probs("probs", probs))
    return s + float(lam) * np.maximum(0, rank + 1 - int(k_reg))
