"""ISBI-2012 loading at a working resolution, noisy training masks, and the item dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from labelnoise.tasks.segmentation.readers import read_pairs

__all__ = [
    "ISBI_CLASSES",
    "MaskDataset",
    "RelabeledMasks",
    "read_isbi2012",
    "resize_batch",
    "stack_items",
]

ISBI_CLASSES = ("membrane", "cell")


def _resize(arr: np.ndarray, size: int, *, nearest: bool) -> np.ndarray:
    from PIL import Image

    if arr.shape[:2] == (size, size):
        return arr
    mode = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(arr).resize((size, size), mode))


def read_isbi2012(root: str | Path, *, image_size: int = 256) -> tuple[Tensor, Tensor]:
    """The 30 labelled ISBI-2012 pairs of ``root/train/{image,label}`` (numeric order).

    Returns:
        ``images (30, 1, S, S)`` float32 standardised, ``masks (30, S, S)`` int64 with
        0 = membrane, 1 = cell interior (nearest-neighbour resize to ``S = image_size``).
    """
    root = Path(root)
    images, masks, _ = read_pairs(
        root / "train" / "image", root / "train" / "label", {0: 0, 255: 1}
    )
    x = np.stack([_resize(i, image_size, nearest=False) for i in images]).astype(np.float32)
    y = np.stack([_resize(m.astype(np.uint8), image_size, nearest=True) for m in masks])
    x = (x - x.mean()) / max(float(x.std()), 1e-6)
    return torch.from_numpy(x)[:, None], torch.from_numpy(y.astype(np.int64))


def resize_batch(x: Tensor, size: int, *, mask: bool) -> Tensor:
    """Resize ``(N, C, H, W)`` images (bilinear, antialiased) or ``(N, H, W)`` masks (nearest)
    to ``size x size``."""
    import torch.nn.functional as F

    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    if mask:
        return F.interpolate(x[:, None].float(), size=(size, size), mode="nearest")[:, 0].long()
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True)


class MaskDataset(Dataset):
    """Items ``{"image": (C, H, W), "target": (H, W), "clean_target": (H, W), "example_id"}``."""

    def __init__(self, images: Tensor, target: Tensor, clean: Tensor | None = None) -> None:
        if images.shape[0] != target.shape[0] or images.shape[-2:] != target.shape[-2:]:
            raise ValueError(
                f"images (N, C, H, W) and target (N, H, W) must agree; got "
                f"{tuple(images.shape)} and {tuple(target.shape)}"
            )
        self.images, self.target, self.clean = images, target, clean

    def __len__(self) -> int:
        return int(self.target.shape[0])

    def __getitem__(self, i: int) -> dict:
        item = {"image": self.images[i], "target": self.target[i], "example_id": i}
        if self.clean is not None:
            item["clean_target"] = self.clean[i]
        return item


def stack_items(dataset: Dataset) -> tuple[Tensor, Tensor]:
    """All ``images (N, C, H, W)`` and ``targets (N, H, W)`` of an item dataset (a
    :class:`MaskDataset` or a subset of one), in item order."""
    from labelnoise.engine.data import num_items  # here: the engine imports the tasks

    items = [dataset[i] for i in range(num_items(dataset))]
    return torch.stack([it["image"] for it in items]), torch.stack([it["target"] for it in items])


class RelabeledMasks(Dataset):
    """The items of ``dataset`` with ``"target"`` read from ``self.target (N, H, W)`` instead:
    a method that corrects the training masks (ADELE, :mod:`labelnoise.methods.adele`) assigns
    ``self.target`` and its loader serves the new masks from then on, while ``dataset`` keeps
    the original (noisy) ones. ``self.target`` starts as a copy of ``dataset``'s masks
    (``masks``: those masks already stacked by :func:`stack_items`, to skip a second pass)."""

    def __init__(self, dataset: Dataset, masks: Tensor | None = None) -> None:
        self.dataset = dataset
        self.target = (stack_items(dataset)[1] if masks is None else masks).clone()

    def __len__(self) -> int:
        from labelnoise.engine.data import num_items  # here: the engine imports the tasks

        return num_items(self.dataset)

    def __getitem__(self, i: int) -> dict:
        return dict(self.dataset[i], target=self.target[i])
