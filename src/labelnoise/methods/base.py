"""The contract between the one training loop (:func:`labelnoise.engine.train`) and a method.

A method is what changes how a run learns from its noisy labels: which networks are trained,
what one step's loss is, what happens at the end of an epoch (relabelling, re-dividing the
data), and what the training split is (pre-corrected or pruned labels, pseudo-labels). The
loop owns everything else: the run directory, the loaders, ``accelerator.prepare``, gradient
accumulation, clipping, the optimizer and scheduler steps, evaluation, model selection,
checkpoints, detection and outputs. Network 0 is the one evaluated, selected and saved.

Hooks, in the order the loop calls them::

    method = METHODS[name](options, run)
    train_split = method.train_dataset(run.splits.train)   # before the loaders are built
    model = method.build_model(run.splits)                 # each network (default: the task's)
    method.setup(nets, selector)                           # prepared networks
    for epoch:
        batches = method.epoch_batches(epoch, skip)        # None: the loop's own loader
        for batch in batches:
            out = method.step(batch)                       # forward + loss (under autocast)
            backward(out.loss); step every network's optimizer
        method.on_epoch_end(epoch)
    method.after_training()                                # the selected network is loaded

A method's state (``state_dict`` / ``load_state_dict``) goes into every checkpoint, so a run
killed at any point resumes exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from labelnoise.common.units import Units

if TYPE_CHECKING:
    from labelnoise.config import RunConfig
    from labelnoise.engine.run import Run

__all__ = [
    "Method",
    "Net",
    "NoOptions",
    "Selector",
    "StepOutput",
    "TwoNetworkSelector",
    "UnitLoss",
    "weighted_mean",
]


@runtime_checkable
class UnitLoss(Protocol):
    """A core loss module keyed per unit: ``loss_fn(pred, target, loss_id) -> (U,)``."""

    def __call__(self, pred: Tensor, target: Tensor, loss_id: Tensor | None = None) -> Tensor: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any], /) -> Any: ...


@runtime_checkable
class Selector(Protocol):
    """A core selector: ``selector(unit_loss, example_id, step=, logits=, target=) -> (U,)``
    weights in ``[0, 1]`` (see :mod:`labelnoise.common.selection`)."""

    def __call__(
        self,
        unit_loss: Tensor,
        example_id: Tensor,
        *,
        step: int,
        logits: Tensor | None = None,
        target: Tensor | None = None,
    ) -> Tensor: ...

    def on_epoch_end(self, epoch: int, /) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any], /) -> Any: ...


@runtime_checkable
class TwoNetworkSelector(Selector, Protocol):
    """A selector that also picks, from two networks' losses, what each other trains on."""

    def select(
        self,
        loss_a: Tensor,
        loss_b: Tensor,
        example_id: Tensor,
        *,
        step: int,
        logits_a: Tensor | None = None,
        logits_b: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]: ...


@dataclass
class Net:
    """One trained network with its optimizer, LR schedule and (possibly stateful) loss.

    ``model`` and ``optimizer`` are the prepared (Accelerate-wrapped) objects.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    loss_fn: UnitLoss


@dataclass
class StepOutput:
    """What :meth:`Method.step` returns.

    Attributes:
        loss: the scalar the loop back-propagates.
        units: network 0's units of the batch (training dynamics, label issues); None when
            the step has no per-example units (e.g. a mixup step).
        unit_loss: ``(U,)`` network 0's per-unit loss for ``units``.
    """

    loss: Tensor
    units: Units | None = None
    unit_loss: Tensor | None = None


@dataclass
class NoOptions:
    """A method without options."""


def weighted_mean(w: Tensor, unit_loss: Tensor) -> Tensor:
    """``sum(w * loss) / max(sum(w), 1)``: the loop's weighted unit loss."""
    return (w * unit_loss).sum() / w.sum().clamp_min(1.0)


class Method:
    """Base class of every ``methods/`` entry (see the module docstring for the hooks).

    Class attributes:
        name: the recipe's ``method.name``.
        Options: dataclass of the recipe's ``method:`` options (checked at config time;
            errors name the dotted key ``method.<field>``).
        tasks: the task names it runs on (None: every task).
        num_networks: networks the loop builds, prepares and steps (network 0 is evaluated);
            an instance may set it from its options in ``__init__``.
        single_process: refuse ``accelerate launch`` with more than one process.
    """

    name: ClassVar[str]
    Options: ClassVar[type] = NoOptions
    tasks: ClassVar[frozenset[str] | None] = None
    num_networks: int = 1  # a method may set it per instance from its options
    single_process: ClassVar[bool] = False

    selector: Selector  # the run's selector, set by :meth:`setup`

    def __init__(self, options: Any, run: Run) -> None:
        self.options = options
        self.run = run
        self.nets: list[Net] = []

    @classmethod
    def check_config(cls, cfg: RunConfig) -> None:
        """Config-time checks beyond the options' types (e.g. which selector is needed);
        raise ``ValueError`` naming the dotted key. Default: nothing."""

    # ----------------------------------------------------------------------------- hooks

    def train_dataset(self, train: Dataset) -> Dataset:
        """The training split the loop trains on (default: the task's, unchanged)."""
        return train

    def build_model(self, splits: Any) -> nn.Module:
        """One network's module, built before the optimizer and ``accelerator.prepare``
        (default: the task's ``adapter.build_model(splits)``). A method that trains extra
        modules with the network (PNT-Edge's shift network) or keeps extra weights in it (an
        EMA teacher) wraps the task's model here, so they are optimized, prepared and
        checkpointed with it."""
        return self.run.adapter.build_model(splits)

    def setup(self, nets: Sequence[Net], selector: Selector) -> None:
        """Keep the prepared networks and the run's selector (called once, before training)."""
        self.nets = list(nets)
        self.selector = selector

    def epoch_batches(self, epoch: int, skip: int) -> Iterable[Any] | None:
        """This epoch's batches after the first ``skip`` (resume), or None for the loop's own
        shuffled loader. A method that returns batches moves them to the device itself."""
        return None

    def step(self, batch: Any) -> StepOutput:
        """Forward pass and loss of one batch (called under autocast)."""
        raise NotImplementedError

    def on_epoch_end(self, epoch: int) -> None:
        """After each epoch's last step (``epoch``: 0-based), before evaluation."""

    def after_training(self) -> None:
        """After the last epoch, with network 0's selected weights loaded; write extra
        outputs into ``run.run_dir`` (main process)."""

    def label_issues(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The method's own detection over the training split, read after training when
        ``detection.method: method``: ``(quality (N,) float, is_issue (N,) bool)`` in the
        training split's example order (higher quality = cleaner). Default: None; a method
        that overrides it flags examples itself (:meth:`flags_issues`)."""
        return None

    @classmethod
    def flags_issues(cls) -> bool:
        """Does the method give its own detection (overrides :meth:`label_issues`)?"""
        return cls.label_issues is not Method.label_issues

    def state_dict(self) -> dict[str, Any]:
        """The method's own state for checkpoints (tensors, numbers, lists; no objects)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""

    # ----------------------------------------------------------------------------- helpers

    def check_finite(self, unit_loss: Tensor) -> None:
        """Stop the run on every process when ``unit_loss`` holds NaN or inf."""
        from labelnoise.engine.run import stop_if_not_finite

        stop_if_not_finite(self.run, unit_loss)
