"""The in-memory segmentation loop with core losses/selectors, and boundary-tolerant targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from labelnoise.common.units import IGNORE_INDEX
from labelnoise.tasks.registry import get_task
from labelnoise.tasks.segmentation.boundary import ignore_near_boundary
from labelnoise.tasks.segmentation.loop import fit_segmentation, predict


def _reference_ignore(labels: np.ndarray, k: int) -> np.ndarray:
    """Independent: a pixel is ignored when the max and min class of its window differ."""
    out = labels.copy()
    for i, m in enumerate(labels):
        valid = m != IGNORE_INDEX
        size = 2 * k + 1
        hi = ndimage.maximum_filter(np.where(valid, m, -1), size=size, mode="constant", cval=-1)
        lo = ndimage.minimum_filter(
            np.where(valid, m, 10**6), size=size, mode="constant", cval=10**6
        )
        out[i][(hi != lo) & valid] = IGNORE_INDEX
    return out


@pytest.mark.parametrize("k", [0, 1, 2])
def test_ignore_near_boundary_matches_window_reference(k):
    g = torch.Generator().manual_seed(k)
    labels = torch.randint(0, 3, (2, 12, 12), generator=g)
    labels = torch.repeat_interleave(torch.repeat_interleave(labels[:, :6, :6], 2, 1), 2, 2)
    labels[0, 0, 0] = IGNORE_INDEX
    got = ignore_near_boundary(labels, k=k)
    assert torch.equal(got, torch.from_numpy(_reference_ignore(labels.numpy(), k)))
    assert (got[labels == IGNORE_INDEX] == IGNORE_INDEX).all()
    assert torch.equal(labels, ignore_near_boundary(labels, k=0)) or k > 0


def test_ignore_near_boundary_bad_input():
    with pytest.raises(ValueError, match="k must be >= 0"):
        ignore_near_boundary(torch.zeros(1, 4, 4, dtype=torch.long), k=-1)
    with pytest.raises(ValueError, match="labels must be an integer"):
        ignore_near_boundary(torch.zeros(4, 4), k=1)


def _toy():
    torch.manual_seed(0)
    x = torch.randn(4, 1, 16, 16)
    y = (x[:, 0] > 0).long()
    return x, y


def test_loop_with_pixel_memory_loss_and_selector():
    """ELR keeps one memory slot per pixel (ids follow the flips); a selector weights pixels."""
    x, y = _toy()
    for options in (
        {"loss": "elr", "loss_options": {"lam": 3.0, "beta": 0.7}},
        {"selector": "small_loss", "selector_options": {"forget_rate": 0.2, "num_gradual": 2}},
    ):
        torch.manual_seed(0)
        model = torch.nn.Conv2d(1, 2, 1)
        fit_segmentation(model, x, y, num_classes=2, epochs=8, lr=0.3, **options)
        acc = (predict(model, x).argmax(1) == y).float().mean()
        assert acc > 0.85, options
    with pytest.raises(ValueError, match="name must be one of"):
        fit_segmentation(torch.nn.Conv2d(1, 2, 1), x, y, num_classes=2, selector="nope")


def test_loop_ignores_relaxed_pixels():
    """Relaxed pixels carry no loss: a checkerboard is all boundary, so nothing is learnt."""
    x, y = _toy()
    labels = (torch.arange(16)[:, None] + torch.arange(16)[None]) % 2
    labels = labels.expand(4, 16, 16).clone()
    model = torch.nn.Conv2d(1, 2, 1)
    before = [p.detach().clone() for p in model.parameters()]
    fit_segmentation(model, x, ignore_near_boundary(labels, k=1), num_classes=2, epochs=2)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_adapter_flips_image_and_target_together_in_training_only():
    adapter_cls = get_task("segmentation")
    adapter = adapter_cls(adapter_cls.Config())
    target = torch.randint(0, 2, (2, 6, 6))
    batch = {"image": (2.0 * target - 1.0)[:, None], "target": target, "example_id": [0, 1]}
    batch["example_id"] = torch.tensor(batch["example_id"])
    model = torch.nn.Conv2d(1, 2, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([-1.0, 1.0]).view(2, 1, 1, 1))
        model.bias.zero_()
    model.eval()
    plain = adapter.units(model, batch)
    assert torch.equal(plain.target, target.reshape(-1))
    model.train()
    torch.manual_seed(0)
    orders = set()
    for _ in range(12):
        u = adapter.units(model, batch)
        assert torch.equal(u.pred.argmax(1), u.target)  # pixels stay paired with their labels
        orders.add(tuple(u.target.tolist()))
    assert len(orders) > 1
