"""Edge-map noise simulators: each corruption does what it says, checked independently."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from labelnoise.common.noise import (
    NoisyTargets,
    displacement_noise,
    drop_segments,
    spurious_edges,
    thickness_noise,
)


def _edges(n=2, h=48, w=64):
    e = torch.zeros(n, h, w, dtype=torch.uint8)
    e[:, 20, 5:60] = 1
    e[:, 5:45, 30] = 1
    e[:, 40, 10:25] = 1
    return e


def _dist_to(mask):
    return ndimage.distance_transform_edt(~np.asarray(mask, bool))


@pytest.mark.parametrize("d", [2.0, 4.0])
def test_displacement_moves_edges_by_at_most_d(d):
    e = _edges()
    r = displacement_noise(e, max_shift=d, seed=0)
    assert isinstance(r, NoisyTargets) and r.noisy.shape == e.shape and r.noisy.dtype == e.dtype
    assert torch.equal(r.is_corrupted, r.noisy != e) and r.noise_rate > 0
    for i in range(len(e)):
        # every noisy pixel is a clean pixel moved by <= d (+ rounding)
        assert _dist_to(e[i])[r.noisy[i].bool().numpy()].max() <= d + np.sqrt(0.5) + 1e-9
    assert torch.equal(displacement_noise(e, max_shift=0.0, seed=0).noisy, e)
    assert torch.equal(r.noisy, displacement_noise(e, max_shift=d, seed=0).noisy)
    assert not torch.equal(r.noisy, displacement_noise(e, max_shift=d, seed=1).noisy)


def test_displacement_is_smooth_neighbours_move_together():
    e = _edges(1)
    r = displacement_noise(e[0], max_shift=4.0, smoothness=16.0, seed=3)
    # a smooth field keeps a line connected-ish: few components compared to pixels
    _, n = ndimage.label(r.noisy.numpy(), structure=np.ones((3, 3)))
    assert n <= 6 and r.noisy.dim() == 2


def test_thicken_and_thin():
    e = _edges(1)
    thick = thickness_noise(e, mode="thicken", radius=2).noisy
    assert (thick >= e).all()
    assert _dist_to(e[0])[thick[0].bool().numpy()].max() <= 2
    thin = thickness_noise(thick, mode="thin").noisy
    assert (thin <= thick).all() and thin.sum() < thick.sum()
    assert _dist_to(thin[0])[e[0].bool().numpy()].max() <= 2  # the centre lines survive


def test_drop_segments_only_removes():
    e = _edges()
    assert torch.equal(drop_segments(e, rate=0.0, seed=0).noisy, e)
    assert drop_segments(e, rate=1.0, seed=0).noisy.sum() == 0
    r = drop_segments(e, rate=0.5, seed=0)
    assert (r.noisy <= e).all() and 0 < r.noisy.sum() < e.sum()
    assert torch.equal(r.is_corrupted, (e == 1) & (r.noisy == 0))


def test_spurious_edges_only_adds():
    e = _edges()
    r = spurious_edges(e, rate=0.5, length=6, seed=0)
    assert (r.noisy >= e).all()
    added = int((r.noisy != e).sum())
    assert 0 < added <= 0.5 * int(e.sum()) + 2 * 6


def test_bad_inputs():
    with pytest.raises(ValueError, match="edges must be binary"):
        displacement_noise(torch.full((4, 4), 2), max_shift=1.0)
    with pytest.raises(ValueError, match=r"edges must have shape"):
        drop_segments(torch.zeros(4), rate=0.1)
    with pytest.raises(ValueError, match="mode must be"):
        thickness_noise(torch.zeros(4, 4), mode="blur")
    with pytest.raises(ValueError, match="rate"):
        drop_segments(torch.zeros(4, 4), rate=1.5)
