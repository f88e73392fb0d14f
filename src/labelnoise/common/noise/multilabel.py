"""Multi-label tag noise: missing tags, spurious tags and tag swaps.

Multi-label annotations go wrong in three ways: a present tag is missed (false negative, the
dominant noise of weakly labelled tagging sets such as FSD50K, Fonseca et al., 2022), an absent
tag is added (false positive), or one tag is confused with another (a swap). Each clean positive
tag is independently swapped to an absent tag with probability ``swap_rate``; of the tags not
involved in a swap, each positive is dropped with probability ``drop_rate[k]`` and each negative
is added with probability ``add_rate[k]``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from labelnoise.common._checks import check_nonempty, check_rate
from labelnoise.common._random import Seed, make_generator
from labelnoise.common.noise.base import NoisyTargets

__all__ = ["multilabel_noise"]


def _per_class_rate(name: str, value: float | np.ndarray | Tensor, k: int) -> Tensor:
    """A scalar rate or a ``(K,)`` vector of rates in ``[0, 1)`` as a float64 ``(K,)`` tensor."""
    v = torch.as_tensor(np.array(value, dtype=np.float64))
    if v.dim() == 0:
        return torch.full((k,), check_rate(name, float(v)), dtype=torch.float64)
    if tuple(v.shape) != (k,):
        raise ValueError(f"{name} must be a scalar or have shape ({k},); got {tuple(v.shape)}")
    bad = torch.isnan(v) | (v < 0) | (v >= 1)
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise ValueError(f"{name} must be in [0, 1); got {float(v[i])!r} for class {i}")
    return v


def multilabel_noise(
    tags: Tensor | np.ndarray,
    *,
    drop_rate: float | np.ndarray = 0.0,
    add_rate: float | np.ndarray = 0.0,
    swap_rate: float = 0.0,
    seed: Seed = None,
) -> NoisyTargets:
    """Corrupt a binary tag matrix.

    Args:
        tags: ``(N, K)`` in ``{0, 1}`` (bool, integer or float dtype; the dtype is kept).
        drop_rate: probability that a positive tag goes missing, scalar or per class ``(K,)``.
        add_rate: probability that a negative tag is spuriously added, scalar or ``(K,)``.
        swap_rate: probability that a positive tag is replaced by a uniformly chosen tag that
            is absent from the example's clean tags (no swap when every tag is present).
        seed: int or ``torch.Generator``.

    Returns:
        :class:`NoisyTargets` with ``(N, K)`` ``noisy`` / ``clean`` on the device of ``tags``
        (sampling runs on the CPU) and
        ``is_corrupted = noisy != clean`` (per tag).
    """
    t = tags if isinstance(tags, Tensor) else torch.as_tensor(np.array(tags))
    if t.dim() != 2:
        raise ValueError(f"tags must have shape (N, K); got {tuple(t.shape)}")
    check_nonempty("tags", t)
    if t.is_floating_point() and bool(torch.isnan(t).any()):
        raise ValueError("tags must be 0 or 1; got NaN")
    if not bool(((t == 0) | (t == 1)).all()):
        bad = t[(t != 0) & (t != 1)][0]
        raise ValueError(f"tags must be 0 or 1; got {bad.item()!r}")
    n, k = t.shape
    drop = _per_class_rate("drop_rate", drop_rate, k)
    add = _per_class_rate("add_rate", add_rate, k)
    swap = check_rate("swap_rate", swap_rate)

    g = make_generator(seed)
    pos = t.detach().cpu().bool()
    noisy = pos.clone()
    touched = torch.zeros_like(pos)
    if swap > 0:
        swapped = pos & (torch.rand((n, k), generator=g, dtype=torch.float64) < swap)
        rows, cols = swapped.nonzero(as_tuple=True)
        rank = (torch.cumsum(swapped.long(), dim=1) - 1)[rows, cols]
        available = ~pos
        # The m-th swapped tag of a row takes a uniformly drawn tag still absent from the row.
        for m in range(int(rank.max()) + 1 if rank.numel() else 0):
            at = rank == m
            r_m, c_m = rows[at], cols[at]
            free = available[r_m]
            keys = torch.rand(free.shape, generator=g).masked_fill(~free, -1.0)
            dest = torch.argmax(keys, dim=1)
            ok = free.any(1)
            r_m, c_m, dest = r_m[ok], c_m[ok], dest[ok]
            noisy[r_m, c_m] = False
            noisy[r_m, dest] = True
            available[r_m, dest] = False
            touched[r_m, c_m] = True
            touched[r_m, dest] = True
    u = torch.rand((n, k), generator=g, dtype=torch.float64)
    flip = ~touched & torch.where(pos, u < drop, u < add)
    noisy ^= flip
    out = noisy.to(device=t.device, dtype=t.dtype)
    return NoisyTargets(out, t.detach(), (noisy != pos).to(t.device))
