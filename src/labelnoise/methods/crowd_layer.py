"""``crowd_layer``: deep learning from crowds with a crowd layer (Rodrigues & Pereira, "Deep
Learning from Crowds", AAAI 2018), the MW variant (one matrix of weights per annotator).

The task's network ends in a softmax over ``C`` classes, ``sigma (B, C)``. The crowd layer
maps it to each annotator's output with that annotator's ``C x C`` matrix ``W_a``
(initialised to the identity, as the authors' ``init_identities``)::

    logits_a = sigma @ W_a                      # (C,), row i of W_a: true class i
    loss = mean over observed (item, annotator) answers z of  CE(softmax(logits_a), z)

and the whole stack is trained end to end by back-propagation (the annotators' answers are
never aggregated). Evaluation, model selection and the saved model use the bare network
(the crowd layer is dropped at test time, as in the paper). The matrices live in the model
(:class:`CrowdLayerNet`), so the optimizer steps them and checkpoints carry them; the method
keeps no other state.

Input: the classification task's ``annotations (B, S)`` / ``annotator_ids (B, S)`` (``-1``:
no answer; ``task.label_set: annotators`` for CIFAR-10N or ``task.annotations`` for your
table). Data without annotators trains one matrix (every target one annotator's answer).
Simplified: only MW (not the VW / VB / SW variants); the loss averages over the observed
answers (the Keras code's masked loss averages over all slots, missing ones counting 0); the
configured ``loss`` and ``selector`` are not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labelnoise.common.units import Units
from labelnoise.methods._answers import num_annotators, observed_pairs
from labelnoise.methods.base import Method, StepOutput

__all__ = ["CrowdLayer", "CrowdLayerNet", "CrowdLayerOptions", "crowd_layer_loss"]


@dataclass
class CrowdLayerOptions:
    """Options of ``method: {name: crowd_layer, ...}``.

    Attributes:
        num_annotators: matrices to keep (``>= 1``); ``None`` (default): the task's number of
            annotators (``info["num_annotators"]``; 1 for data without annotators).

    Raises:
        ValueError: naming the field (``method.num_annotators``) and the received value.
    """

    num_annotators: int | None = None

    def __post_init__(self) -> None:
        n = self.num_annotators
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ValueError(f"method.num_annotators must be an integer >= 1 or null; got {n!r}")


def crowd_layer_loss(
    logits: Tensor, kernel: Tensor, rows: Tensor, annotator: Tensor, label: Tensor
) -> Tensor:
    """``(P,)`` cross-entropy of each observed answer through its annotator's matrix.

    Args:
        logits: ``(B, C)`` the network's class logits (``sigma = softmax(logits)``).
        kernel: ``(A, C, C)`` the annotators' matrices ``W_a``.
        rows, annotator, label: ``(P,)`` the answers' item (row of ``logits``), annotator
            and answered class.
    """
    sigma = logits.float().softmax(-1)[rows]  # (P, C)
    out = torch.bmm(sigma.unsqueeze(1), kernel[annotator].float()).squeeze(1)  # (P, C)
    return F.cross_entropy(out, label, reduction="none")


class CrowdLayerNet(nn.Module):
    """The task's network plus the crowd layer's ``kernel (A, C, C)`` (identity-initialised).
    ``forward(x)`` is the bare network's; the kernel only enters the training loss."""

    def __init__(self, net: nn.Module, num_annotators: int, num_classes: int) -> None:
        super().__init__()
        self.net = net
        eye = torch.eye(num_classes).expand(num_annotators, num_classes, num_classes)
        self.kernel = nn.Parameter(eye.clone())

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class CrowdLayer(Method):
    """The network trained through per-annotator matrices on every answer (module doc)."""

    name = "crowd_layer"
    Options = CrowdLayerOptions
    tasks = frozenset({"classification"})

    def build_model(self, splits: Any) -> nn.Module:
        self.num_annotators = num_annotators(splits, self.options.num_annotators, self.name)
        net = self.run.adapter.build_model(splits)
        return CrowdLayerNet(net, self.num_annotators, splits.num_classes)

    def step(self, batch: Any) -> StepOutput:
        model = self.nets[0].model
        kernel = self.run.accelerator.unwrap_model(model).kernel
        units: Units = self.run.adapter.units(model, batch)
        rows, annotator, label = observed_pairs(batch, kernel.shape[0])
        pair_loss = crowd_layer_loss(units.pred, kernel, rows, annotator, label)
        self.check_finite(pair_loss)
        b = units.pred.shape[0]
        per_item = torch.zeros(b, device=pair_loss.device).index_add(0, rows, pair_loss.detach())
        count = torch.bincount(rows, minlength=b).clamp_min(1)
        loss = pair_loss.sum() / max(len(pair_loss), 1)
        return StepOutput(loss, units, per_item / count)
