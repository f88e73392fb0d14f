"""Label-noise simulators: every one returns :class:`NoisyTargets` and takes an explicit seed."""

from labelnoise.common.noise.base import NoisyTargets
from labelnoise.common.noise.continuous import gaussian_noise, outlier_noise, uniform_replacement

__all__ = [
    "NoisyTargets",
    "gaussian_noise",
    "outlier_noise",
    "uniform_replacement",
]
