"""Pixel and image label-issue scores for segmentation through the core's streaming confident
learning (:func:`labelnoise.common.detection.find_label_issues_streaming`; cleanlab 2.9's
``segmentation.filter`` / ``segmentation.rank`` semantics): the model's out-of-sample
probabilities are streamed in batches of images, so memory stays bounded."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from labelnoise.common.detection import find_label_issues_streaming
from labelnoise.common.units import IGNORE_INDEX

__all__ = ["SegmentationIssues", "model_chunks", "segmentation_label_issues"]


@dataclass(frozen=True)
class SegmentationIssues:
    """``pixel_issues (N, H, W)`` bool, ``pixel_quality (N, H, W)`` (NaN where ignored),
    ``image_quality (N,)`` (softmin over pixels; higher = cleaner) and ``ranking (N,)``:
    image indices, worst first."""

    pixel_issues: np.ndarray
    pixel_quality: np.ndarray
    image_quality: np.ndarray
    ranking: np.ndarray


def model_chunks(
    model: nn.Module, images: Tensor, labels: Tensor, *, batch_size: int = 8
) -> Callable[[], Iterable[tuple[Tensor, Tensor]]]:
    """A re-iterable stream of ``(labels (B, H, W), pred_probs (B, C, H, W))`` chunks from
    ``model``'s softmax on ``images`` (eval mode, no gradients)."""

    def gen():
        was = model.training
        model.eval()
        with torch.no_grad():
            for i in range(0, len(images), batch_size):
                yield labels[i : i + batch_size], model(images[i : i + batch_size]).softmax(1)
        model.train(was)

    return gen


def segmentation_label_issues(
    chunks: Iterable[tuple] | Callable[[], Iterable[tuple]],
    num_classes: int,
    *,
    method: Literal["self_confidence", "normalized_margin"] = "self_confidence",
    temperature: float = 0.1,
    ignore_index: int = IGNORE_INDEX,
) -> SegmentationIssues:
    """Confident-learning issues per pixel and a per-image quality ranking.

    Args:
        chunks: ``(labels (B, H, W), pred_probs (B, C, H, W))`` chunks of images of one size,
            re-iterable (or a callable, e.g. :func:`model_chunks`); out-of-sample probabilities
            (K-fold) give honest scores.
        num_classes: ``C``.
    """
    res = find_label_issues_streaming(
        chunks,
        num_classes,
        method=method,
        reduce="softmin",
        temperature=temperature,
        ignore_index=ignore_index,
    )
    assert res.unit_quality is not None  # keep_unit_quality defaults to True
    first = next(iter(chunks() if callable(chunks) else chunks))
    hw = tuple(first[0].shape[-2:])
    n = res.is_issue.size // int(np.prod(hw))
    image_quality = np.full(n, np.nan)
    image_quality[res.example_ids] = res.example_quality
    order = np.argsort(np.nan_to_num(image_quality, nan=np.inf), kind="stable")
    return SegmentationIssues(
        res.is_issue.reshape(n, *hw),
        res.unit_quality.reshape(n, *hw),
        image_quality,
        order,
    )
