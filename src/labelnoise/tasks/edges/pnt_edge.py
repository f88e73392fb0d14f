"""PNT-Edge: learning pixel-level noise transitions of edge labels (Xuan, Zhao, Yao, Liu, Liu,
Chen, Du & Tao, "PNT-Edge: Towards robust edge detection with noisy labels by learning
pixel-level noise transitions", ACM MM 2023, arXiv:2307.14070).

Noisy edge labels are modelled as clean edges moved by a per-pixel displacement field. A
Pixel-wise Shift Learning (PSL) module predicts the field ``delta (N, 2, H, W)`` (pixels,
bounded by ``max_shift`` via ``tanh``) from the image and the clean edge prediction; the
clean logits warped by the field (:func:`warp`, ``grid_sample``) are fitted to the noisy
label during training, so the edge network is supervised only through the warp and is free to
stay on the clean edges (the PSL module sees the prediction detached). As in the paper the edge
network is first trained on the noisy labels alone (``warmup_images``, no warp), then jointly
with the PSL module. At evaluation the network's own (clean) logits are used.

Local edge-density regularisation (our reading of the paper, which "encourages learning large
shifts for the edges with complex local structures"): shifts are penalised less where the
noisy label is locally dense, ``R = mean((1 - rho) * |delta|^2) / max_shift^2`` with ``rho``
the fraction of edge pixels in a ``window x window`` neighbourhood. It enters training through
:class:`_AddGradient`, an identity whose backward adds ``weight * dR/d delta``: the same
gradient as adding ``weight * R`` to the loss, without the loop knowing about ``R``
(fp32/bf16 only; fp16 loss scaling would not scale this term).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["PNTEdgeNet", "ShiftModule", "edge_density", "warp"]


def warp(logits: Tensor, delta: Tensor) -> Tensor:
    """Sample ``logits (N, C, H, W)`` at ``p + delta(p)``; ``delta (N, 2, H, W)`` as (dy, dx)
    pixels (bilinear, border padding): ``out(p) = logits(p + delta(p))``."""
    n, _, h, w = logits.shape
    ys = torch.arange(h, device=logits.device, dtype=logits.dtype)
    xs = torch.arange(w, device=logits.device, dtype=logits.dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    py, px = gy[None] + delta[:, 0], gx[None] + delta[:, 1]
    grid = torch.stack([2 * px / max(w - 1, 1) - 1, 2 * py / max(h - 1, 1) - 1], dim=-1)
    return F.grid_sample(logits, grid, mode="bilinear", padding_mode="border", align_corners=True)


def edge_density(target: Tensor, *, window: int = 7) -> Tensor:
    """Fraction of edge pixels of ``target (N, 1, H, W)`` in each ``window x window`` box."""
    t = (target > 0).to(torch.float32)
    return F.avg_pool2d(t, window, stride=1, padding=window // 2, count_include_pad=False)


class _AddGradient(torch.autograd.Function):
    """Identity on ``x``; backward adds ``grad_extra`` to the incoming gradient."""

    @staticmethod
    def forward(ctx, x: Tensor, grad_extra: Tensor) -> Tensor:  # noqa: ANN001
        ctx.save_for_backward(grad_extra)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # noqa: ANN001
        (extra,) = ctx.saved_tensors
        return grad + extra, None


class ShiftModule(nn.Module):
    """PSL module: ``(image (N, 3, H, W), edge prob (N, 1, H, W)) -> delta (N, 2, H, W)``."""

    def __init__(self, *, hidden: int = 16, max_shift: float = 4.0) -> None:
        super().__init__()
        self.max_shift = max_shift
        self.net = nn.Sequential(
            nn.Conv2d(4, hidden, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 3, padding=2, dilation=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 3, padding=4, dilation=4),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, 2, 3, padding=1),
        )
        last = self.net[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None  # built just above
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, image: Tensor, prob: Tensor) -> Tensor:
        return self.max_shift * torch.tanh(self.net(torch.cat([image, prob], 1)))


class PNTEdgeNet(nn.Module):
    """Edge network + PSL module.

    ``forward(image)`` -> clean logits ``(N, 1, H, W)`` (evaluation, and any use without a
    label). ``noisy_logits(image, target)`` (or ``forward(image, target)``) -> the clean
    logits warped by the predicted field, with the density regulariser's gradient attached
    (training). Trained by ``method: pnt_edge`` (:mod:`labelnoise.methods.pnt_edge`), which
    builds it around the task's network.
    """

    seen: Tensor  # buffer: training images seen

    def __init__(
        self,
        backbone: nn.Module,
        *,
        max_shift: float = 4.0,
        hidden: int = 16,
        density_weight: float = 1.0,
        window: int = 7,
        warmup_images: int = 0,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.shift = ShiftModule(hidden=hidden, max_shift=max_shift)
        self.max_shift, self.density_weight, self.window = max_shift, density_weight, window
        self.warmup_images = warmup_images
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))

    def forward(self, image: Tensor, target: Tensor | None = None) -> Tensor:
        """The clean logits, or with the noisy ``target`` (training) the warped logits of
        :meth:`noisy_logits`."""
        if target is None:
            return self.backbone(image)
        return self.noisy_logits(image, target)[0]

    def noisy_logits(self, image: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """``(warped logits (N, 1, H, W), delta (N, 2, H, W))`` for the noisy ``target``;
        during the warm-up (the first ``warmup_images`` training images) ``delta`` is 0 and
        the logits are returned unwarped."""
        logits = self.backbone(image)
        if self.training:
            self.seen += image.shape[0]
            if int(self.seen) <= self.warmup_images:
                return logits, torch.zeros_like(logits).expand(-1, 2, -1, -1)
        delta = self.shift(image, torch.sigmoid(logits.detach()))
        if self.density_weight > 0 and delta.requires_grad:
            rho = edge_density(target, window=self.window)
            grad = (
                self.density_weight
                * 2
                * (1 - rho)
                * delta.detach()
                / (self.max_shift**2 * delta[:, :1].numel())
            )
            delta = _AddGradient.apply(delta, grad.to(delta.dtype))
        return warp(logits, delta), delta
