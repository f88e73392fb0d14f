"""Models on log-mels: a small CNN of the DCASE baseline family, and a backbone hook.

The CNN follows the shape of the DCASE 2019 Task 2 baseline CNNs (Fonseca et al., 2019;
Kong et al., PANNs' CNN family): blocks of 3x3 conv + batch norm + ReLU + 2x2 max pooling,
then mean over frequency, max + mean over time, and a linear layer to ``K`` tag logits.

Any other network (e.g. a pretrained audio backbone) plugs in through ``backbone``:
``"package.module:factory"``, called as ``factory(num_tags=K, n_mels=M)`` and returning an
``nn.Module`` that maps ``(B, 1, M, T)`` log-mels to ``(B, K)`` logits. Only modules of
allow-listed packages (:data:`labelnoise._code.ALLOWED_PACKAGES`) unless ``--allow-code``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from labelnoise._code import load_factory

__all__ = ["SmallCNN", "build_audio_model"]


class SmallCNN(nn.Module):
    """``(B, 1, M, T)`` log-mels -> ``(B, K)`` tag logits.

    Args:
        num_tags: ``K``.
        channels: output channels of the conv blocks (each halves both axes).
        dropout: before the linear layer.
    """

    def __init__(
        self, num_tags: int, *, channels: Sequence[int] = (16, 32, 64), dropout: float = 0.2
    ) -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm2d(1)
        blocks: list[nn.Module] = []
        c_in = 1
        for c in channels:
            blocks += [
                nn.Conv2d(c_in, c, 3, padding=1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            c_in = c
        self.features = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * c_in, num_tags)

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(self.input_norm(x)).mean(2)  # (B, C, T')
        h = torch.cat([h.amax(2), h.mean(2)], dim=1)
        return self.head(self.dropout(h))


def build_audio_model(
    num_tags: int,
    *,
    n_mels: int,
    backbone: str | None = None,
    channels: Sequence[int] = (16, 32, 64),
    dropout: float = 0.2,
) -> nn.Module:
    """The small CNN, or ``backbone`` (``"module:factory"``) called as
    ``factory(num_tags=num_tags, n_mels=n_mels)``."""
    if backbone is None:
        return SmallCNN(num_tags, channels=channels, dropout=dropout)
    factory = load_factory(backbone, what="task.backbone")  # allow-listed packages only
    model = factory(num_tags=num_tags, n_mels=n_mels)
    if not isinstance(model, nn.Module):
        raise ValueError(f"backbone factory must return an nn.Module; got {type(model).__name__}")
    return model
