"""Edge-detection items at a fixed reduced resolution.

Portrait images are transposed to landscape (BSDS images are 481 x 321 or 321 x 481), then
images are resized bilinearly and every annotator's map by area averaging followed by
non-maximum suppression (:func:`resize_boundaries`), which keeps one-pixel lines.

Targets are *annotator bitmasks*: bit ``k`` of a pixel is set when annotator ``k`` marks it,
so a single annotator's 0/1 map is a bitmask too and one long tensor carries every annotator
to the metrics (:func:`decode_bitmask`).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from labelnoise.tasks.edges.bsds import EdgeImage
from labelnoise.tasks.edges.metrics import nms_thin

__all__ = ["EdgeDataset", "decode_bitmask", "encode_bitmask", "prepare", "resize_boundaries"]

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def resize_boundaries(
    maps: np.ndarray, size: tuple[int, int], *, level: float = 0.15
) -> np.ndarray:
    """``(K, H, W)`` binary -> ``(K, h, w)`` uint8: area resize, NMS, keep values >= ``level``."""
    h, w = size
    small = [
        np.asarray(
            Image.fromarray(m.astype(np.float32), mode="F").resize((w, h), Image.Resampling.BOX)
        )
        for m in maps
    ]
    return np.stack([nms_thin(m) >= level for m in small]).astype(np.uint8)


def encode_bitmask(maps: np.ndarray) -> np.ndarray:
    """``(K, H, W)`` binary -> ``(H, W)`` int64 with bit ``k`` = annotator ``k``."""
    bits = (np.int64(1) << np.arange(maps.shape[0], dtype=np.int64)).reshape(-1, 1, 1)
    return (maps.astype(np.int64) * bits).sum(0)


def decode_bitmask(mask: np.ndarray) -> np.ndarray:
    """``(H, W)`` int bitmask -> ``(K, H, W)`` bool, ``K`` = the highest set bit + 1."""
    mask = np.asarray(mask, dtype=np.int64)
    k = max(int(mask.max()).bit_length(), 1)
    return ((mask[None] >> np.arange(k, dtype=np.int64).reshape(-1, 1, 1)) & 1).astype(bool)


def prepare(item: EdgeImage, size: tuple[int, int]) -> tuple[Tensor, np.ndarray]:
    """Image ``(3, h, w)`` normalised float and annotator maps ``(K, h, w)`` uint8."""
    img, maps = item.image, item.boundaries
    if img.shape[0] > img.shape[1]:
        img, maps = img.transpose(1, 0, 2), maps.transpose(0, 2, 1)
    h, w = size
    small = Image.fromarray(np.ascontiguousarray(img)).resize((w, h), Image.Resampling.BILINEAR)
    x = (np.asarray(small, dtype=np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(x.transpose(2, 0, 1).copy()), resize_boundaries(maps, size)


class EdgeDataset(torch.utils.data.Dataset):
    """Items ``{"image" (3, h, w), "target" (1, h, w) long, "clean_target" (1, h, w) long,
    "example_id"}``; targets are annotator bitmasks (module docstring)."""

    def __init__(self, images: list[Tensor], target: list[np.ndarray], clean: list[np.ndarray]):
        self.images, self.target, self.clean = images, target, clean

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return {
            "image": self.images[i],
            "target": torch.from_numpy(self.target[i]).long()[None],
            "clean_target": torch.from_numpy(self.clean[i]).long()[None],
            "example_id": i,
        }
