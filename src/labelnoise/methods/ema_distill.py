"""``ema_distill``: self-distillation from an EMA teacher for edge detection with noisy labels.

:meth:`build_model` wraps the task's edge network in
:class:`~labelnoise.tasks.edges.self_distill.MeanTeacherEdgeNet`: the student and an
exponential moving average of its weights (the *mean teacher* of Tarvainen & Valpola,
NeurIPS 2017; ``decay`` per step). One step::

    model.advance(N)                      # teacher <- decay * teacher + (1 - decay) * student
    t = (1 - a) * y + a * sigmoid(teacher(image))     # soft target on labelled pixels
    units = adapter.train_units(student(image), y, soft=t)   # class balance, tolerance
    loss = weighted mean of loss_fn(units) under the selector      (the standard step)

(soft bootstrapping, Reed et al., ICLR 2015 workshop; progressive self-knowledge
distillation, Kim et al., ICCV 2021). ``a`` is 0 for the first ``warmup_epochs`` x
``len(train)`` training images, then ramps linearly to ``alpha`` over ``ramp_epochs`` epochs
(PS-KD's linear schedule; its final value 0.8). With one annotator per image the label misses
the edges other annotators draw; the teacher, averaged over many steps, pulls the target
towards what annotators agree on. Evaluation answers with the student (default) or the
teacher (``eval_teacher``, as Mean Teacher reports).

The teacher's weights and the images-seen counter live in the model (a frozen submodule and a
buffer), so every checkpoint and ``best_model.pt`` carries them and a resumed run continues
exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from labelnoise.methods.base import StepOutput
from labelnoise.methods.standard import Standard
from labelnoise.tasks.edges.self_distill import MeanTeacherEdgeNet

__all__ = ["EmaDistill", "EmaDistillOptions"]


@dataclass
class EmaDistillOptions:
    """Options of ``method: {name: ema_distill, ...}``.

    Attributes:
        alpha: final weight of the teacher's probability in the target, in ``[0, 1]``.
            Default 0.8.
        decay: EMA decay per training step, in ``[0, 1)``. Default 0.99.
        warmup_epochs: epochs of hard labels before distillation starts (``>= 0``). Default 2.
        ramp_epochs: epochs over which the weight then grows to ``alpha`` (``>= 0``; 0: at
            once). Default 4.
        eval_teacher: evaluate (and select, save) with the teacher's weights. Default False.

    Raises:
        ValueError: naming the field (``method.alpha``, ...), the expected and the received
            value.
    """

    alpha: float = 0.8
    decay: float = 0.99
    warmup_epochs: float = 2.0
    ramp_epochs: float = 4.0
    eval_teacher: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"method.alpha must be in [0, 1]; got {self.alpha!r}")
        if not 0.0 <= self.decay < 1.0:
            raise ValueError(f"method.decay must be in [0, 1); got {self.decay!r}")
        for key in ("warmup_epochs", "ramp_epochs"):
            if not getattr(self, key) >= 0:
                raise ValueError(f"method.{key} must be >= 0; got {getattr(self, key)!r}")


class EmaDistill(Standard):
    """The standard step on the student with the EMA teacher's soft targets (module doc)."""

    name = "ema_distill"
    Options = EmaDistillOptions
    tasks = frozenset({"edges"})

    def build_model(self, splits: Any) -> nn.Module:
        o, n = self.options, len(splits.train)
        return MeanTeacherEdgeNet(
            self.run.adapter.build_model(splits),
            decay=o.decay,
            alpha=o.alpha,
            warmup_images=round(o.warmup_epochs * n),
            ramp_images=round(o.ramp_epochs * n),
            eval_teacher=o.eval_teacher,
        )

    def step(self, batch: Any) -> StepOutput:
        model = self.nets[0].model
        net = self.run.accelerator.unwrap_model(model)
        image, target = batch["image"], batch["target"]
        net.advance(image.shape[0])
        soft = net.soft_target(image, target)
        if soft is not target:
            batch = {**batch, "soft_target": soft}
        return self.weighted_step(model, batch)
