"""Edge network producing one sigmoid-logit channel: ``(N, 3, H, W) -> (N, 1, H, W)``.

:class:`SmallHED` -- a small HED-style network (Xie & Tu, "Holistically-nested edge
detection", ICCV 2015): VGG-like stages, one side output per stage upsampled to the input
size, fused by a 1x1 convolution. Small enough to train on a shared CPU (an smp U-Net at
ResNet-18 size took ~30x longer per batch here).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["SmallHED"]


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class SmallHED(nn.Module):
    """HED-style edge network: ``stages`` stages of width ``width * 2**s``, side outputs fused.

    ``forward`` returns the fused logits ``(N, 1, H, W)``; ``side_outputs`` the per-stage
    logits (HED's deep supervision) with the fused map last.
    """

    def __init__(self, *, width: int = 16, stages: int = 3) -> None:
        super().__init__()
        chans = [width * 2**s for s in range(stages)]
        self.blocks = nn.ModuleList(_block(c_in, c) for c_in, c in zip([3, *chans[:-1]], chans))
        self.sides = nn.ModuleList(nn.Conv2d(c, 1, 1) for c in chans)
        self.fuse = nn.Conv2d(stages, 1, 1)

    def side_outputs(self, x: Tensor) -> list[Tensor]:
        size, sides, h = x.shape[-2:], [], x
        for s, (block, side) in enumerate(zip(self.blocks, self.sides)):
            h = block(h if s == 0 else F.max_pool2d(h, 2))
            sides.append(F.interpolate(side(h), size=size, mode="bilinear", align_corners=False))
        return [*sides, self.fuse(torch.cat(sides, 1))]

    def forward(self, x: Tensor) -> Tensor:
        return self.side_outputs(x)[-1]
