"""CIFAR-10 images with a CIFAR-10N human label set, as training / validation / test datasets.

The reader (:mod:`labelnoise.common.datasets.cifar10n`) does the format work; this module only
decodes the JPEGs once into a ``uint8 (N, 32, 32, 3)`` array (optionally cached as ``.npy``),
picks a subset, and serves items ``{"x", "target", "clean_target", "example_id"}`` with the
usual random-crop + flip augmentation for training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from labelnoise._io import atomic_write
from labelnoise.common.datasets.cifar10n import Cifar10Images, load_cifar10n, read_cifar10

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "Cifar10NDataset",
    "LazyImages",
    "decode_images",
    "load_arrays",
]

#: Per-channel mean and std of the CIFAR-10 training images (0..1 scale).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


class LazyImages:
    """Images ``indices`` of a zip, decoded when indexed: ``lazy[i] -> (32, 32, 3) uint8``."""

    def __init__(self, images: Cifar10Images, indices: np.ndarray) -> None:
        self.images, self.indices = images, np.asarray(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, (int, np.integer)):
            return np.array(self.images.image(int(self.indices[i])), dtype=np.uint8)
        return LazyImages(self.images, self.indices[i])


def decode_images(
    images: Cifar10Images, indices: np.ndarray, *, cache_dir: str | Path | None = None
) -> np.ndarray | LazyImages:
    """Images ``indices`` of ``images``: ``(len(indices), 32, 32, 3)`` uint8.

    With ``cache_dir``, all images of the zip are decoded once into
    ``cache_dir/cifar10_<zip stem>_<zip bytes>.npy`` (150 MB for the 50k training images)
    and later calls read that file; without it a :class:`LazyImages` decodes each image when
    it is used (a smoke run touching 48 images decodes 48).
    """
    if cache_dir is None:
        return LazyImages(images, indices)
    size = images.zip_path.stat().st_size
    path = Path(cache_dir).expanduser() / f"cifar10_{images.zip_path.stem}_{size}.npy"
    if path.is_file():
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
        if arr.shape != (len(images), 32, 32, 3) or arr.dtype != np.uint8:
            raise ValueError(
                f"image cache {str(path)!r} must hold uint8 ({len(images)}, 32, 32, 3); "
                f"got {arr.dtype} {arr.shape} (delete it to rebuild)"
            )
    else:
        arr = images.array()
        with atomic_write(path, "wb") as f:
            np.save(f, arr, allow_pickle=False)
    return np.ascontiguousarray(arr[np.asarray(indices)])


def load_arrays(
    data_root: str | Path,
    label_set: str,
    *,
    train_size: int | None = None,
    subset_seed: int = 0,
    cache_dir: str | Path | None = None,
) -> dict[str, np.ndarray]:
    """Training images with noisy and clean labels, and the clean test split, as arrays.

    Args:
        data_root: folder holding ``cifar10/`` and ``cifar10n/``.
        label_set: a CIFAR-10N label set (``aggre``, ``random1..3``, ``worst``, ``clean``).
        train_size: keep a random subset of this many training images (``None``: all 50,000).
        subset_seed: seed of that subset (fixed, so every run sees the same images).
        cache_dir: decode each zip once into a ``.npy`` here (see :func:`decode_images`).

    Returns:
        ``x (n, 32, 32, 3) uint8``, ``noisy (n,)``, ``clean (n,)``, ``index (n,)`` (zip order
        position), ``x_test (10000, 32, 32, 3)``, ``y_test (10000,)``.
    """
    images, noisy = load_cifar10n(data_root, label_set)
    n = len(images)
    if train_size is not None and not 0 < train_size <= n:
        raise ValueError(f"train_size must be in [1, {n}]; got {train_size}")
    index = np.arange(n)
    if train_size is not None and train_size < n:
        index = np.sort(np.random.default_rng(subset_seed).permutation(n)[:train_size])
    test = read_cifar10(Path(data_root) / "cifar10", "test")
    return {
        "x": decode_images(images, index, cache_dir=cache_dir),
        "noisy": noisy[index],
        "clean": images.labels[index],
        "index": index,
        "x_test": decode_images(test, np.arange(len(test)), cache_dir=cache_dir),
        "y_test": test.labels.copy(),
    }


def to_float(x: torch.Tensor) -> torch.Tensor:
    """``uint8 (..., 32, 32, 3)`` -> normalised float ``(..., 3, 32, 32)``."""
    mean = torch.tensor(CIFAR10_MEAN).view(3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(3, 1, 1)
    return (x.movedim(-1, -3).float() / 255.0 - mean) / std


def augment(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random 4-pixel-padded 32x32 crop and horizontal flip of a batch ``(B, 3, H, W)``."""
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4), mode="reflect")
    dy = torch.randint(0, 9, (b,), generator=generator)
    dx = torch.randint(0, 9, (b,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None].expand(b, x.shape[1], h, w + 8)
    out = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :].expand(b, x.shape[1], h, w)
    out = out.gather(3, cols)
    flip = torch.rand(b, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


class Cifar10NDataset(Dataset):
    """Items ``{"x": (3, 32, 32) float, "target", "clean_target", "example_id"}``.

    ``x`` is stored as uint8 and normalised per item; augmentation is applied to batches by
    the adapter (:func:`augment`), not here.
    """

    def __init__(self, x: np.ndarray | LazyImages, target: np.ndarray, clean: np.ndarray) -> None:
        if len(target) != len(x) or len(clean) != len(x):
            raise ValueError(
                f"label arrays must have length {len(x)} (the number of images); got "
                f"target {len(target)}, clean {len(clean)}"
            )
        self.x = x if isinstance(x, LazyImages) else torch.from_numpy(np.ascontiguousarray(x))
        self.target = torch.as_tensor(np.asarray(target), dtype=torch.long)
        self.clean = torch.as_tensor(np.asarray(clean), dtype=torch.long)

    def __len__(self) -> int:
        return int(self.target.shape[0])

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {
            "x": to_float(torch.as_tensor(self.x[i])),
            "target": self.target[i],
            "clean_target": self.clean[i],
            "example_id": i,
        }
