"""``pnt_edge``: PNT-Edge, learning pixel-level noise transitions of edge labels (Xuan, Zhao,
Yao, Liu, Liu, Chen, Du & Tao, "PNT-Edge: Towards robust edge detection with noisy labels by
learning pixel-level noise transitions", ACM MM 2023, arXiv:2307.14070).

Noisy edge labels are modelled as the clean edges moved by a per-pixel displacement field.
:meth:`build_model` wraps the task's edge network in
:class:`~labelnoise.tasks.edges.pnt_edge.PNTEdgeNet`: a Pixel-wise Shift Learning module
predicts the field ``delta (N, 2, H, W)`` (``|delta| <= max_shift`` px, ``tanh``) from the
image and the detached clean edge probabilities. One step::

    warped = model(image, noisy_target)        # clean logits sampled at p + delta(p)
    units = adapter.train_units(warped, noisy_target)    # class balance, tolerance option
    loss = weighted mean of loss_fn(units) under the selector      (the standard step)

so the edge network is supervised only through the warp. The first ``warmup_epochs`` x
``len(train)`` training images train the network alone (``delta = 0``), as the paper's
two-stage schedule. A local edge-density regulariser ``density_weight * mean((1 - rho)
|delta|^2) / max_shift^2`` (``rho``: fraction of labelled edge pixels in a ``window x window``
box; our reading of the paper, which lets complex local structure shift more) enters as an
added gradient of ``delta`` (fp32/bf16 only; fp16 loss scaling would not scale it).
Evaluation uses the network's own (clean) logits. The shift module and the images-seen
counter are part of the model: optimized, prepared and checkpointed with it, so a resumed run
continues exactly. Simplified: a 4-layer dilated shift module (``hidden`` channels), not the
paper's full PSL/LEDR architecture. One process only (during the warm-up the shift module gets
no gradient, which DDP refuses).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from labelnoise.methods.base import Net, StepOutput
from labelnoise.methods.standard import Standard
from labelnoise.tasks.edges.pnt_edge import PNTEdgeNet

__all__ = ["PntEdge", "PntEdgeOptions"]


@dataclass
class PntEdgeOptions:
    """Options of ``method: {name: pnt_edge, ...}``.

    Attributes:
        max_shift: largest displacement in pixels (``> 0``). Default 4.
        density_weight: weight of the edge-density regulariser (``>= 0``). Default 1.
        window: side of the density box (odd, ``>= 1``). Default 7.
        warmup_epochs: epochs (in training images, ``round(warmup_epochs * len(train))``)
            before the shift module is used (``>= 0``). Default 2.
        hidden: channels of the shift module (``>= 1``). Default 16.

    Raises:
        ValueError: naming the field (``method.max_shift``, ...), the expected and the
            received value.
    """

    max_shift: float = 4.0
    density_weight: float = 1.0
    window: int = 7
    warmup_epochs: float = 2.0
    hidden: int = 16

    def __post_init__(self) -> None:
        if not self.max_shift > 0:
            raise ValueError(f"method.max_shift must be > 0; got {self.max_shift!r}")
        if not self.density_weight >= 0:
            raise ValueError(f"method.density_weight must be >= 0; got {self.density_weight!r}")
        if self.window < 1 or self.window % 2 == 0:
            raise ValueError(f"method.window must be an odd integer >= 1; got {self.window!r}")
        if not self.warmup_epochs >= 0:
            raise ValueError(f"method.warmup_epochs must be >= 0; got {self.warmup_epochs!r}")
        if self.hidden < 1:
            raise ValueError(f"method.hidden must be >= 1; got {self.hidden!r}")


class _Warped(nn.Module):
    """``forward(image)``: ``net(image, target)`` for the batch's noisy ``target`` (set per
    step), so the adapter's training units see the warped logits."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.target: Tensor | None = None

    def forward(self, image: Tensor) -> Tensor:
        return self.net(image, self.target)


class PntEdge(Standard):
    """The standard step on the warped logits of a :class:`PNTEdgeNet` (module docstring)."""

    name = "pnt_edge"
    Options = PntEdgeOptions
    tasks = frozenset({"edges"})
    single_process = True

    def build_model(self, splits: Any) -> nn.Module:
        o = self.options
        return PNTEdgeNet(
            self.run.adapter.build_model(splits),
            max_shift=o.max_shift,
            hidden=o.hidden,
            density_weight=o.density_weight,
            window=o.window,
            warmup_images=round(o.warmup_epochs * len(splits.train)),
        )

    def setup(self, nets: Sequence[Net], selector: Any) -> None:
        super().setup(nets, selector)
        self.warped = _Warped(self.nets[0].model)

    def step(self, batch: Any) -> StepOutput:
        self.warped.target = batch["target"]
        return self.weighted_step(self.warped, batch)
