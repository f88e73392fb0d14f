import numpy as np
import pytest
import torch

from labelnoise.common.noise import multilabel_noise

TAGS = (torch.rand(20_000, 6, generator=torch.Generator().manual_seed(0)) < 0.3).long()


def test_per_class_drop_and_add_rates():
    drop = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    add = np.array([0.3, 0.0, 0.05, 0.0, 0.1, 0.0])
    out = multilabel_noise(TAGS, drop_rate=drop, add_rate=add, seed=0)
    pos, neg = TAGS == 1, TAGS == 0
    dropped = ((out.noisy == 0) & pos).sum(0) / pos.sum(0)
    added = ((out.noisy == 1) & neg).sum(0) / neg.sum(0)
    np.testing.assert_allclose(dropped.numpy(), drop, atol=0.02)
    np.testing.assert_allclose(added.numpy(), add, atol=0.02)
    assert torch.equal(out.is_corrupted, out.noisy != out.clean)
    assert out.noisy.dtype == TAGS.dtype


def test_swaps_move_tags_to_absent_ones_and_keep_counts():
    out = multilabel_noise(TAGS, swap_rate=0.4, seed=0)
    has_room = (TAGS == 0).sum(1) >= TAGS.sum(1)
    assert torch.equal(out.noisy.sum(1)[has_room], TAGS.sum(1)[has_room])
    lost = ((TAGS == 1) & (out.noisy == 0)).sum() / TAGS.sum()
    assert abs(float(lost) - 0.4) < 0.02
    gained = (TAGS == 0) & (out.noisy == 1)
    assert int(gained.sum()) == int(((TAGS == 1) & (out.noisy == 0)).sum())


def test_full_rows_cannot_swap_and_bool_dtype_kept():
    tags = torch.ones(5, 3, dtype=torch.bool)
    out = multilabel_noise(tags, swap_rate=0.9, seed=0)
    assert torch.equal(out.noisy, tags) and out.noisy.dtype == torch.bool
    assert not out.is_corrupted.any()


def test_no_noise_is_identity():
    out = multilabel_noise(TAGS.numpy().astype(np.float32), seed=0)
    assert torch.equal(out.noisy, out.clean) and out.noise_rate == 0.0


def test_tags_not_binary():
    with pytest.raises(ValueError, match="tags must be 0 or 1; got 2"):
        multilabel_noise(torch.tensor([[0, 2]]), drop_rate=0.1)


def test_tags_nan():
    with pytest.raises(ValueError, match="tags must be 0 or 1; got NaN"):
        multilabel_noise(torch.tensor([[0.0, float("nan")]]))


def test_tags_wrong_shape_and_empty():
    with pytest.raises(ValueError, match=r"tags must have shape \(N, K\); got \(3,\)"):
        multilabel_noise(torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match="tags must not be empty"):
        multilabel_noise(torch.zeros(0, 3))


def test_rates_validated_per_class():
    with pytest.raises(
        ValueError, match=r"drop_rate must be a scalar or have shape \(6,\); got \(2,\)"
    ):
        multilabel_noise(TAGS, drop_rate=[0.1, 0.2])
    with pytest.raises(ValueError, match=r"add_rate must be in \[0, 1\); got 1.0 for class 2"):
        multilabel_noise(TAGS, add_rate=[0, 0, 1.0, 0, 0, 0])
    with pytest.raises(ValueError, match=r"swap_rate must be in \[0, 1\); got -0.1"):
        multilabel_noise(TAGS, swap_rate=-0.1)
