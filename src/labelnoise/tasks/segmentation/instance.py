"""Instance segmentation: torchvision Mask R-CNN (He et al., ICCV 2017).

:func:`build_maskrcnn` gives torchvision's ResNet-50-FPN Mask R-CNN (``weights=None`` and
``weights_backbone=None`` offline / in tests) or, with ``backbone="tiny"``, the same detector on
a four-layer CNN backbone for CPU tests. Training runs in the engine: task
``instance_segmentation`` (:mod:`labelnoise.tasks.segmentation.instance_adapter`) with
``method: maskrcnn`` (:mod:`labelnoise.methods.maskrcnn`); noisy annotations come from
:func:`labelnoise.common.noise.instance_mask_noise`. :func:`predict_instances` runs a trained
model for :func:`labelnoise.tasks.segmentation.mask_ap.mask_average_precision`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["build_maskrcnn", "predict_instances", "to_target"]


class _TinyBackbone(nn.Sequential):
    def __init__(self, width: int = 32) -> None:
        layers, cin = [], 3
        for i in range(4):
            layers += [nn.Conv2d(cin, width, 3, stride=2 if i < 3 else 1, padding=1), nn.ReLU()]
            cin = width
        super().__init__(*layers)
        self.out_channels = width


def build_maskrcnn(
    num_classes: int,
    *,
    backbone: Literal["tiny", "resnet50_fpn"] = "tiny",
    image_size: int = 64,
    width: int = 32,
    detections_per_img: int | None = None,
) -> nn.Module:
    """A Mask R-CNN for ``num_classes`` classes including background (class 0), randomly
    initialised (``weights=None, weights_backbone=None``: nothing is downloaded).

    ``image_size`` sets torchvision's resize (``min_size = max_size = image_size``);
    ``width``: channels of the tiny backbone; ``detections_per_img``: at most this many
    detections per image (default: torchvision's 100, or 20 for ``tiny``).
    """
    extra = {} if detections_per_img is None else {"box_detections_per_img": detections_per_img}
    from torchvision.models.detection import MaskRCNN, maskrcnn_resnet50_fpn
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops import MultiScaleRoIAlign

    if backbone == "resnet50_fpn":
        return maskrcnn_resnet50_fpn(
            weights=None,
            weights_backbone=None,
            num_classes=num_classes,
            min_size=image_size,
            max_size=image_size,
            **extra,
        )
    if backbone != "tiny":
        raise ValueError(f"backbone must be 'tiny' or 'resnet50_fpn'; got {backbone!r}")
    anchors = AnchorGenerator(sizes=((8, 16, 32),), aspect_ratios=((0.5, 1.0, 2.0),))
    body = _TinyBackbone(width)
    dets = 20 if detections_per_img is None else detections_per_img  # proposals scale with it
    w = body.out_channels
    return MaskRCNN(
        body,
        num_classes=None,
        min_size=image_size,
        max_size=image_size,
        rpn_anchor_generator=anchors,
        box_roi_pool=MultiScaleRoIAlign(["0"], 7, 2),
        mask_roi_pool=MultiScaleRoIAlign(["0"], 14, 2),
        rpn_pre_nms_top_n_train=max(200, 4 * dets),
        rpn_post_nms_top_n_train=max(100, 2 * dets),
        rpn_pre_nms_top_n_test=max(100, 2 * dets),
        rpn_post_nms_top_n_test=max(50, dets),
        box_batch_size_per_image=max(64, dets),
        box_detections_per_img=dets,
        box_head=TwoMLPHead(w * 7 * 7, 128),
        box_predictor=FastRCNNPredictor(128, num_classes),
        mask_head=MaskRCNNHeads(w, [w, w], 1),
        mask_predictor=MaskRCNNPredictor(w, w, num_classes),
    )


def to_target(masks: np.ndarray | Tensor, labels: np.ndarray | Tensor) -> dict[str, Tensor]:
    """Mask R-CNN target from ``(K, H, W)`` masks and ``(K,)`` labels (empty masks dropped)."""
    m = torch.as_tensor(np.asarray(masks)).bool()
    y = torch.as_tensor(np.asarray(labels)).long()
    keep = m.flatten(1).any(1) if len(m) else torch.zeros(0, dtype=torch.bool)
    m, y = m[keep], y[keep]
    boxes = torch.zeros((len(m), 4))
    for i, mi in enumerate(m):
        ys, xs = torch.nonzero(mi, as_tuple=True)
        boxes[i] = torch.stack([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]).float()
    return {"boxes": boxes, "labels": y, "masks": m.to(torch.uint8)}


@torch.no_grad()
def predict_instances(
    model: nn.Module, images: Sequence[Tensor], *, mask_threshold: float = 0.5
) -> list[dict[str, np.ndarray]]:
    """``[{"masks": (D, H, W) bool, "scores": (D,), "labels": (D,)}]`` for
    :func:`labelnoise.tasks.segmentation.mask_ap.mask_average_precision`."""
    model.eval()
    out = model(list(images))
    return [
        {
            "masks": (o["masks"][:, 0] > mask_threshold).numpy(),
            "scores": o["scores"].numpy(),
            "labels": o["labels"].numpy(),
        }
        for o in out
    ]
