"""Noise on continuous (regression) targets: Gaussian perturbation, uniform replacement, outliers.

Every element of ``targets`` is a unit: ``(N,)`` scalar targets or ``(N, D)`` vector targets
(each coordinate corrupted independently). Ranges and spreads are taken per column (over
dim 0), so a ``(N, D)`` target with columns on different scales is handled column by column.
Sampling runs on the CPU (explicit CPU generators); results come back on the device of
``targets``."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from labelnoise.common._checks import check_finite, check_in_range, check_nonempty, check_rate
from labelnoise.common._random import Seed, make_generator
from labelnoise.common.noise.base import NoisyTargets

__all__ = ["gaussian_noise", "outlier_noise", "uniform_replacement"]


def _as_float_targets(targets: Tensor | np.ndarray) -> Tensor:
    """CPU float tensor of ``targets`` (integers become float64); checks non-empty and finite."""
    if not isinstance(targets, Tensor) and np.asarray(targets).dtype.kind not in "biufc":
        raise ValueError(f"targets must be real numbers; got dtype {np.asarray(targets).dtype}")
    t = targets if isinstance(targets, Tensor) else torch.as_tensor(np.array(targets))
    if t.dtype == torch.bool or t.is_complex():
        raise ValueError(f"targets must be real numbers; got dtype {t.dtype}")
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if t.dim() == 0:
        raise ValueError("targets must have shape (N,) or (N, D); got a scalar")
    check_nonempty("targets", t)
    check_finite("targets", t)
    return t.detach().cpu()


def _device(targets: object) -> torch.device:
    return targets.device if isinstance(targets, Tensor) else torch.device("cpu")


def _on(device: torch.device, noisy: Tensor, clean: Tensor, corrupted: Tensor) -> NoisyTargets:
    return NoisyTargets(noisy.to(device), clean.to(device), corrupted.to(device))


def _as_column_param(name: str, value: object, like: Tensor, *, nonnegative: bool) -> Tensor:
    """A scalar or per-column ``targets.shape[1:]`` parameter, broadcastable to ``like``."""
    v = torch.as_tensor(np.array(value, dtype=np.float64)).to(like.dtype)
    if v.dim() > 0 and tuple(v.shape) != tuple(like.shape[1:]):
        raise ValueError(
            f"{name} must be a scalar or have shape {tuple(like.shape[1:])}; got {tuple(v.shape)}"
        )
    check_finite(name, v)
    if nonnegative and bool((v < 0).any()):
        raise ValueError(f"{name} must be non-negative; got min {float(v.min()):.4g}")
    return v


def gaussian_noise(
    targets: Tensor | np.ndarray, *, scale: float | np.ndarray, seed: Seed = None
) -> NoisyTargets:
    """Additive Gaussian noise ``noisy = clean + scale * eps``, ``eps ~ N(0, 1)``.

    Args:
        targets: ``(N,)`` or ``(N, D)`` real targets (integers are converted to float64).
        scale: standard deviation of the noise, a scalar or per column ``(D,)``; ``>= 0``.
        seed: int or ``torch.Generator``.

    Returns:
        :class:`NoisyTargets`; ``is_corrupted`` is True wherever ``scale > 0`` (every unit is
        perturbed).
    """
    clean = _as_float_targets(targets)
    s = _as_column_param("scale", scale, clean, nonnegative=True)
    g = make_generator(seed)
    eps = torch.randn(clean.shape, generator=g, dtype=clean.dtype)
    noisy = clean + s * eps
    return _on(_device(targets), noisy, clean, (s > 0).expand(clean.shape).clone())


def uniform_replacement(
    targets: Tensor | np.ndarray,
    *,
    rate: float,
    low: float | np.ndarray | None = None,
    high: float | np.ndarray | None = None,
    seed: Seed = None,
) -> NoisyTargets:
    """Symmetric regression noise: with probability ``rate`` a target becomes ``U[low, high]``.

    The protocol of ConFrag (Kim et al., "Robust Regression via Contrastive Fragmentation",
    NeurIPS 2024): the replacement is drawn uniformly over the target range, the continuous
    analogue of symmetric label noise.

    Args:
        targets: ``(N,)`` or ``(N, D)`` real targets.
        rate: replacement probability in ``[0, 1)``.
        low: lower end of the replacement range (scalar or per column); default the
            observed ``min`` of ``targets`` per column.
        high: upper end, likewise (default the observed ``max``).
        seed: int or ``torch.Generator``.

    Returns:
        :class:`NoisyTargets`; ``is_corrupted`` marks the replaced units.
    """
    clean = _as_float_targets(targets)
    r = check_rate("rate", rate)
    lo = clean.amin(0) if low is None else _as_column_param("low", low, clean, nonnegative=False)
    hi = clean.amax(0) if high is None else _as_column_param("high", high, clean, nonnegative=False)
    if bool((lo > hi).any()):
        raise ValueError(f"low must be <= high; got low {lo.tolist()} and high {hi.tolist()}")
    g = make_generator(seed)
    replace = torch.rand(clean.shape, generator=g, dtype=torch.float64) < r
    draw = lo + (hi - lo) * torch.rand(clean.shape, generator=g, dtype=clean.dtype)
    return _on(_device(targets), torch.where(replace, draw, clean), clean, replace)


def outlier_noise(
    targets: Tensor | np.ndarray, *, rate: float, scale: float = 5.0, seed: Seed = None
) -> NoisyTargets:
    """Gross outliers: with probability ``rate`` shift a target far from its value.

    A selected unit moves by ``sign * m * std``, with a random sign, ``m ~ U[scale, 2 * scale]``
    and ``std`` the standard deviation of its column (1 for a constant column), so outliers
    lie at least ``scale`` standard deviations away from the clean target (the contamination
    model of robust regression, e.g. Huber, 1964).

    Args:
        targets: ``(N,)`` or ``(N, D)`` real targets.
        rate: outlier probability in ``[0, 1)``.
        scale: minimum shift in column standard deviations (default 5), ``> 0``.
        seed: int or ``torch.Generator``.

    Returns:
        :class:`NoisyTargets`; ``is_corrupted`` marks the outliers.
    """
    clean = _as_float_targets(targets)
    r = check_rate("rate", rate)
    s = check_in_range("scale", scale, 0.0, float("inf"), low_inclusive=False, high_inclusive=False)
    std = clean.std(0, correction=0) if clean.shape[0] > 1 else torch.zeros(clean.shape[1:])
    std = torch.where(std > 0, std, torch.ones_like(std)).to(clean.dtype)
    g = make_generator(seed)
    hit = torch.rand(clean.shape, generator=g, dtype=torch.float64) < r
    magnitude = s * (1 + torch.rand(clean.shape, generator=g, dtype=clean.dtype))
    sign = torch.randint(0, 2, clean.shape, generator=g).to(clean.dtype) * 2 - 1
    noisy = torch.where(hit, clean + sign * magnitude * std, clean)
    return _on(_device(targets), noisy, clean, hit)
