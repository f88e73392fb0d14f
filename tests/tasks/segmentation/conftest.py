"""A tiny ISBI-2012-like folder (``<root>/<name>/train/{image,label}/<i>.png``, 0/255 masks)
for engine runs of the segmentation task on synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch


def write_isbi_like(root: Path, *, n: int = 10, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Cells are the bright 4 x 4 blocks of each image (learnable by a 1x1 conv); returns the
    true masks ``(n, size, size)`` int64 (1 = cell, 0 = membrane)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for sub in ("image", "label"):
        (root / "train" / sub).mkdir(parents=True)
    truth = []
    for i in range(n):
        blocks = rng.random((size // 4, size // 4)) < 0.5
        cell = np.kron(blocks, np.ones((4, 4), dtype=bool))
        image = np.where(cell, 200, 40) + rng.integers(0, 20, cell.shape)
        Image.fromarray(image.astype(np.uint8)).save(root / "train" / "image" / f"{i}.png")
        Image.fromarray((cell * 255).astype(np.uint8)).save(root / "train" / "label" / f"{i}.png")
        truth.append(cell.astype(np.int64))
    return torch.from_numpy(np.stack(truth))


@pytest.fixture
def isbi_like(tmp_path):
    """``(data_dir, truth)``: the synthetic dataset ``syn`` under ``tmp_path / "data"``."""
    truth = write_isbi_like(tmp_path / "data" / "syn")
    return tmp_path / "data", truth
