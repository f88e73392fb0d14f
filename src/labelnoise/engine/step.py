"""One optimizer step of the loop: the method's loss, backward, clipping, every network's
optimizer step, under Accelerate's gradient accumulation and autocast. Shared by the loop
(:func:`labelnoise.engine.loop.train`) and the k-fold detection fits
(:mod:`labelnoise.engine.detect`), so both train the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labelnoise.config import RunConfig
from labelnoise.methods.base import Method, Net, StepOutput

__all__ = ["take_step"]


def take_step(
    cfg: RunConfig, accelerator: Any, method: Method, nets: Sequence[Net], batch: Any
) -> StepOutput:
    """Forward + loss (``method.step``), backward, clip (``train.max_grad_norm``, when the
    gradients sync), then ``step()`` and ``zero_grad()`` of every network's optimizer (an
    Accelerate-prepared optimizer only steps when the gradients sync). Returns the step's
    :class:`~labelnoise.methods.base.StepOutput`; the caller steps the schedules when
    ``accelerator.sync_gradients``."""
    acc = accelerator
    with acc.accumulate(*(net.model for net in nets)):
        with acc.autocast():
            out = method.step(batch)
        acc.backward(out.loss)
        if acc.sync_gradients and cfg.train.max_grad_norm is not None:
            for net in nets:
                acc.clip_grad_norm_(net.model.parameters(), cfg.train.max_grad_norm)
        for net in nets:
            net.optimizer.step()
            net.optimizer.zero_grad()
    return out
