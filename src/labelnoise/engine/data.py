"""Data loaders for the loops: deterministic per-epoch shuffling (exact resume) and subsets."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from labelnoise.tasks.base import DatasetSplits, TaskAdapter, num_items

__all__ = ["EpochSampler", "Reindexed", "eval_loader", "limit_splits", "make_loader", "num_items"]


class Reindexed(Dataset):
    """The items ``indices`` of ``dataset``, renumbered: ``example_id`` becomes ``0..len-1``.

    ``source_id`` keeps the id the item had in ``dataset``.
    """

    def __init__(self, dataset: Dataset, indices: list[int] | torch.Tensor) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = dict(self.dataset[self.indices[i]])
        item["source_id"] = item.get("example_id", self.indices[i])
        item["example_id"] = i
        return item


def limit_splits(splits: DatasetSplits, limit: int | None, eval_limit: int | None) -> DatasetSplits:
    """Keep the first ``limit`` training and ``eval_limit`` validation/test items."""

    def cut(ds: Dataset | None, n: int | None) -> Dataset | None:
        if ds is None or n is None or n >= num_items(ds):
            return ds
        return Reindexed(ds, list(range(n)))

    train = cut(splits.train, limit)
    assert train is not None  # splits.train is not None
    return DatasetSplits(
        train=train,
        val=cut(splits.val, eval_limit),
        test=cut(splits.test, eval_limit),
        num_classes=splits.num_classes,
        class_names=splits.class_names,
        info=splits.info,
    )


class EpochSampler(Sampler[int]):
    """A permutation of ``range(n)`` drawn from ``(seed, epoch)`` alone, so the order of any
    epoch is reproducible without saving sampler state; ``shuffle=False`` keeps the order."""

    def __init__(self, n: int, *, seed: int, shuffle: bool = True) -> None:
        self.n, self.seed, self.shuffle, self.epoch = n, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        if not self.shuffle:
            return iter(range(self.n))
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())


def make_loader(
    dataset: Dataset,
    adapter: TaskAdapter,
    *,
    batch_size: int,
    seed: int,
    shuffle: bool,
    num_workers: int = 0,
) -> DataLoader:
    """A DataLoader over ``dataset`` with an :class:`EpochSampler` (Accelerate's
    ``loader.set_epoch(epoch)`` reaches it).

    The loader draws its workers' base seed from its own generator, not from the global
    RNG: a run resumed mid-epoch starts a new iterator where the straight run did not, so a
    draw from the global RNG there would shift dropout and augmentation after the resume."""
    sampler = EpochSampler(num_items(dataset), seed=seed, shuffle=shuffle)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=adapter.collate,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
    )
    return loader


def eval_loader(
    dataset: Dataset,
    adapter: TaskAdapter,
    *,
    batch_size: int,
    num_process: int = 1,
    process_index: int = 0,
    num_workers: int = 0,
) -> DataLoader:
    """A sequential loader over this process's share ``process_index::num_process`` of
    ``dataset``: no example is repeated across processes (unlike a padded distributed
    sampler), so gathered evaluation units need no de-duplication. Not for ``prepare``."""
    share = Subset(dataset, range(process_index, num_items(dataset), num_process))
    return DataLoader(
        share,
        batch_size=batch_size,
        shuffle=False,
        collate_fn=adapter.collate,
        num_workers=num_workers,
    )
