"""A tiny BSDS500-format folder (``images/<split>/*.jpg``, ``groundTruth/<split>/*.mat``) for
engine runs of the edges task: dark/bright halves with a vertical edge near the middle, two
annotators that disagree by one pixel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

H, W = 24, 32

RECIPE = {
    "name": "edges_tiny",
    "task": {
        "name": "edges",
        "height": 16,
        "width": 24,
        "val_size": 2,
        "width_mult": 4,
        "eval_thresholds": 5,
        "eval_correspondence": "distance",
    },
    "loss": {"name": "bce"},
    "data": {"batch_size": 2, "eval_batch_size": 4},
    "optim": {"lr": 0.01},
    "train": {"epochs": 3, "select_by": "last", "progress": False, "num_threads": 1},
    "detection": {"method": "none"},
}


def write_bsds(root: Path, *, n_train: int = 8, n_val: int = 2) -> Path:
    """Write the folder under ``root / "bsds500"``; return ``root`` (the data dir)."""
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("val", n_val)):
        (root / "bsds500" / "images" / split).mkdir(parents=True)
        (root / "bsds500" / "groundTruth" / split).mkdir(parents=True)
        for i in range(n):
            col = int(rng.integers(8, W - 8))
            img = np.full((H, W, 3), 40, np.uint8)
            img[:, col:] = 200
            img = np.clip(img + rng.integers(0, 20, img.shape), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / "bsds500" / "images" / split / f"{i}.jpg")
            cell = np.empty((1, 2), dtype=object)
            for k, c in enumerate((col, col - 1)):
                b = np.zeros((H, W), np.uint8)
                b[:, c] = 1
                cell[0, k] = {"Segmentation": np.ones((H, W), np.uint16), "Boundaries": b}
            scipy.io.savemat(
                root / "bsds500" / "groundTruth" / split / f"{i}.mat", {"groundTruth": cell}
            )
    return root
