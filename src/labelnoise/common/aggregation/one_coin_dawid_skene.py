"""One-coin Dawid-Skene: one accuracy per annotator, errors spread evenly (Zhang et al., 2016)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from labelnoise.common.aggregation.dawid_skene import EPS, DawidSkene

__all__ = ["OneCoinDawidSkene"]


class OneCoinDawidSkene(DawidSkene):
    """Dawid-Skene whose confusion has ``s_a`` on the diagonal and ``(1 - s_a) / (C - 1)`` off it.

    Y. Zhang, X. Chen, D. Zhou, M. I. Jordan, "Spectral methods meet EM: a provably optimal
    algorithm for crowdsourcing", JMLR 17, 2016. As crowd-kit's ``OneCoinDawidSkene``: the
    M-step sets ``s_a`` to the mean posterior of annotator ``a``'s answered classes, clipped to
    ``[1e-10, 1 - 1e-10]`` entry-wise; EM loop, stopping rule and ``gold`` as :class:`DawidSkene`.
    ``skills_`` is ``s_a``. ``smoothing`` adds pseudo-counts to the agreement mean:
    ``s_a = (agree_a + smoothing) / (n_a + C * smoothing)``.

    Args:
        n_iter: maximum EM iterations (default 100).
        tol: ELBO tolerance (default 1e-5).
        smoothing: pseudo-count (default 0.0, crowd-kit's algorithm).
    """

    def __init__(self, *, n_iter: int = 100, tol: float = 1e-5, smoothing: float = 0.0) -> None:
        super().__init__(n_iter=n_iter, tol=tol, smoothing=smoothing, diagonal_prior=0.0)

    def _errors(self, pairs_t: sp.csr_matrix, probas: np.ndarray, a: int, c: int) -> np.ndarray:
        counts = np.asarray(pairs_t @ probas).reshape(a, c, c)
        agree = np.einsum("acc->a", counts)
        n = counts.sum((1, 2))
        skill = (agree + self.smoothing) / (n + c * self.smoothing)
        errors = np.broadcast_to(((1 - skill) / (c - 1))[:, None, None], (a, c, c)).copy()
        idx = np.arange(c)
        errors[:, idx, idx] = skill[:, None]
        return np.clip(errors, EPS, 1 - EPS)

    def _skills(self, priors: np.ndarray, errors: np.ndarray) -> np.ndarray:
        return errors[:, 0, 0]
