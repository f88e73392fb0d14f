"""Fixtures of the CLIP task tests: one tiny random CLIP per session, a tiny ImageFolder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run fastest on one thread on a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_backbone():
    from labelnoise.tasks.clip.backbone import load_clip

    return load_clip("tiny-random")


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    """``root/<class>/<i>.png``: 3 classes x 8 images, 32x32, a colour per class plus noise."""
    root = tmp_path_factory.mktemp("folder")
    rng = np.random.default_rng(0)
    for c, name in enumerate(["cat", "dog", "sea_lion"]):
        (root / name).mkdir()
        for i in range(8):
            base = np.zeros((32, 32, 3)) + 80 * np.eye(3)[c] * 3
            img = np.clip(base + rng.normal(0, 40, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / name / f"{i}.png")
    return root
