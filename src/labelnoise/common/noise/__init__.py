"""Label-noise simulators: every one returns :class:`NoisyTargets` and takes an explicit seed."""

from labelnoise.common.noise.base import NoisyTargets
from labelnoise.common.noise.class_conditional import (
    class_conditional,
    pair_flip_noise,
    symmetric_noise,
)
from labelnoise.common.noise.continuous import gaussian_noise, outlier_noise, uniform_replacement
from labelnoise.common.noise.edges import (
    displacement_noise,
    drop_segments,
    spurious_edges,
    thickness_noise,
)
from labelnoise.common.noise.instance_dependent import instance_dependent
from labelnoise.common.noise.masks import instance_mask_noise, semantic_mask_noise
from labelnoise.common.noise.multilabel import multilabel_noise
from labelnoise.common.noise.spans import calibrate_span_noise, span_noise

__all__ = [
    "NoisyTargets",
    "class_conditional",
    "displacement_noise",
    "drop_segments",
    "spurious_edges",
    "thickness_noise",
    "calibrate_span_noise",
    "gaussian_noise",
    "instance_dependent",
    "instance_mask_noise",
    "multilabel_noise",
    "outlier_noise",
    "pair_flip_noise",
    "semantic_mask_noise",
    "symmetric_noise",
    "span_noise",
    "uniform_replacement",
]
