"""The contract between the generic training loop and a task.

A task adapter turns its data and model into :class:`~labelnoise.common.units.Units`; the loop
(``labelnoise.train``) does everything else -- losses and selectors from the core registries,
optimisation, evaluation, checkpoints, detection. See ``docs/new_task.md``.

Dataset items are dicts. Every item carries ``"example_id"`` (an int, unique within its split,
``0..len-1``) and ``"target"`` (the label the model is trained or evaluated on: noisy for
the training split). Where the clean label is known (simulated noise, or a real-noise dataset
with gold), items also carry ``"clean_target"`` so the loop can score detection and report
clean-label metrics. The engine may subset a split (``data.limit``); it then renumbers
``example_id`` and keeps the original as ``source_id``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from torch.utils.data import Dataset, default_collate

from labelnoise.common.units import Units

__all__ = ["DatasetSplits", "TaskAdapter", "TensorDataset", "num_items"]


def num_items(dataset: Any) -> int:
    """``len(dataset)``; the loop and the tasks need map-style datasets with a length."""
    if not isinstance(dataset, Sized):
        raise TypeError(
            f"datasets must be map-style with __len__; got {type(dataset).__name__} without it"
        )
    return len(dataset)


@dataclass
class DatasetSplits:
    """What :meth:`TaskAdapter.build_datasets` returns.

    Attributes:
        train: training items (noisy ``target``; ``clean_target`` when known).
        val: validation items or None.
        test: clean test items or None.
        num_classes: ``C`` for classification-like tasks (0 for regression).
        class_names: optional display names, ``len == num_classes``.
        info: free-form facts for the report (realised noise rate, dataset sizes, ...).
    """

    train: Dataset
    val: Dataset | None
    test: Dataset | None
    num_classes: int
    class_names: list[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)


class TensorDataset(Dataset):
    """Items ``{"x", "target", "clean_target", "example_id"}`` from in-memory tensors, plus
    ``"weight"`` (a per-example loss weight) when ``weight`` is given."""

    def __init__(
        self,
        x: torch.Tensor,
        target: torch.Tensor,
        clean: torch.Tensor,
        weight: torch.Tensor | None = None,
    ) -> None:
        self.x, self.target, self.clean, self.weight = x, target, clean, weight

    def __len__(self) -> int:
        return int(self.target.shape[0])

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = {
            "x": self.x[i],
            "target": self.target[i],
            "clean_target": self.clean[i],
            "example_id": i,
        }
        if self.weight is not None:
            item["weight"] = self.weight[i]
        return item

    def tensors(self) -> dict[str, torch.Tensor] | None:
        """The items as columns ``{key: (N, ...)}`` (``example_id``: ``arange(N)``): the
        engine's in-memory fast path cuts batches from them (``engine.data.TensorBatches``).
        None for a subclass with its own ``__getitem__`` (its items may differ)."""
        if type(self).__getitem__ is not TensorDataset.__getitem__:
            return None
        cols = {
            "x": self.x,
            "target": self.target,
            "clean_target": self.clean,
            "example_id": torch.arange(len(self)),
        }
        if self.weight is not None:
            cols["weight"] = self.weight
        return cols


class TaskAdapter(ABC):
    """Base class of every task adapter.

    Subclasses set ``name`` and ``Config`` (a dataclass of task options -- data and model --
    with defaults in code; a recipe's ``task:`` section overrides its fields) and implement
    :meth:`build_datasets`, :meth:`build_model` and :meth:`units`.
    """

    name: ClassVar[str]
    Config: ClassVar[type]
    #: the training methods this task accepts (None: every method that declares the task)
    methods: ClassVar[frozenset[str] | None] = None
    #: True when :meth:`collate` of a dataset's items equals its ``tensors()`` columns cut
    #: at the items (the engine then skips the DataLoader; see ``engine.data.TensorBatches``).
    #: An adapter that keeps the default :meth:`collate` needs not set it.
    collates_columns: ClassVar[bool] = False

    def __init__(self, config: Any) -> None:
        self.config = config

    @abstractmethod
    def build_datasets(self, data_dir: Path | None, *, seed: int) -> DatasetSplits:
        """Read (and, if configured, corrupt) the data. ``data_dir``: the recipe's ``data_dir``
        or ``$LABELNOISE_DATA``; None when the task needs no files."""

    @abstractmethod
    def build_model(self, splits: DatasetSplits) -> nn.Module:
        """A fresh model for these splits (called once per network: co-teaching builds two)."""

    def collate(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Batch items; the default is ``torch.utils.data.default_collate``."""
        return default_collate(items)

    @abstractmethod
    def units(
        self, model: nn.Module, batch: dict[str, Any], *, target_key: str = "target"
    ) -> Units:
        """Run ``model`` on ``batch`` and return its units. ``target_key`` picks ``"target"``
        or ``"clean_target"``; ``Units.example_id`` must come from ``batch["example_id"]``.
        An optional ``Units.weight`` ``(U,)`` multiplies the selector's weights in the loop."""

    def num_unit_ids(self, num_examples: int) -> int | None:
        """Size of the ``Units.unit_id`` space of a training set of ``num_examples`` examples,
        when :meth:`units` sets ``unit_id`` (stateful losses then keep one slot per unit, e.g.
        per pixel); default None: units carry no ``unit_id`` and such losses key on
        ``example_id``."""
        return None

    def after_training(self, train_units: Callable[[], Units]) -> None:  # noqa: B027 (optional)
        """Called once after training, with the selected model loaded, before the final
        evaluation (and again by ``labelnoise evaluate``): e.g. to fit a decision rule on the
        training split's predictions.

        ``train_units()`` runs the model over the training split (eval mode, noisy targets,
        full class scores: not passed through :meth:`eval_units`) and returns the gathered
        units; it costs one pass, so call it only when needed. Default: nothing.
        """

    def eval_units(self, units: Units) -> Units:
        """Shrink one evaluation batch's units before the loop keeps and gathers them.

        Default: unchanged. Tasks with very many units (pixels) can return e.g. argmax
        predictions here, which their :meth:`metrics` then reads.
        """
        return units

    def metrics(self, units: Units) -> dict[str, float]:
        """Metrics of gathered evaluation units (all processes, no duplicates).

        Default: unit accuracy for classification. Returned names are plain (``"accuracy"``);
        the loop prefixes the split.
        """
        if units.pred.dim() == 2 and not units.target.is_floating_point():
            correct = (units.pred.argmax(1) == units.target).double()
            return {"accuracy": float(correct.mean()) if correct.numel() else float("nan")}
        err = (units.pred.reshape(-1).double() - units.target.reshape(-1).double()).abs()
        return {"mae": float(err.mean())}

    @property
    def primary_metric(self) -> str:
        """The metric used for model selection and early stopping (higher is better unless
        it is listed in :attr:`lower_is_better`)."""
        return "accuracy"

    lower_is_better: ClassVar[frozenset[str]] = frozenset({"mae", "rmse", "loss"})


def move_to(batch: Any, device: torch.device) -> Any:
    """Move every tensor of a (nested) batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: move_to(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(v, device) for v in batch)
    return batch
