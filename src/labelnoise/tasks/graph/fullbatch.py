"""A tight full-batch node-classification loop with best-clean-validation model selection.

The generic engine (``labelnoise.train``) runs the recipes through :class:`GraphAdapter`; this
loop is what benchmarks use for speed: one forward pass over the whole graph per epoch, the
per-node loss of a core loss (``labelnoise.common.losses.build_loss``) and, optionally, the
weights of a core selector (``labelnoise.common.selection.build_selector``) over the training
nodes as units, and the checkpoint of the best validation accuracy (ERASE's protocol).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from labelnoise.common.units import flatten_units
from labelnoise.tasks.graph.models import PPRMLP

__all__ = ["FitResult", "fit_fullbatch"]


@dataclass(frozen=True)
class FitResult:
    """Outcome of :func:`fit_fullbatch`.

    Attributes:
        logits: ``(N, K)`` logits of the selected checkpoint (eval mode).
        val_accuracy: its validation accuracy.
        best_epoch: the epoch it was taken at (0-based).
    """

    logits: Tensor
    val_accuracy: float
    best_epoch: int


def fit_fullbatch(
    model: nn.Module,
    x: Tensor,
    edge_index: Tensor,
    train_idx: Tensor,
    targets: Tensor,
    val_idx: Tensor,
    val_targets: Tensor,
    *,
    epochs: int = 200,
    lr: float = 0.01,
    weight_decay: float = 5e-4,
    loss: Callable[..., Tensor] | None = None,
    selector: Callable[..., Tensor] | None = None,
    sample_weight: Tensor | None = None,
    seed: int = 0,
) -> FitResult:
    """Train ``model`` full-batch; keep the state of best validation accuracy.

    Args:
        model: ``model(x, edge_index) -> (N, K)``; re-initialised from ``seed`` here.
        x: ``(N, F)`` features (dense or sparse COO). edge_index: ``(2, E)``.
        train_idx: ``(M,)`` training node ids; targets: ``(M,)`` long or ``(M, K)`` soft.
        val_idx, val_targets: clean validation nodes and labels (selection only).
        loss: per-unit loss ``m(pred, target, example_id) -> (M,)`` (default cross-entropy).
        selector: core selector ``s(unit_loss, example_id, step=, logits=, target=)`` giving
            per-node weights; ``on_epoch_end`` is called when it has one.
        sample_weight: optional fixed ``(M,)`` weights.
        seed: seeds the parameter initialisation and dropout (a local generator state).
    """
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for module in model.modules():
            if module is not model and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        return _fit(
            model, x, edge_index, train_idx, targets, val_idx, val_targets, epochs, lr,
            weight_decay, loss, selector, sample_weight,
        )  # fmt: skip


def _rows(model: nn.Module, x: Tensor, edge_index: Tensor, idx: Tensor) -> Tensor:
    """Logits of the ``idx`` nodes; a decoupled model needs only their rows."""
    if isinstance(model, PPRMLP):
        return model(x[idx])
    return model(x, edge_index)[idx]


def _fit(model, x, edge_index, train_idx, targets, val_idx, val_targets, epochs, lr, wd,
         loss, selector, sample_weight) -> FitResult:  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
    ids = torch.arange(train_idx.numel())
    best_acc, best_epoch, best_state = -1.0, 0, None
    for epoch in range(epochs):
        model.train()
        opt.zero_grad()
        units = flatten_units(_rows(model, x, edge_index, train_idx), targets, example_id=ids)
        if loss is None:
            unit_loss = torch.nn.functional.cross_entropy(
                units.pred, units.target, reduction="none"
            )
        else:
            unit_loss = loss(units.pred, units.target, units.example_id)
        w = torch.ones_like(unit_loss) if sample_weight is None else sample_weight
        if selector is not None:
            w = w * selector(
                unit_loss.detach(), units.example_id, step=epoch, logits=units.pred.detach(),
                target=units.target,
            )  # fmt: skip
        ((w * unit_loss).sum() / w.sum().clamp_min(1.0)).backward()
        opt.step()
        if selector is not None and hasattr(selector, "on_epoch_end"):
            selector.on_epoch_end(epoch)
        model.eval()
        with torch.no_grad():
            pred = _rows(model, x, edge_index, val_idx).argmax(1)
            acc = float((pred == val_targets).float().mean())
        if acc > best_acc:
            best_acc, best_epoch = acc, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        logits = model(x, edge_index)
    return FitResult(logits, best_acc, best_epoch)
