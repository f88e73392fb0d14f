"""Label-noise simulators: every one returns :class:`NoisyTargets` and takes an explicit seed."""

from labelnoise.common.noise.base import NoisyTargets

__all__ = ["NoisyTargets"]
