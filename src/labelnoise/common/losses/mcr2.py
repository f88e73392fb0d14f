"""Maximal coding rate reduction (MCR^2) of a batch of representations (pure torch).

Yu, Chan, You, Song & Ma, "Learning Diverse and Discriminative Representations via the
Principle of Maximal Coding Rate Reduction", NeurIPS 2020. For ``n`` representations
``Z (n, d)`` (rows; the paper writes their transpose) and precision ``eps``:

* coding rate ``R(Z) = 1/2 logdet(I_d + d / (n eps^2) Z^T Z)``;
* compressed rate of a partition into classes ``Z_j`` (``n_j`` rows each)
  ``Rc(Z | Pi) = sum_j n_j / (2 n) logdet(I_d + d / (n_j eps^2) Z_j^T Z_j)`` (hard labels:
  the paper's membership matrices ``Pi_j`` are diagonal 0/1);
* rate reduction ``Delta R = R - Rc``, maximised; the loss is
  ``-gam2 R(Z) + gam1 Rc(Z | Pi)`` (``gam1 = gam2 = 1``: ``-Delta R``).

ERASE (Chen et al., CIKM 2024) trains its GNN's node representations with this loss
(``gam1 = 1``, ``gam2 = 2`` on Cora). Its code passes ``eps`` where the formula has
``eps^2`` (``p / (m * eps)``): ERASE's ``eps = 0.05`` is ``eps = sqrt(0.05)`` here.

Simplified from the authors' code (``ryanchankh/mcr2``): the empirical ``R`` there carries
``gam1`` inside the log-determinant as well; here ``gam1`` only weights ``Rc`` (the same for
the published ``gam1 = 1``). Empty classes contribute 0 (``logdet(I) = 0``). A class of
``m < d`` rows is computed as ``logdet(I_m + c Z_j Z_j^T)`` (Sylvester's determinant identity,
the same value on the smaller ``m x m`` matrix).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["coding_rate", "compressed_coding_rate", "mcr2_loss"]


def _check(z: Tensor, eps: float) -> None:
    if not isinstance(z, Tensor) or z.dim() != 2 or z.shape[0] == 0:
        shape = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
        raise ValueError(f"z must be a non-empty (n, d) tensor; got {shape}")
    if not (isinstance(eps, (int, float)) and eps > 0 and math.isfinite(eps)):
        raise ValueError(f"eps must be a finite number > 0; got {eps!r}")


def _rate(z: Tensor, n: int, eps: float) -> Tensor:
    """``1/2 logdet(I + d / (n eps^2) Z^T Z)`` for ``z (m, d)`` rows (``n`` may differ from
    ``m``: the class's count)."""
    m, d = z.shape
    scale = d / (n * eps**2)
    if m < d:  # Sylvester: logdet(I_d + c Z^T Z) = logdet(I_m + c Z Z^T), the smaller side
        gram = z @ z.T
    else:
        gram = z.T @ z
    eye = torch.eye(gram.shape[0], dtype=z.dtype, device=z.device)
    return 0.5 * torch.logdet(eye + scale * gram)


def coding_rate(z: Tensor, eps: float = 0.5) -> Tensor:
    """``R(Z)``: the coding rate of ``z (n, d)`` at precision ``eps`` (default 0.5); a scalar
    tensor."""
    _check(z, eps)
    return _rate(z, z.shape[0], eps)


def compressed_coding_rate(z: Tensor, labels: Tensor, num_classes: int, eps: float = 0.5) -> Tensor:
    """``Rc(Z | Pi)``: the coding rate of ``z (n, d)`` compressed class by class under the
    hard ``labels (n,)`` in ``[0, num_classes)``; a scalar tensor."""
    _check(z, eps)
    if labels.dim() != 1 or labels.shape[0] != z.shape[0]:
        raise ValueError(
            f"labels must have shape ({z.shape[0]},) (one per row of z); got {tuple(labels.shape)}"
        )
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1; got {num_classes!r}")
    labels = labels.long()
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"labels must be in [0, {num_classes}); got [{int(labels.min())}, {int(labels.max())}]"
        )
    n = z.shape[0]
    total = z.new_zeros(())
    for j in range(num_classes):
        zj = z[labels == j]
        if zj.shape[0] == 0:
            continue
        total = total + zj.shape[0] / n * _rate(zj, zj.shape[0], eps)
    return total


def mcr2_loss(
    z: Tensor,
    labels: Tensor,
    num_classes: int,
    *,
    eps: float = 0.5,
    gam1: float = 1.0,
    gam2: float = 1.0,
) -> tuple[Tensor, Tensor, Tensor]:
    """The MCR^2 loss ``-gam2 R(Z) + gam1 Rc(Z | Pi)`` of ``z (n, d)`` under ``labels (n,)``.

    Returns:
        ``(loss, R, Rc)``, scalar tensors (``R`` and ``Rc`` for logging).
    """
    for key, value in (("gam1", gam1), ("gam2", gam2)):
        if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
            raise ValueError(f"{key} must be a finite number >= 0; got {value!r}")
    r = coding_rate(z, eps)
    rc = compressed_coding_rate(z, labels, num_classes, eps)
    return -gam2 * r + gam1 * rc, r, rc
