"""One optimizer step of the loop: the method's loss, backward, clipping, every network's
optimizer step, under Accelerate's gradient accumulation and autocast. Shared by the loop
(:func:`labelnoise.engine.loop.train`) and the k-fold detection fits
(:mod:`labelnoise.engine.detect`), so both train the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

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
    if cfg.optim.sam.rho <= 0 and _plain_step(acc):
        # one process, no accumulation, no mixed precision: ``accumulate`` only sets
        # ``sync_gradients`` (``_do_sync``; always True here), ``autocast`` is a null
        # context and ``backward`` is ``loss.backward()`` (the loss divided by 1); done
        # directly: the same arithmetic without three context managers and a dozen
        # attribute lookups per step
        acc._do_sync()
        out = method.step(batch)
        out.loss.backward()
        if cfg.train.max_grad_norm is not None:
            for net in nets:
                acc.clip_grad_norm_(net.model.parameters(), cfg.train.max_grad_norm)
        for net in nets:
            inner = _plain_optimizer(acc, net.optimizer)
            if inner is None:
                net.optimizer.step()
                net.optimizer.zero_grad()
            else:
                inner.step()
                inner.zero_grad(set_to_none=True)
        return out
    with acc.accumulate(*(net.model for net in nets)):
        if cfg.optim.sam.rho > 0:
            out = _sam_passes(cfg, acc, method, nets, batch)
        else:
            with acc.autocast():
                out = method.step(batch)
            acc.backward(out.loss)
        if acc.sync_gradients and cfg.train.max_grad_norm is not None:
            for net in nets:
                acc.clip_grad_norm_(net.model.parameters(), cfg.train.max_grad_norm)
        for net in nets:
            _step_and_zero(acc, net.optimizer)
    return out


def _plain_step(accelerator: Any) -> bool:
    """Whether Accelerate's step machinery reduces to plain PyTorch for ``accelerator``: one
    process (no DDP / DeepSpeed / XLA / Megatron), ``gradient_accumulation_steps == 1``,
    no native mixed precision (so ``autocast()`` is a null context) and no gradient scaler.
    Then :func:`take_step` calls ``_do_sync`` and ``loss.backward()`` itself. Decided once
    per accelerator (its settings are fixed when it is made)."""
    plain = accelerator.__dict__.get("_labelnoise_plain_step")
    if plain is None:
        from accelerate.utils import DistributedType

        plain = (
            accelerator.distributed_type == DistributedType.NO
            and accelerator.gradient_accumulation_steps == 1
            and not accelerator.native_amp
            and accelerator.scaler is None
            and accelerator.mixed_precision == "no"
            and callable(getattr(accelerator, "_do_sync", None))
        )
        accelerator.__dict__["_labelnoise_plain_step"] = plain
    return bool(plain)


def _plain_optimizer(accelerator: Any, optimizer: Any) -> torch.optim.Optimizer | None:
    """The torch optimizer inside Accelerate's wrapper when the wrapper would only forward
    ``step`` / ``zero_grad`` to it (no gradient scaler, not XLA), else None. Decided once
    per optimizer."""
    cached = optimizer.__dict__.get("_labelnoise_plain", False)
    if cached is not False:
        return cached
    from accelerate.optimizer import AcceleratedOptimizer
    from accelerate.utils import DistributedType

    plain = (
        isinstance(optimizer, AcceleratedOptimizer)
        and optimizer.scaler is None
        and accelerator.distributed_type != DistributedType.XLA
        and isinstance(optimizer.optimizer, torch.optim.Optimizer)
    )
    inner = optimizer.optimizer if plain else None
    optimizer.__dict__["_labelnoise_plain"] = inner
    return inner


def _step_and_zero(accelerator: Any, optimizer: Any) -> None:
    """``optimizer.step(); optimizer.zero_grad()`` as Accelerate's optimizer wrapper does
    them, calling the wrapped optimizer directly when the wrapper would only forward the
    calls (:func:`_plain_optimizer`): both then happen only when the gradients sync,
    ``zero_grad(set_to_none=True)``. The wrapper looks up an optional package
    (``importlib.util.find_spec``) twice per ``step`` and inspects ``zero_grad``'s signature
    per call: about a millisecond per step on a CPU, as long as a small model's step."""
    inner = _plain_optimizer(accelerator, optimizer)
    if inner is None:
        optimizer.step()
        optimizer.zero_grad()
    elif accelerator.sync_gradients:
        inner.step()
        inner.zero_grad(set_to_none=True)


def _sam_passes(
    cfg: RunConfig, accelerator: Any, method: Method, nets: Sequence[Net], batch: Any
) -> StepOutput:
    """SAM's two passes (:mod:`labelnoise.engine.sam`): the method's loss at ``w`` (its
    gradient, without all-reduce, gives the perturbation ``e``), then at ``w + e`` (its
    gradient accumulates for the optimizer), then ``w`` restored. Returns the first pass's
    output (the loss at ``w``, as without SAM). The method's step runs twice per batch."""
    from contextlib import ExitStack

    from labelnoise.engine.sam import perturb, restore, stash_grads, unstash_grads

    acc, sam = accelerator, cfg.optim.sam
    params = [list(net.model.parameters()) for net in nets]
    stash = [stash_grads(ps) for ps in params]  # the micro-batches accumulated so far
    with ExitStack() as no_sync:
        for net in nets:
            no_sync.enter_context(acc.no_sync(net.model))
        with acc.autocast():
            out = method.step(batch)
        acc.backward(out.loss)
    moved = [perturb(ps, sam.rho, adaptive=sam.adaptive) for ps in params]
    for s in stash:
        unstash_grads(s)
    with acc.autocast():
        second = method.step(batch)
    acc.backward(second.loss)
    for m in moved:
        restore(m)
    return out
