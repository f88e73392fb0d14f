"""Training methods: how a run learns from noisy labels, each run by the one loop
(:func:`labelnoise.engine.train`). ``METHODS`` maps a recipe's ``method.name`` to its class;
:mod:`labelnoise.methods.base` is the contract."""

from labelnoise.methods.base import Method, Net, StepOutput, weighted_mean
from labelnoise.methods.registry import METHODS, build_method, check_method, method_options

__all__ = [
    "METHODS",
    "Method",
    "Net",
    "StepOutput",
    "build_method",
    "check_method",
    "method_options",
    "weighted_mean",
]
