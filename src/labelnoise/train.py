"""The one generic training loop, on Hugging Face Accelerate. Read it top to bottom.

Every task plugs in through a :class:`~labelnoise.tasks.base.TaskAdapter`; the loss and the
selector come from the core registries. One step is::

    units = adapter.units(model, batch)
    unit_loss = loss_fn(units.pred, units.target, units.loss_id)      # (U,)
    w = selector(unit_loss.detach(), units.example_id, step=step, ...)  # (U,) in [0, 1]
    w = w * units.weight                                # when the adapter sets weights
    accelerator.backward((w * unit_loss).sum() / w.sum().clamp_min(1.0))

``accelerate launch -m labelnoise train RECIPE.yaml`` runs it on several processes; without
``accelerate launch`` it runs on one CPU or GPU. Co-teaching, whose loop really differs,
lives beside it in :mod:`labelnoise.train_coteaching`; both share :mod:`labelnoise.engine`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from labelnoise.config import RunConfig
from labelnoise.engine.loop import (
    end_of_epoch,
    finish,
    run_epochs,
    start,
    stop_if_not_finite,
)
from labelnoise.engine.outputs import LoopState
from labelnoise.engine.setup import build_loss_fn, build_optimizer, build_selector_fn

__all__ = ["make_step", "restore_checkpoint", "save_checkpoint", "train"]


def train(cfg: RunConfig, *, resume: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Train one run; return its metrics (also written to ``run_dir/metrics.json``)."""
    if cfg.method != "standard":
        raise ValueError(f"method must be 'standard' for labelnoise.train; got {cfg.method!r}")
    run = start(cfg, resume=resume, overwrite=overwrite)  # run dir, seed, task, loaders
    if run.finished is not None:
        return run.finished
    acc, adapter, splits = run.accelerator, run.adapter, run.splits

    # --- model, loss, selector, optimizer --------------------------------------------------
    n_train = len(splits.train)
    model = adapter.build_model(splits)
    n_ids = adapter.num_unit_ids(n_train) or n_train  # stateful losses: one slot per id
    loss_fn = build_loss_fn(cfg, splits.num_classes, n_ids).to(acc.device)
    selector = build_selector_fn(cfg, n_train, acc.gather)
    optimizer, scheduler = build_optimizer(cfg, model.parameters(), run.total_steps)
    model, optimizer, train_loader = acc.prepare(model, optimizer, run.train_loader)

    # --- resume from the newest complete checkpoint ------------------------------------------
    restore_checkpoint(run, resume, scheduler, loss_fn, selector)
    state = run.state

    def checkpoint() -> None:
        save_checkpoint(run, scheduler, loss_fn, selector)

    # --- the loop: one step per batch; run_epochs does resume, max_steps, checkpoints -----
    train_step = make_step(run, model, optimizer, loss_fn, selector)

    def epoch_end(reached_max: bool) -> None:
        for hook in (selector, loss_fn):
            if hasattr(hook, "on_epoch_end"):
                hook.on_epoch_end(state.epoch)
        end_of_epoch(run, model, scheduler.get_last_lr()[0], reached_max)  # eval, selection

    run_epochs(
        run,
        train_loader,
        [model],
        train_step=train_step,
        after_sync=scheduler.step,
        epoch_end=epoch_end,
        checkpoint=checkpoint,
    )

    # --- the selected model: test metrics, label issues, outputs ------------------------------
    return finish(run, model)


def make_step(
    run: Any,
    model: nn.Module,
    optimizer: Any,
    loss_fn: Any,
    selector: Any,
    *,
    forward: nn.Module | None = None,
    extra_loss: Callable[[], Tensor] | None = None,
) -> Callable[[Any], float]:
    """The loop's step (module docstring) for a started ``run``: ``train_step(batch) -> loss``.

    ``forward``: the module the adapter's ``units`` calls (default ``model``; e.g. ADELE's
    multi-scale wrapper of it); ``extra_loss()``: a term added to the weighted unit loss,
    evaluated right after ``units`` under autocast (e.g. ADELE's consistency term).
    """
    acc, adapter, cfg, state = run.accelerator, run.adapter, run.cfg, run.state
    net = model if forward is None else forward

    def train_step(batch: Any) -> float:
        with acc.accumulate(model):
            with acc.autocast():
                units = adapter.units(net, batch)
                unit_loss = loss_fn(units.pred, units.target, units.loss_id)
                extra = extra_loss() if extra_loss is not None else None
            stop_if_not_finite(run, unit_loss)
            w = selector(
                unit_loss.detach(),
                units.example_id,
                step=state.step,
                logits=units.pred.detach(),
                target=units.target,
            )
            if units.weight is not None:  # the adapter's own per-unit weights
                w = w * units.weight
            loss = (w * unit_loss).sum() / w.sum().clamp_min(1.0)
            if extra is not None:
                loss = loss + extra
            acc.backward(loss)
            if acc.sync_gradients and cfg.train.max_grad_norm is not None:
                acc.clip_grad_norm_(model.parameters(), cfg.train.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad()
        run.dynamics.record(units, unit_loss, state.batch)
        return float(loss.detach())

    return train_step


def restore_checkpoint(
    run: Any, resume: bool, scheduler: Any, loss_fn: Any, selector: Any
) -> dict[str, Any] | None:
    """Drop partial checkpoints; with ``resume``, load the newest complete one (models,
    optimizers and RNG states through Accelerate; loop state, scheduler, loss, selector and
    dynamics here) and return it (None when starting fresh), so a loop can read its own keys."""
    run.ckpt.clean_partial()
    latest = run.ckpt.latest() if resume else None
    if latest is None:
        return None
    saved = run.ckpt.load(latest)
    run.state = LoopState.from_dict(saved["loop"])
    scheduler.load_state_dict(saved["scheduler"])
    loss_fn.load_state_dict(saved["loss"])
    selector.load_state_dict(saved["selector"])
    run.dynamics.load_state_dict(saved["dynamics"])
    return saved


def save_checkpoint(run: Any, scheduler: Any, loss_fn: Any, selector: Any, **extra: Any) -> None:
    """Save what :func:`restore_checkpoint` loads, plus a loop's own ``extra`` entries."""
    run.ckpt.save(
        run.state.step,
        {
            "loop": run.state.to_dict(),
            "scheduler": scheduler.state_dict(),
            "loss": loss_fn.state_dict(),
            "selector": selector.state_dict(),
            "dynamics": run.dynamics.state_dict(),
            **extra,
        },
    )
