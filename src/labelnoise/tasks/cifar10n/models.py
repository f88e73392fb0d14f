"""Image classifiers for 32x32 CIFAR images, all randomly initialised.

* ``small_cnn``: four conv-BN-ReLU blocks (widths ``w, 2w, 4w, 4w``), two max-pools and a
  global-average-pooled linear head; ~0.3 M parameters at ``w = 32``, trains on a CPU in
  minutes.
* ``resnet18``: torchvision's ResNet-18 with the CIFAR stem (3x3 conv, stride 1, no max-pool;
  He et al., CVPR 2016).
* ``preact_resnet18``: pre-activation ResNet-18 (He et al., ECCV 2016), the backbone of
  Co-teaching / DivideMix / ELR on CIFAR.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

__all__ = ["MODELS", "PreActResNet18", "SmallCNN", "build_model"]


class SmallCNN(nn.Module):
    """``(B, 3, 32, 32) -> (B, num_classes)`` logits; ``width`` channels in the first block."""

    def __init__(self, num_classes: int = 10, *, width: int = 32, dropout: float = 0.0) -> None:
        super().__init__()
        w = width

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        self.features = nn.Sequential(
            *block(3, w),
            nn.MaxPool2d(2),
            *block(w, 2 * w),
            nn.MaxPool2d(2),
            *block(2 * w, 4 * w),
            nn.MaxPool2d(2),
            *block(4 * w, 4 * w),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * w, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class _PreActBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(x))
        skip = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(torch.relu(self.bn2(out)))
        return out + skip


class PreActResNet18(nn.Module):
    """Pre-activation ResNet-18 for 32x32 inputs: ``(B, 3, 32, 32) -> (B, num_classes)``."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        layers: list[nn.Module] = []
        cin = 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [_PreActBlock(cin, cout, stride), _PreActBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(512)
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn(self.layers(self.conv1(x))))
        return self.linear(out.mean(dim=(2, 3)))


def _resnet18(num_classes: int) -> nn.Module:
    from torchvision.models import resnet18

    m = resnet18(weights=None, num_classes=num_classes)
    m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    m.maxpool = nn.Identity()
    return m


MODELS = ("small_cnn", "resnet18", "preact_resnet18")


def build_model(
    name: Literal["small_cnn", "resnet18", "preact_resnet18"],
    num_classes: int = 10,
    *,
    width: int = 32,
    dropout: float = 0.0,
) -> nn.Module:
    """A randomly initialised classifier by name (see the module doc)."""
    if name == "small_cnn":
        return SmallCNN(num_classes, width=width, dropout=dropout)
    if name == "resnet18":
        return _resnet18(num_classes)
    if name == "preact_resnet18":
        return PreActResNet18(num_classes)
    raise ValueError(f"model must be one of {list(MODELS)}; got {name!r}")
