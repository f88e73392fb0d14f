"""Estimating the noise transition matrix ``T[i, j] = P(noisy = j | clean = i)``.

- From the confident joint (Northcutt et al., JAIR 2021): cleanlab's ``noise_matrix``
  ``P(given = i | true = j)`` (column-stochastic), transposed into the row convention.
- From anchor points (Patrini et al., "Making Deep Neural Networks Robust to Label Noise: a
  Loss Correction Approach", CVPR 2017): for every class ``i`` the example most surely of
  class ``i`` (the ``quantile``-th largest ``p(noisy = i | x)``; 0.97 in their code, 1.0 for
  the plain argmax) is taken as an anchor of clean class ``i``, and row ``i`` of ``T`` is the
  noisy posterior at that anchor.
"""

from __future__ import annotations

import numpy as np

from labelnoise.common.detection._validate import as_float_array, check_inputs
from labelnoise.common.detection.confident_joint import _compute_confident_joint
from labelnoise.common.detection.latent import estimate_latent
from labelnoise.common.transition import TransitionMatrix

__all__ = ["estimate_transition_anchor", "estimate_transition_confident_joint"]


def estimate_transition_confident_joint(
    labels: np.ndarray, pred_probs: np.ndarray
) -> TransitionMatrix:
    """``T`` from the calibrated confident joint (rows: clean class, columns: noisy class).

    Args:
        labels: ``(N,)`` noisy labels.
        pred_probs: ``(N, K)`` out-of-sample predicted probabilities of the noisy labels.
    """
    y, p = check_inputs(labels, pred_probs)
    cj, _ = _compute_confident_joint(y, p)
    _, noise_matrix, _ = estimate_latent(cj, y)
    return TransitionMatrix.from_column_stochastic(noise_matrix)


def estimate_transition_anchor(
    pred_probs: np.ndarray, *, quantile: float = 0.97
) -> TransitionMatrix:
    """``T`` from anchor points (Patrini et al., CVPR 2017).

    Args:
        pred_probs: ``(N, K)`` noisy-class posteriors ``p(noisy | x)`` of a model trained on
            the noisy labels (rows sum to 1).
        quantile: which order statistic of ``p(noisy = i | x)`` picks the anchor of class ``i``
            (default 0.97, robust to outliers; 1.0 = the argmax).
    """
    p = as_float_array("pred_probs", pred_probs)
    check_inputs(np.zeros(p.shape[0] if p.ndim else 0, dtype=np.int64), p)
    if not 0.0 < float(quantile) <= 1.0:
        raise ValueError(f"quantile must be in (0, 1]; got {quantile}")
    k = p.shape[1]
    t = np.empty((k, k))
    for i in range(k):
        col = p[:, i]
        if quantile >= 1.0:
            anchor = int(np.argmax(col))
        else:
            level = np.quantile(col, quantile, method="higher")
            anchor = int(np.flatnonzero(col >= level)[np.argmin(col[col >= level])])
        t[i] = p[anchor]
    return TransitionMatrix(t / t.sum(axis=1, keepdims=True), atol=1e-3)
