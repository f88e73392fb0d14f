"""Instance-dependent label noise (Xia et al., "Part-dependent Label Noise: Towards
Instance-dependent Label Noise", NeurIPS 2020).

Each example ``n`` gets its own transition row: it keeps its label with probability
``1 - q_n`` and otherwise flips to class ``j != y_n`` with probability
``softmax(x_n @ W[y_n])_j`` (the clean class masked out), where ``W (C, D, C)`` holds random
Gaussian projections, so where an example's label goes depends on its features. The per-example
flip rates ``q_n`` follow a normal with standard deviation ``std`` truncated to
``[0, max_flip]`` (the protocol of the paper's code, which uses ``std = 0.1``, ``max_flip = 1``).
Unlike that code, the normal's location is solved so that the *truncated* mean is exactly
``rate`` (the plain location ``rate`` biases the mean upward for small rates), so the expected
realised noise rate is ``rate`` for every ``rate < max_flip``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from labelnoise.common._checks import (
    as_long_tensor,
    check_finite,
    check_in_range,
    check_labels,
    check_nonempty,
    check_rate,
)
from labelnoise.common._random import Seed, make_generator
from labelnoise.common.noise.base import NoisyTargets
from labelnoise.common.transition import _check_c

__all__ = ["instance_dependent"]


def instance_dependent(
    labels: Tensor | np.ndarray,
    features: Tensor | np.ndarray,
    *,
    num_classes: int,
    rate: float,
    seed: Seed = None,
    max_flip: float = 1.0,
    std: float = 0.1,
) -> NoisyTargets:
    """Part-dependent (instance-dependent) noise of Xia et al. (NeurIPS 2020).

    Args:
        labels: ``(N,)`` integer labels in ``[0, C)``.
        features: ``(N, D)`` or ``(N, *)`` (flattened) finite features, used as given: Xia et
            al. feed normalised images; standardise tabular features first.
        num_classes: ``C >= 2``.
        rate: mean flip rate ``r`` in ``[0, max_flip)``.
        seed: int or ``torch.Generator``.
        max_flip: upper bound of every per-example flip rate, in ``(0, 1]`` (default 1).
        std: standard deviation of the flip-rate normal before truncation (default 0.1).

    Returns:
        :class:`NoisyTargets` with long ``(N,)`` labels on the device of ``labels`` (sampling
        runs on the CPU); ``is_corrupted = noisy != clean``.
    """
    c = _check_c(num_classes)
    y = as_long_tensor("labels", labels)
    device, y = y.device, y.cpu()
    if y.dim() != 1:
        raise ValueError(f"labels must have shape (N,); got {tuple(y.shape)}")
    check_nonempty("labels", y)
    check_labels("labels", y, c)
    if not isinstance(features, Tensor) and np.asarray(features).dtype.kind not in "biuf":
        raise ValueError(f"features must be real numbers; got dtype {np.asarray(features).dtype}")
    x = features if isinstance(features, Tensor) else torch.as_tensor(np.array(features))
    if x.dim() < 2 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"features must have shape ({y.shape[0]}, D) to match labels; got {tuple(x.shape)}"
        )
    x = x.detach().cpu().reshape(x.shape[0], -1).to(torch.float32)
    check_finite("features", x)
    mf = check_in_range("max_flip", max_flip, 0.0, 1.0, low_inclusive=False)
    r = check_rate("rate", rate)
    if r >= mf:
        raise ValueError(f"rate must be < max_flip = {mf}; got {rate!r}")
    sd = check_in_range("std", std, 0.0, float("inf"), low_inclusive=False, high_inclusive=False)

    g = make_generator(seed)
    q = _flip_rates(y.shape[0], r, mf, sd, g)
    w = torch.randn(c, x.shape[1], c, generator=g)
    flip = torch.rand(y.shape[0], generator=g, dtype=torch.float64) < q
    # Only flipped examples need a destination: draw it from softmax(x W[y]) with the clean
    # class masked, by inverse-CDF sampling, one clean class at a time.
    flipped = torch.nonzero(flip).squeeze(1)
    flipped = flipped[torch.argsort(y[flipped], stable=True)]
    xf = x[flipped]
    dest, start = [], 0
    for cls_id, k in enumerate(torch.bincount(y[flipped], minlength=c).tolist()):
        if k:
            scores = xf[start : start + k] @ w[cls_id]
            scores[:, cls_id] = float("-inf")
            dest.append(_draw_rows(torch.softmax(scores, dim=1), g))
            start += k
    noisy = y.clone()
    if dest:
        noisy[flipped] = torch.cat(dest)
    return NoisyTargets(noisy.to(device), y.to(device), (noisy != y).to(device))


def _draw_rows(probs: Tensor, g: torch.Generator) -> Tensor:
    """One class per row of ``probs (k, C)``; zero-probability classes are never drawn.

    ``searchsorted(right=True)`` skips classes whose CDF step is zero; a draw that rounds past
    the last CDF value falls back to the row's most probable class.
    """
    cdf = torch.cumsum(probs, dim=1)
    u = torch.rand(probs.shape[0], 1, generator=g, dtype=probs.dtype)
    drawn = torch.searchsorted(cdf, u * cdf[:, -1:], right=True).squeeze(1)
    over = drawn >= probs.shape[1]
    if bool(over.any()):
        drawn[over] = probs[over].argmax(dim=1)
    return drawn


def _flip_rates(n: int, rate: float, max_flip: float, std: float, g: torch.Generator) -> Tensor:
    """``(n,)`` draws of a normal truncated to ``[0, max_flip]`` whose mean is ``rate``.

    Within ``std / 30`` of a bound the truncated normal is indistinguishable from its limit, an
    exponential truncated to ``[0, max_flip]`` (relative error ~1e-3), which is sampled instead:
    scipy's truncated normal loses precision that far in the tail.
    """
    from scipy.optimize import brentq  # scipy.stats costs ~1 s to import: only when used
    from scipy.stats import truncnorm

    u = torch.rand(n, generator=g, dtype=torch.float64)
    if rate == 0.0:
        return torch.zeros(n, dtype=torch.float64)
    tail = std / 30
    if rate < tail or max_flip - rate < tail:
        return _truncated_exponential(u, rate, max_flip)

    def mean_gap(loc: float) -> float:
        return truncnorm.mean(-loc / std, (max_flip - loc) / std, loc=loc, scale=std) - rate

    with np.errstate(invalid="ignore", divide="ignore"):
        loc = brentq(mean_gap, -40 * std, max_flip + 40 * std, xtol=1e-12)
        q = truncnorm.ppf(u.numpy(), -loc / std, (max_flip - loc) / std, loc=loc, scale=std)
    return torch.from_numpy(np.clip(q, 0.0, max_flip))


def _truncated_exponential(u: Tensor, mean: float, high: float) -> Tensor:
    """Inverse-CDF draws of an exponential truncated to ``[0, high]`` with the given mean.

    The density ``~ exp(-t x / high)`` has mean ``high * (1 / t - 1 / expm1(t))``; a mean above
    ``high / 2`` is the mirror image ``high - X`` of one below it.
    """
    from scipy.optimize import brentq

    rho = mean / high
    mirrored = rho > 0.5
    rho = 1 - rho if mirrored else rho
    if 0.5 - rho < 1e-6:
        x = u * high
    else:
        with np.errstate(over="ignore"):
            t = brentq(lambda t: 1 / t - 1 / np.expm1(t) - rho, 1e-6, 2 / rho + 10, xtol=1e-12)
        x = -torch.log1p(-u * -np.expm1(-t)) / t * high
    x = x.clamp(0.0, high)
    return high - x if mirrored else x
