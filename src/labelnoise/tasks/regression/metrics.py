"""Regression metrics on clean targets, and ERR for sample selection.

* :func:`mae`, :func:`rmse` -- of predictions against clean targets.
* :func:`error_residual_ratio` -- ERR, the Error Residual Ratio of Kim et al., "Sample
  Selection via Contrastive Fragmentation for Noisy Label Regression", NeurIPS 2024: the
  mean label error left in the selected subset relative to the mean label error of the
  whole noisy training set,

  ``ERR = mean_{i in S} |y~_i - y_i|  /  mean_{i in D} |y~_i - y_i|``

  (``y~`` noisy, ``y`` clean target, ``S`` the selected samples, ``D`` all samples). It
  accounts for the *degree* of each label's noise, which the precision of a clean / noisy
  split does not: 0 means the selection kept no label error, 1 means it kept as much error
  per sample as random selection, above 1 means it preferred noisy samples. Lower is better.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["error_residual_ratio", "mae", "rmse"]


def _arr(name: str, x: object) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric; got dtype {a.dtype}")
    a = a.astype(np.float64).reshape(-1) if a.ndim == 2 and a.shape[1] == 1 else a
    if a.ndim != 1:
        raise ValueError(f"{name} must have shape (N,); got {a.shape}")
    return a.astype(np.float64)


def _pair(pred: object, target: object) -> tuple[np.ndarray, np.ndarray]:
    p, t = _arr("pred", pred), _arr("target", target)
    if p.shape != t.shape:
        raise ValueError(f"pred must have the shape of target {t.shape}; got {p.shape}")
    if p.size == 0:
        raise ValueError("pred must not be empty; got 0 elements")
    return p, t


def mae(pred: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor) -> float:
    """Mean absolute error ``mean |pred - target|`` of ``(N,)`` arrays."""
    p, t = _pair(pred, target)
    return float(np.mean(np.abs(p - t)))


def rmse(pred: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor) -> float:
    """Root mean squared error of ``(N,)`` arrays."""
    p, t = _pair(pred, target)
    return float(np.sqrt(np.mean((p - t) ** 2)))


def error_residual_ratio(
    noisy: np.ndarray | torch.Tensor,
    clean: np.ndarray | torch.Tensor,
    selected: np.ndarray | torch.Tensor,
) -> float:
    """ERR of a selection (Kim et al., NeurIPS 2024; definition in the module docstring).

    Args:
        noisy: ``(N,)`` noisy training targets.
        clean: ``(N,)`` clean targets.
        selected: ``(N,)`` bool mask of the selected samples (at least one).

    Returns:
        ``mean(|noisy - clean|[selected]) / mean(|noisy - clean|)``; NaN when the training
        set has no label error at all.
    """
    y_noisy, y_clean = _pair(noisy, clean)
    s = np.asarray(selected.detach().cpu() if isinstance(selected, torch.Tensor) else selected)
    if s.dtype != bool or s.shape != y_noisy.shape:
        raise ValueError(
            f"selected must be a bool array of shape {y_noisy.shape}; got {s.dtype} {s.shape}"
        )
    if not s.any():
        raise ValueError("selected must select at least one sample; got none")
    err = np.abs(y_noisy - y_clean)
    total = float(err.mean())
    return float(err[s].mean()) / total if total > 0 else float("nan")
