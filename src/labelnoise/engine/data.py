"""Data loaders for the loops: deterministic per-epoch shuffling (exact resume) and subsets."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from labelnoise.tasks.base import DatasetSplits, TaskAdapter, num_items

__all__ = [
    "EpochSampler",
    "Reindexed",
    "TensorBatches",
    "dataset_tensors",
    "eval_loader",
    "limit_splits",
    "make_loader",
    "num_items",
    "tensor_batches",
]


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

    def tensors(self) -> dict[str, torch.Tensor] | None:
        """The columns of :meth:`__getitem__` (see :func:`dataset_tensors`), or None when
        the wrapped dataset has none."""
        base = dataset_tensors(self.dataset)
        if base is None:
            return None
        idx = torch.as_tensor(self.indices, dtype=torch.long)
        cols = {k: v[idx] for k, v in base.items()}
        cols["source_id"] = cols["example_id"]
        cols["example_id"] = torch.arange(len(self.indices))
        return cols


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
        return iter(self.order().tolist())

    def order(self) -> torch.Tensor:
        """This epoch's order as an ``(n,)`` int64 tensor (what iterating gives)."""
        if not self.shuffle:
            return torch.arange(self.n)
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return torch.randperm(self.n, generator=g)


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


def dataset_tensors(dataset: Any) -> dict[str, torch.Tensor] | None:
    """The in-memory columns of ``dataset``, when it offers them: ``dataset.tensors()``
    returns ``{key: (N, ...) tensor}`` such that ``dataset[i][key] == cols[key][i]`` for every
    key of every item (``example_id`` included, as an int64 column). Then
    ``{k: v[idx] for k, v in cols.items()}`` is exactly the default collation of the items
    ``idx``. None when the dataset has no ``tensors()`` or it returns None."""
    get = getattr(dataset, "tensors", None)
    if not callable(get):
        return None
    cols = get()
    if cols is None:
        return None
    n = num_items(dataset)
    for k, v in cols.items():
        if not isinstance(v, torch.Tensor) or v.dim() == 0 or v.shape[0] != n:
            raise ValueError(
                f"{type(dataset).__name__}.tensors() must return (N={n}, ...) tensors; "
                f"got {k!r} of shape {tuple(getattr(v, 'shape', ()))}"
            )
    return cols


class TensorBatches:
    """The batches of an in-memory dataset, cut from its columns (:func:`dataset_tensors`)
    by the :class:`EpochSampler`'s permutation: the same batches, in the same order, as
    :func:`make_loader`'s DataLoader gives (same sampler, same batch size, no drop), without
    per-item ``__getitem__``, collation or workers. The columns move to ``device`` once.

    ``set_epoch(epoch)`` picks the epoch's permutation; ``skip(k)`` iterates from batch
    ``k`` on (an exact mid-epoch resume); ``batch_size >= N`` gives one full batch."""

    def __init__(
        self,
        columns: dict[str, torch.Tensor],
        *,
        batch_size: int,
        seed: int,
        shuffle: bool = True,
        device: torch.device | str = "cpu",
    ) -> None:
        self.columns = {k: v.to(device) for k, v in columns.items()}
        self.n = int(next(iter(columns.values())).shape[0])
        self.batch_size = batch_size
        self.sampler = EpochSampler(self.n, seed=seed, shuffle=shuffle)
        self.device = torch.device(device)
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def skip(self, k: int) -> TensorBatches:
        """Iterate this epoch from batch ``k`` on (the next iteration only)."""
        self._skip = k
        return self

    def __iter__(self):
        skip, self._skip = self._skip, 0
        if self.n <= self.batch_size and not self.sampler.shuffle:  # one full batch as is
            if not skip:
                yield dict(self.columns)
            return
        order = self.sampler.order().to(self.device)  # no per-item Python work
        for start in range(skip * self.batch_size, self.n, self.batch_size):
            idx = order[start : start + self.batch_size]
            yield {k: v.index_select(0, idx) for k, v in self.columns.items()}


def tensor_batches(
    dataset: Dataset,
    adapter: TaskAdapter,
    *,
    batch_size: int,
    seed: int,
    device: torch.device | str,
    num_processes: int = 1,
    grad_accum: int = 1,
) -> TensorBatches | None:
    """:class:`TensorBatches` over ``dataset`` when the fast path gives exactly the
    DataLoader's batches, else None (use :func:`make_loader`). It needs: the dataset's
    columns (:func:`dataset_tensors`); the adapter's collation left at the default or
    declared equal to cutting the columns (``TaskAdapter.collates_columns``); one process
    (a prepared DataLoader shards the batches across processes; the fast path does not);
    no gradient accumulation (Accelerate syncs the gradients at the end of a prepared
    DataLoader, which it cannot see here)."""
    if num_processes != 1 or grad_accum != 1:
        return None
    if type(adapter).collate is not TaskAdapter.collate and not adapter.collates_columns:
        return None
    cols = dataset_tensors(dataset)
    if cols is None:
        return None
    return TensorBatches(cols, batch_size=batch_size, seed=seed, shuffle=True, device=device)
