"""A small training loop over in-memory images beside the engine, for methods whose loop
differs (ADELE's per-epoch label correction); it reuses the core's losses
(:func:`labelnoise.common.losses.build_loss`), selectors
(:func:`labelnoise.common.selection.build_selector`) and units (:func:`flatten_units`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from labelnoise.common._random import make_generator
from labelnoise.common.losses import build_loss
from labelnoise.common.selection import build_selector
from labelnoise.common.units import IGNORE_INDEX, flatten_units
from labelnoise.tasks.segmentation.adele import (
    AdeleConfig,
    adele_epoch_end,
    multiscale_consistency,
    multiscale_probs,
)
from labelnoise.tasks.segmentation.models import predict

__all__ = ["AdeleConfig", "FitResult", "fit_segmentation", "predict"]


@dataclass
class FitResult:
    """Labels after correction ``(N, H, W)``, per-class onset epochs (None: never), and the
    training IoU curves ``(epochs, C)`` against the given labels."""

    labels: Tensor
    onset: list[int | None]
    iou_curve: np.ndarray


def fit_segmentation(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    *,
    num_classes: int,
    epochs: int = 40,
    lr: float = 3e-3,
    batch_size: int = 4,
    loss: str = "ce",
    loss_options: dict | None = None,
    selector: str = "none",
    selector_options: dict | None = None,
    adele: AdeleConfig | None = None,
    seed: int = 0,
) -> FitResult:
    """Train ``model`` on ``images (N, C_in, H, W)`` and ``labels (N, H, W)`` with Adam (cosine
    learning-rate decay over ``epochs``), a core loss per pixel (``loss``, ``loss_options`` as
    for :func:`build_loss`; stateful losses such as ``elr`` keep one memory slot per pixel) and
    a core selector over the pixels of each batch (``selector``, ``selector_options``; its
    ``example`` level ranks images); with ``adele``, add the multi-scale consistency term and
    correct the labels of each class from the epoch its memorisation onset is detected (Liu et
    al. 2022). Random horizontal/vertical flips augment each batch."""
    g = make_generator(seed)
    n, h, w = labels.shape
    loss_fn = build_loss(
        loss, num_classes=num_classes, num_examples=n * h * w, **(loss_options or {})
    )
    select = build_selector(selector, num_examples=n, **(selector_options or {}))
    pixel_ids = torch.arange(n * h * w).view(n, h, w)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    current = labels.clone()
    curve: list[list[float]] = []
    onset: list[int | None] = [None] * num_classes
    step = 0
    model.train()
    for epoch in range(1, epochs + 1):
        for idx in torch.randperm(n, generator=g).split(batch_size):
            x, y, ids = images[idx], current[idx], pixel_ids[idx]
            for dim in (-1, -2):
                if bool(torch.rand((), generator=g) < 0.5):
                    x, y, ids = x.flip(dim), y.flip(dim), ids.flip(dim)
            if adele is None:
                logits = model(x)
                reg = logits.new_zeros(())
            else:
                probs = multiscale_probs(model, x, scales=adele.scales, flip=False)
                logits = probs[list(adele.scales).index(1.0)].clamp_min(1e-8).log()
                reg = adele.consistency_weight * multiscale_consistency(probs)
            u = flatten_units(logits, y, example_id=idx)
            keep = y.reshape(-1) != IGNORE_INDEX
            unit_loss = loss_fn(u.pred, u.target, example_id=ids.reshape(-1)[keep])
            wts = select(
                unit_loss.detach(), u.example_id, step=step, logits=u.pred.detach(), target=u.target
            )
            total = (wts * unit_loss).sum() / wts.sum().clamp_min(1.0) + reg
            opt.zero_grad()
            total.backward()
            opt.step()
            step += 1
        sched.step()
        if hasattr(select, "on_epoch_end"):
            select.on_epoch_end(epoch - 1)
        if adele is None:
            continue
        corrected = adele_epoch_end(
            model, images, labels, curve, onset, epoch=epoch, config=adele, batch_size=batch_size
        )
        if corrected is not None:
            current = corrected
    return FitResult(current, onset, np.asarray(curve))
