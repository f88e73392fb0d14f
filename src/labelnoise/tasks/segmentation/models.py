"""segmentation-models-pytorch model builder (imported only by the segmentation task).

``encoder_weights=None`` builds a randomly initialised encoder (tests, offline machines);
``"imagenet"`` downloads pretrained weights where the hub is reachable.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

__all__ = ["TinyUNet", "build_smp_model", "predict"]


@torch.no_grad()
def predict(
    model: nn.Module,
    images: Tensor,
    *,
    batch_size: int = 8,
    output: Literal["probs", "logits"] = "probs",
) -> Tensor:
    """``(N, C, H, W)`` softmax probabilities (or raw logits) in eval mode."""
    if output not in ("probs", "logits"):
        raise ValueError(f"output must be 'probs' or 'logits'; got {output!r}")
    was = model.training
    model.eval()
    out = torch.cat([model(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])
    model.train(was)
    return out.softmax(1) if output == "probs" else out


def build_smp_model(
    *,
    arch: str = "Unet",
    encoder: str = "resnet18",
    in_channels: int = 1,
    num_classes: int = 2,
    encoder_depth: int = 3,
    decoder_channels: tuple[int, ...] | None = None,
    encoder_weights: str | None = None,
) -> nn.Module:
    """A smp model ``(N, in_channels, H, W) -> (N, num_classes, H, W)`` logits.

    Args:
        arch: a smp architecture class name (``Unet``, ``FPN``, ``DeepLabV3Plus``, ...).
        encoder: a smp encoder name (``resnet18``, ``mobilenet_v2``, ...).
        encoder_depth: encoder stages (3-5); ``H`` and ``W`` must be divisible by
            ``2 ** encoder_depth``.
        decoder_channels: Unet decoder widths, one per stage (default: 64, 32, 16, ... halving).
        encoder_weights: None (random init) or a smp weights name such as ``"imagenet"``.
    """
    import segmentation_models_pytorch as smp

    if not hasattr(smp, arch):
        raise ValueError(f"arch must be a segmentation_models_pytorch model class; got {arch!r}")
    if not 1 <= encoder_depth <= 5:
        raise ValueError(f"encoder_depth must be in [1, 5]; got {encoder_depth}")
    if num_classes < 1 or in_channels < 1:
        raise ValueError(
            f"num_classes and in_channels must be >= 1; got {num_classes}, {in_channels}"
        )
    kwargs: dict = {
        "encoder_name": encoder,
        "encoder_weights": encoder_weights,
        "in_channels": in_channels,
        "classes": num_classes,
        "encoder_depth": encoder_depth,
    }
    if arch in ("Unet", "UnetPlusPlus"):
        kwargs["decoder_channels"] = tuple(
            decoder_channels or [max(64 >> i, 8) for i in range(encoder_depth)]
        )
    return getattr(smp, arch)(**kwargs)


class _Block(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class TinyUNet(nn.Module):
    """A small U-Net (Ronneberger et al., MICCAI 2015) for CPU runs: ``depth`` poolings,
    ``width * 2**i`` channels at level ``i``. ``(N, in_channels, H, W) -> (N, C, H, W)``;
    ``H`` and ``W`` divisible by ``2 ** depth``."""

    def __init__(
        self, *, in_channels: int = 1, num_classes: int = 2, width: int = 8, depth: int = 3
    ) -> None:
        super().__init__()
        chans = [width * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList(
            [_Block(in_channels, chans[0])] + [_Block(chans[i], chans[i + 1]) for i in range(depth)]
        )
        self.up = nn.ModuleList(
            [nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2) for i in range(depth)]
        )
        self.merge = nn.ModuleList([_Block(2 * chans[i], chans[i]) for i in range(depth)])
        self.head = nn.Conv2d(chans[0], num_classes, 1)

    def forward(self, x):
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else nn.functional.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for i in reversed(range(len(self.up))):
            x = self.merge[i](torch.cat([self.up[i](x), skips.pop()], dim=1))
        return self.head(x)
