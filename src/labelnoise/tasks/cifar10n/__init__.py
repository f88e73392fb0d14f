"""CIFAR-10N image classification: dataset module, models, adapter (registered as ``cifar10n``)."""

from labelnoise.tasks.cifar10n.adapter import Cifar10NAdapter, Cifar10NConfig
from labelnoise.tasks.cifar10n.models import MODELS, PreActResNet18, SmallCNN, build_model

__all__ = [
    "MODELS",
    "Cifar10NAdapter",
    "Cifar10NConfig",
    "PreActResNet18",
    "SmallCNN",
    "build_model",
]
