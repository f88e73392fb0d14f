"""Latent estimates from the confident joint: the true-class prior and both noise matrices.

Northcutt, Jiang & Chuang, "Confident Learning" (JAIR 2021), section 3; semantics of cleanlab
2.9 ``count.estimate_latent`` and ``count.estimate_py_and_noise_matrices_from_probabilities``
(and the relations of ``internal.latent_algebra``):

- ``noise_matrix[i, j] = P(given = i | true = j) = C[i, j] / sum_i C[i, j]`` (column-stochastic);
- ``inverse_noise_matrix[j, i] = P(true = j | given = i) = C[i, j] / sum_j C[i, j]``;
- the prior ``py`` by ``py_method``: ``cnt`` (default) ``inv[j, j] / noise[j, j] * ps[j]``,
  ``eqn`` ``noise^-1 ps``, ``marginal`` the column sums of ``C`` normalised, ``marginal_ps``
  ``inv ps``; clipped to ``[1e-6, 1]`` and renormalised;
- noise rates are clipped to ``[0, 0.9999]`` off the diagonal and columns renormalised;
- ``converge_latent_estimates`` alternates ``inv <- f(py, noise, ps)``, ``py <- cnt(inv)``
  (5 times) and ``noise <- g(ps, inv, py)``, 3 rounds, then clips ``py`` to ``[1e-5, 1]``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from labelnoise.common.detection._validate import check_inputs_sc
from labelnoise.common.detection.confident_joint import _class_counts, _compute_confident_joint

__all__ = ["PyMethod", "estimate_latent", "estimate_py_and_noise_matrices_from_probabilities"]

PyMethod = Literal["cnt", "eqn", "marginal", "marginal_ps"]
_PY_METHODS = ("cnt", "eqn", "marginal", "marginal_ps")
_TINY = 1e-100


def _clip_noise_rates(m: np.ndarray) -> np.ndarray:
    d = m.diagonal().copy()
    out = np.clip(m, 0, 0.9999)
    np.fill_diagonal(out, d)
    return out / np.clip(out.sum(axis=0), _TINY, None)


def _clip_prior(py: np.ndarray, low: float) -> np.ndarray:
    py = np.clip(py, low, 1.0)
    return py / np.clip(py.sum(), _TINY, None)


def _py(
    ps: np.ndarray, noise: np.ndarray, inv: np.ndarray, method: str, true_counts: np.ndarray
) -> np.ndarray:
    if method == "cnt":
        py = inv.diagonal() / np.clip(noise.diagonal(), _TINY, None) * ps
    elif method == "eqn":
        py = np.linalg.inv(noise) @ ps
    elif method == "marginal":
        py = true_counts / np.clip(float(true_counts.sum()), _TINY, None)
    else:
        py = inv @ ps
    return _clip_prior(py, 1e-6)


def _converge(
    ps: np.ndarray, py: np.ndarray, noise: np.ndarray, inv: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    for _ in range(3):
        for _ in range(5):
            inv = _clip_noise_rates((noise * py).T / np.clip(ps, _TINY, None))
            py = _py(ps, noise, inv, "cnt", ps)
        noise = _clip_noise_rates((inv * ps).T / np.clip(py, _TINY, None))
    return py, noise, inv


def _estimate_latent(
    cj: np.ndarray, labels: np.ndarray, py_method: str, converge: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ps = _class_counts(labels, cj.shape[0]) / float(len(labels))
    true_counts = cj.sum(axis=0).astype(np.float64)
    noise = cj / np.clip(true_counts, _TINY, None)
    inv = cj.T / np.clip(cj.sum(axis=1).astype(np.float64), _TINY, None)
    py = _py(ps, noise, inv, py_method, true_counts)
    noise, inv = _clip_noise_rates(noise), _clip_noise_rates(inv)
    if converge:
        py, noise, inv = _converge(ps, py, noise, inv)
        py = _clip_prior(py, 1e-5)
        noise, inv = _clip_noise_rates(noise), _clip_noise_rates(inv)
    return py, noise, inv


def _check_method(py_method: str) -> None:
    if py_method not in _PY_METHODS:
        raise ValueError(f"py_method must be one of {', '.join(_PY_METHODS)}; got {py_method!r}")


def estimate_latent(
    confident_joint: np.ndarray,
    labels: np.ndarray,
    *,
    py_method: PyMethod = "cnt",
    converge_latent_estimates: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(prior P(true) (K,), noise_matrix (K, K), inverse_noise_matrix (K, K))``.

    Args:
        confident_joint: ``(K, K)`` counts ``C[given, true]`` (calibrated or not).
        labels: ``(N,)`` given labels in ``[0, K)``.
        py_method: how the prior is computed (see the module docstring; default ``cnt``).
        converge_latent_estimates: make the three estimates algebraically consistent.

    ``noise_matrix`` is column-stochastic (cleanlab's convention; convert with
    ``TransitionMatrix.from_column_stochastic``). ``py_method="eqn"`` raises
    ``numpy.linalg.LinAlgError`` for a singular noise matrix, as cleanlab does.
    """
    _check_method(py_method)
    cj = np.asarray(confident_joint)
    if cj.ndim != 2 or cj.shape[0] != cj.shape[1] or cj.dtype.kind not in "iuf":
        raise ValueError(f"confident_joint must be a numeric (K, K) array; got shape {cj.shape}")
    if not np.isfinite(cj).all() or (cj < 0).any():
        raise ValueError("confident_joint must hold finite non-negative counts; got other values")
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0 or y.dtype.kind not in "iu":
        raise ValueError(f"labels must be a non-empty 1-D integer array; got shape {y.shape}")
    y = y.astype(np.int64, copy=False)
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= cj.shape[0]:
        raise ValueError(f"labels must be in [0, {cj.shape[0]}); got [{lo}, {hi}]")
    return _estimate_latent(cj.astype(np.float64), y, py_method, converge_latent_estimates)


def estimate_py_and_noise_matrices_from_probabilities(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    thresholds: np.ndarray | None = None,
    converge_latent_estimates: bool = True,
    py_method: PyMethod = "cnt",
    calibrate: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(py, noise_matrix, inverse_noise_matrix, confident_joint)`` from out-of-sample probs.

    The confident joint of ``labels (N,)`` and ``pred_probs (N, K)`` (``thresholds (K,)``,
    ``calibrate``), then :func:`estimate_latent` (note cleanlab's default here:
    ``converge_latent_estimates=True``).
    """
    _check_method(py_method)
    y, p, sc = check_inputs_sc(labels, pred_probs)
    thr = None if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    if thr is not None and thr.shape != (p.shape[1],):
        raise ValueError(f"thresholds must have shape ({p.shape[1]},); got {thr.shape}")
    cj, _ = _compute_confident_joint(y, p, thr, calibrate, sc=sc)
    py, noise, inv = _estimate_latent(
        cj.astype(np.float64), y, py_method, converge_latent_estimates
    )
    return py, noise, inv, cj
