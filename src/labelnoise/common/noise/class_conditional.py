"""Class-conditional label noise: ``noisy ~ T[clean, :]`` for a :class:`TransitionMatrix` ``T``.

Symmetric noise spreads the flipped mass uniformly over the other classes; pair-flip noise
moves it to the next class (Han et al., "Co-teaching", NeurIPS 2018); a mapping such as
:data:`~labelnoise.common.transition.CIFAR10_MAPPING` gives the asymmetric noise of Patrini
et al. (CVPR 2017).
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from labelnoise.common._checks import as_long_tensor, check_labels, check_nonempty
from labelnoise.common._random import Seed, make_generator
from labelnoise.common.noise.base import NoisyTargets
from labelnoise.common.transition import TransitionMatrix

__all__ = ["class_conditional", "pair_flip_noise", "symmetric_noise"]


def class_conditional(
    labels: Tensor | np.ndarray,
    transition: TransitionMatrix,
    *,
    seed: Seed = None,
    ignore_index: int = -100,
) -> NoisyTargets:
    """Corrupt labels with a class-conditional transition matrix.

    Args:
        labels: ``(N, *)`` integer labels in ``[0, C)``; ``ignore_index`` units stay as they are.
        transition: a ``(C, C)`` :class:`TransitionMatrix` (or an array-like accepted by it),
            ``T[i, j] = P(noisy = j | clean = i)``.
        seed: int or ``torch.Generator``.
        ignore_index: label of units without a label (default -100), never corrupted.

    Returns:
        :class:`NoisyTargets` with long ``noisy`` / ``clean`` of the shape and device of
        ``labels`` (sampling runs on the CPU) and ``is_corrupted = noisy != clean``.
    """
    if not isinstance(transition, TransitionMatrix):
        try:
            transition = TransitionMatrix(transition)
        except ValueError as e:
            raise ValueError(f"transition: {e}") from None
    if transition.matrix.dim() != 2:
        raise ValueError(f"transition must have shape (C, C); got {transition.shape}")
    clean = as_long_tensor("labels", labels)
    check_nonempty("labels", clean)
    check_labels("labels", clean, transition.num_classes, ignore_index=ignore_index)
    g = make_generator(seed)
    flat = clean.reshape(-1).cpu()
    noisy = transition._sample_2d(flat, flat != ignore_index, g).reshape(clean.shape)
    noisy = noisy.to(clean.device)
    return NoisyTargets(noisy, clean, noisy != clean)


def symmetric_noise(
    labels: Tensor | np.ndarray,
    num_classes: int,
    rate: float,
    *,
    seed: Seed = None,
    ignore_index: int = -100,
) -> NoisyTargets:
    """Symmetric noise: flip with probability ``rate`` to one of the other ``C - 1`` classes.

    See :func:`class_conditional` for the arguments; ``T = TransitionMatrix.symmetric(C, rate)``.
    """
    t = TransitionMatrix.symmetric(num_classes, rate)
    return class_conditional(labels, t, seed=seed, ignore_index=ignore_index)


def pair_flip_noise(
    labels: Tensor | np.ndarray,
    num_classes: int,
    rate: float,
    *,
    seed: Seed = None,
    ignore_index: int = -100,
) -> NoisyTargets:
    """Pair-flip noise (Han et al., NeurIPS 2018): ``i`` becomes ``(i + 1) mod C`` w.p. ``rate``.

    See :func:`class_conditional` for the arguments; ``T = TransitionMatrix.pair_flip(C, rate)``.
    """
    t = TransitionMatrix.pair_flip(num_classes, rate)
    return class_conditional(labels, t, seed=seed, ignore_index=ignore_index)
