"""Self-distillation from an EMA teacher for edge detection with noisy labels.

An exponential moving average of the network's weights (the *mean teacher* of Tarvainen &
Valpola, NeurIPS 2017; decay 0.99 per step) predicts soft edge probabilities; after a warm-up
the training target of every labelled pixel becomes ``(1 - alpha) * y + alpha * p_teacher``
(soft bootstrapping, Reed et al., ICLR 2015 workshop; progressive self-knowledge distillation,
Kim et al., ICCV 2021). With one annotator per image the label misses the edges other
annotators draw and carries the annotator's own ones; the teacher's probabilities, averaged
over many images and steps, pull the target towards what annotators agree on.

``alpha`` ramps linearly from 0 at the end of the warm-up to ``alpha`` over ``ramp_epochs``
epochs (PS-KD's linear schedule; its final value 0.8). At evaluation the network answers
with the student's weights (default) or the teacher's (``eval_teacher=True``, as Mean Teacher
reports; with a short budget the teacher lags behind a still-improving student).

Trained by ``method: ema_distill`` (:mod:`labelnoise.methods.ema_distill`), which builds this
module around the task's network; the teacher's weights and the images-seen counter are part
of the module's state, so checkpoints carry them.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from labelnoise.common.units import IGNORE_INDEX

__all__ = ["MeanTeacherEdgeNet"]


class MeanTeacherEdgeNet(nn.Module):
    """Student edge network + its EMA teacher.

    Args:
        student: ``(N, 3, H, W) -> (N, 1, H, W)`` logits.
        decay: EMA decay per training step.
        alpha: final weight of the teacher's probability in the target.
        warmup_images: training images seen before distillation starts (``alpha = 0``).
        ramp_images: images over which ``alpha`` then grows linearly to its final value.
        eval_teacher: answer with the teacher at evaluation (else the student).
    """

    seen: Tensor  # buffer: training images seen

    def __init__(
        self,
        student: nn.Module,
        *,
        decay: float = 0.99,
        alpha: float = 0.8,
        warmup_images: int = 0,
        ramp_images: int = 0,
        eval_teacher: bool = False,
    ) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1); got {decay}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1]; got {alpha}")
        self.student = student
        self.teacher = copy.deepcopy(student).requires_grad_(False)
        self.decay, self.alpha, self.eval_teacher = decay, alpha, eval_teacher
        self.warmup_images, self.ramp_images = warmup_images, ramp_images
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))

    def forward(self, image: Tensor) -> Tensor:
        if self.training or not self.eval_teacher:
            return self.student(image)
        return self.teacher(image)

    def current_alpha(self) -> float:
        """The teacher's weight in the target after ``seen`` training images."""
        past = int(self.seen) - self.warmup_images
        if past < 0:
            return 0.0
        if self.ramp_images <= 0:
            return self.alpha
        return self.alpha * min(1.0, past / self.ramp_images)

    @torch.no_grad()
    def update_teacher(self) -> None:
        """``teacher <- decay * teacher + (1 - decay) * student`` (float state; others copied)."""
        s_state = self.student.state_dict()
        for k, t in self.teacher.state_dict().items():
            s = s_state[k]
            if t.is_floating_point():
                t.mul_(self.decay).add_(s.detach(), alpha=1 - self.decay)
            else:
                t.copy_(s)

    def advance(self, images: int) -> None:
        """Before a training step on ``images`` images: update the teacher from the student's
        current weights, then count the images."""
        self.update_teacher()
        self.seen += images

    def soft_target(self, image: Tensor, target: Tensor) -> Tensor:
        """The training target of ``image``: ``target (N, 1, H, W)`` in {0, 1} (or
        ``IGNORE_INDEX``) itself while ``alpha`` is 0, else the float mix
        ``(1 - alpha) * target + alpha * sigmoid(teacher(image))`` (``IGNORE_INDEX`` kept)."""
        a = self.current_alpha()
        if a == 0.0:
            return target
        self.teacher.eval()
        with torch.no_grad():
            p = torch.sigmoid(self.teacher(image).float())
        soft = (1 - a) * target.to(p.dtype) + a * p
        return torch.where(target == IGNORE_INDEX, target.to(p.dtype), soft)

    def train_logits(self, image: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """``(student logits, target)`` of one training step: :meth:`advance`, the student's
        logits, :meth:`soft_target` (what ``method: ema_distill`` does through the engine)."""
        self.advance(image.shape[0])
        logits = self.student(image)
        return logits, self.soft_target(image, target)
