"""Pieces shared by the semi-supervised two-network methods (DivideMix, CrossSplit, SplitNet).

* :class:`TwoNetworks`: one ``nn.Module`` holding both networks of a method, so the loop
  builds, prepares, checkpoints, evaluates and saves them as one network 0 (``best_model.pt``
  holds both; ``labelnoise evaluate`` rebuilds it through the method's ``build_model``). In
  eval mode it answers with the *ensemble*: ``log(mean_k softmax(net_k(x)))`` (its softmax is
  the average of the members' softmax, as DivideMix and CrossSplit test); with
  ``ensemble=False`` (or in train mode) with member 0 alone. The one optimizer holds both
  members' parameters: per-parameter updates (SGD, momentum, weight decay, Adam) are those
  of two optimizers; only ``train.max_grad_norm`` clips the two members' joint norm.
* :class:`Batches`: index-plan batches of the training split (collated by the task, moved
  to the device) and per-example predictions of the training split in eval mode.
* :func:`view_fns`: the task's training augmentation (applied explicitly, so two views of an
  example can be drawn and mixed) and a forward pass that does not augment again.

Classification only: the inputs are ``batch["x"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from labelnoise.engine.run import Run

__all__ = ["Batches", "TwoNetworks", "augments", "neg_entropy", "view_fns"]


class TwoNetworks(nn.Module):
    """Two members ``(B, ...) -> (B, C)`` logits; eval forward = log of the mean softmax.

    Args:
        a, b: the two networks (same task model, independent initialisations).
        ensemble: answer with both members in eval mode (default True); False: member 0.
    """

    def __init__(self, a: nn.Module, b: nn.Module, *, ensemble: bool = True) -> None:
        super().__init__()
        self.members = nn.ModuleList([a, b])
        self.ensemble = ensemble

    def forward(self, x: Tensor) -> Tensor:
        if self.training or not self.ensemble:
            return self.members[0](x)
        probs = torch.stack([torch.softmax(m(x).float(), dim=1) for m in self.members])
        return torch.log(probs.mean(0).clamp_min(1e-12))


def neg_entropy(logits: Tensor) -> Tensor:
    """``mean_i sum_c p_ic log p_ic`` (scalar, <= 0): DivideMix's warm-up confidence penalty
    for asymmetric noise (adding it pushes predictions away from one-hot)."""
    logp = torch.log_softmax(logits.float(), dim=1)
    return (logp.exp() * logp).sum(1).mean()


def augments(run: Run) -> bool:
    """Does the task draw random training views (``task.augment`` on image inputs)? Without
    augmentation two views of an example are the same input, so the methods draw one."""
    cfg = run.adapter.config
    x0 = run.splits.train[0]["x"]
    return bool(getattr(cfg, "augment", False)) and x0.dim() == 3


def view_fns(run: Run) -> tuple[Callable[[Tensor], Tensor], Callable[[nn.Module, Tensor], Tensor]]:
    """``(augment, forward)``: ``augment(x)`` draws one training view of image batches when
    the task augments (``task.augment``; identity otherwise, e.g. feature vectors);
    ``forward(model, x) -> (B, C)`` logits without a second augmentation."""
    from labelnoise.tasks.classification import CIFAR_MODELS, augment

    cfg = run.adapter.config
    aug_on = bool(getattr(cfg, "augment", False))
    last = getattr(cfg, "model", "") in CIFAR_MODELS

    def views(x: Tensor) -> Tensor:
        return augment(x) if aug_on and x.dim() == 4 else x

    def forward(model: nn.Module, x: Tensor) -> Tensor:
        if last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return model(x)

    return views, forward


class Batches:
    """The training split of ``run`` by example index (``example_id`` order)."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def collate(self, idx: np.ndarray) -> dict[str, Any]:
        """The task's batch of examples ``idx`` on the run's device."""
        from labelnoise.tasks.base import move_to

        ds = self.run.train_split
        batch = self.run.adapter.collate([ds[int(i)] for i in idx])
        return move_to(batch, self.run.accelerator.device)

    def predictions(self, model: nn.Module) -> tuple[Tensor, Tensor]:
        """``(probs (N, C), labels (N,))`` of the training split: softmax of ``model`` in eval
        mode (no augmentation) and the given labels, in ``example_id`` order."""
        from labelnoise.engine.data import eval_loader
        from labelnoise.tasks.base import move_to

        run = self.run
        n = len(run.train_split)
        loader = eval_loader(run.train_split, run.adapter, batch_size=run.cfg.data.eval_batch_size)
        probs = torch.zeros(n, run.splits.num_classes)
        labels = torch.zeros(n, dtype=torch.long)
        was = model.training
        model.eval()
        with torch.no_grad():
            for batch in loader:
                u = run.adapter.units(model, move_to(batch, run.accelerator.device))
                ids = u.example_id.cpu()
                probs[ids] = torch.softmax(u.pred.float(), dim=1).cpu()
                labels[ids] = u.target.cpu()
        model.train(was)
        return probs, labels
