"""ERASE's label-noise protocol for node classification (Chen et al., CIKM 2024).

Only the training labels are corrupted. Run ``k`` of ERASE's scripts seeds NumPy's legacy
generator with ``123 + 100 * k`` and draws every training label from the row of a corruption
matrix ``C``:

* ``symm``: ``C = (1 - r) I + r / (K - 1) (1 - I)``: keep with probability ``1 - r``, else a
  uniformly chosen other class.
* ``asymm``: ``C = (1 - r) I``, then for each class ``c`` in order one other class, drawn
  uniformly once, receives probability ``r``.

We use a ``np.random.RandomState`` instance seeded the same way (never the global generator),
which reproduces the legacy draw sequence exactly: the ``asymm`` partner draws come first,
then one ``choice(K, p=C[y])`` per training node in ``train_idx`` order.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import Tensor

from labelnoise.common._checks import as_long_tensor, check_labels, check_rate
from labelnoise.common.noise.base import NoisyTargets

__all__ = ["erase_corruption_matrix", "erase_noise", "erase_seed"]

NoiseKind = Literal["symm", "asymm"]


def erase_seed(run: int) -> int:
    """ERASE's seed of run ``k``: ``123 + 100 * k``."""
    return 123 + 100 * int(run)


def erase_corruption_matrix(
    num_classes: int, rate: float, *, kind: NoiseKind, rng: np.random.RandomState
) -> np.ndarray:
    """The ``(K, K)`` corruption matrix ``C[i, j] = P(noisy=j | clean=i)`` of ERASE.

    ``asymm`` consumes ``K`` draws of ``rng`` (one partner per class), ``symm`` none.
    """
    k = int(num_classes)
    if kind == "symm":
        c = np.full((k, k), rate / (k - 1))
        np.fill_diagonal(c, 1.0 - rate)
        return c
    if kind == "asymm":
        c = np.eye(k) * (1.0 - rate)
        classes = np.arange(k)
        for i in range(k):
            c[i, rng.choice(classes[classes != i])] = rate
        return c
    raise ValueError(f"kind must be 'symm' or 'asymm'; got {kind!r}")


def erase_noise(
    labels: Tensor | np.ndarray,
    train_idx: Tensor | np.ndarray,
    num_classes: int,
    rate: float,
    *,
    kind: NoiseKind = "symm",
    seed: int = 123,
) -> NoisyTargets:
    """Corrupt the training labels of a graph with ERASE's protocol.

    Args:
        labels: ``(N,)`` clean labels of all nodes.
        train_idx: ``(M,)`` training node ids; only these are corrupted, in this order.
        num_classes: ``K >= 2``.
        rate: ``r`` in ``[0, 1)``.
        kind: ``symm`` or ``asymm`` (see the module docstring).
        seed: seed of the ``RandomState`` (run ``k`` of ERASE: :func:`erase_seed`).

    Returns:
        :class:`NoisyTargets` over all ``N`` nodes (untouched outside ``train_idx``).
    """
    y = as_long_tensor("labels", labels).reshape(-1)
    idx = as_long_tensor("train_idx", train_idx).reshape(-1)
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be >= 2; got {num_classes}")
    check_labels("labels", y, int(num_classes))
    check_rate("rate", rate)
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= y.numel()):
        raise ValueError(f"train_idx must be in [0, {y.numel()}); got max {int(idx.max())}")
    rng = np.random.RandomState(int(seed))
    c = erase_corruption_matrix(int(num_classes), float(rate), kind=kind, rng=rng)
    noisy = y.clone()
    drawn = [rng.choice(int(num_classes), p=c[int(t)]) for t in y[idx].tolist()]
    noisy[idx] = torch.tensor(drawn, dtype=torch.long)
    return NoisyTargets(noisy, y, noisy != y)
