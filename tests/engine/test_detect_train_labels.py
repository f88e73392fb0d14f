"""``train_labels`` from a dataset's in-memory columns equals the per-item pass (the only
path before): hard labels, float targets (NaN, -0.0), per-item label vectors, a reindexed
subset; and the values by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from labelnoise.engine.data import Reindexed
from labelnoise.engine.detect import _label_columns, train_labels
from labelnoise.tasks.base import TensorDataset


class _ItemsOnly(Dataset):
    """The same items without ``tensors()``: train_labels takes the per-item pass."""

    def __init__(self, ds):
        self.ds = ds

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        return self.ds[i]


def _same(a, b):
    for x, y in zip(a, b, strict=True):
        if x is None or y is None:
            assert x is None and y is None
        else:
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)


def _cases():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (30,), generator=g)
    noisy = torch.where(torch.rand(30, generator=g) < 0.3, (y + 1) % 4, y)
    f = torch.tensor([0.5, float("nan"), -0.0, 2.0])
    fc = torch.tensor([0.5, float("nan"), 0.0, 2.5])
    v = torch.randint(0, 3, (6, 5), generator=g)
    vc = v.clone()
    vc[2, 4] = (vc[2, 4] + 1) % 3
    return {
        "hard": TensorDataset(torch.randn(30, 2), noisy, y),
        "float": TensorDataset(torch.randn(4, 2), f, fc),
        "vector": TensorDataset(torch.randn(6, 2), v, vc),
        "reindexed": Reindexed(TensorDataset(torch.randn(30, 2), noisy, y), [7, 3, 29, 0, 11]),
    }


@pytest.mark.parametrize("name", ["hard", "float", "vector", "reindexed"])
def test_columns_equal_the_per_item_pass(name):
    ds = _cases()[name]
    assert _label_columns(ds) is not None  # the columns path is taken
    _same(train_labels(ds), train_labels(_ItemsOnly(ds)))


def test_values_by_hand():
    corrupted, noisy, clean = train_labels(_cases()["float"])
    assert corrupted.tolist() == [False, True, False, True]  # NaN != NaN; -0.0 == 0.0
    assert noisy is None and clean is None
    ds = TensorDataset(torch.zeros(3, 1), torch.tensor([1, 2, 0]), torch.tensor([1, 0, 0]))
    corrupted, noisy, clean = train_labels(ds)
    assert corrupted.tolist() == [False, True, False]
    assert noisy.tolist() == [1, 2, 0] and clean.tolist() == [1, 0, 0]
    corrupted, noisy, clean = train_labels(_cases()["vector"])
    assert corrupted.tolist() == [False, False, True, False, False, False] and noisy is None
