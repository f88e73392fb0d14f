"""Label-noise simulators: every one returns :class:`NoisyTargets` and takes an explicit seed."""

from labelnoise.common.noise.base import NoisyTargets
from labelnoise.common.noise.continuous import gaussian_noise, outlier_noise, uniform_replacement
from labelnoise.common.noise.spans import calibrate_span_noise, span_noise

__all__ = [
    "NoisyTargets",
    "calibrate_span_noise",
    "gaussian_noise",
    "outlier_noise",
    "span_noise",
    "uniform_replacement",
]
