"""Inference for a trained tagging model: the logits of a split, in order (no training)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

__all__ = ["predict_tags"]


@torch.no_grad()
def predict_tags(
    model: nn.Module, data: Dataset, *, batch_size: int = 256
) -> tuple[Tensor, Tensor]:
    """``(logits (N, K), clean targets (N, K))`` of ``data`` (items of
    :class:`~labelnoise.tasks.audio.dataset.ClipDataset`) in order, in eval mode; the model's
    training flag is restored afterwards."""
    was = model.training
    model.eval()
    logits, clean = [], []
    for batch in DataLoader(data, batch_size=batch_size, shuffle=False):
        logits.append(model(batch["x"]))
        clean.append(batch["clean_target"])
    model.train(was)
    return torch.cat(logits), torch.cat(clean)
