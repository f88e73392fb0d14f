"""The task-agnostic noise-modeling core.

Imports only torch, numpy, scipy and pandas -- never accelerate, transformers,
torch_geometric, segmentation_models_pytorch or torchaudio.
"""

from labelnoise.common.noise.base import NoisyTargets
from labelnoise.common.transition import CIFAR10_MAPPING, TransitionMatrix
from labelnoise.common.units import (
    IGNORE_INDEX,
    Units,
    flatten_units,
    reduce_units,
    two_class_units,
)

__all__ = [
    "CIFAR10_MAPPING",
    "IGNORE_INDEX",
    "NoisyTargets",
    "TransitionMatrix",
    "Units",
    "flatten_units",
    "reduce_units",
    "two_class_units",
]
