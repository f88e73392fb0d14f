"""The two-network loop: Co-teaching (Han et al., NeurIPS 2018) and JoCoR (Wei et al., CVPR 2020).

Two networks see the same batch; the selector (``selector: {name: coteaching, ...}``) picks,
from each network's per-unit losses, the units the *other* network trains on::

    units_a, units_b = adapter.units(model_a, batch), adapter.units(model_b, batch)
    loss_a, loss_b = loss_a_fn(units_a...), loss_b_fn(units_b...)          # (U,) each
    w_a, w_b = selector.select(loss_a.detach(), loss_b.detach(), example_id, step=step)
    accelerator.backward(mean_w(w_a, loss_a) + mean_w(w_b, loss_b))   # JoCoR: one joint loss

Everything else -- run directory, evaluation, model selection, checkpoints, dynamics,
label issues, outputs -- is shared with :mod:`labelnoise.train`. Network A is the one
evaluated, selected and saved.
"""

from __future__ import annotations

from typing import Any

import torch

from labelnoise.common.selection.coteaching import jocor_loss
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

__all__ = ["train"]


def _mean(w: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
    return (w * loss).sum() / w.sum().clamp_min(1.0)


def train(cfg: RunConfig, *, resume: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Train one co-teaching run; return its metrics (also in ``run_dir/metrics.json``)."""
    if cfg.method != "coteaching":
        raise ValueError(f"method must be 'coteaching' here; got {cfg.method!r}")
    run = start(cfg, resume=resume, overwrite=overwrite)
    if run.finished is not None:
        return run.finished
    acc, adapter, splits = run.accelerator, run.adapter, run.splits

    # --- two models, two losses (stateful losses keep per-network memory), one selector -----
    n_train = len(splits.train)
    model_a, model_b = adapter.build_model(splits), adapter.build_model(splits)
    n_ids = adapter.num_unit_ids(n_train) or n_train
    loss_a_fn = build_loss_fn(cfg, splits.num_classes, n_ids).to(acc.device)
    loss_b_fn = build_loss_fn(cfg, splits.num_classes, n_ids).to(acc.device)
    selector = build_selector_fn(cfg, n_train, acc.gather)
    if not hasattr(selector, "select"):
        raise ValueError(
            f"selector.name must be a two-network selector (e.g. coteaching) for method "
            f"'coteaching'; got {cfg.selector.name!r}"
        )
    opt_a, sched_a = build_optimizer(cfg, model_a.parameters(), run.total_steps)
    opt_b, sched_b = build_optimizer(cfg, model_b.parameters(), run.total_steps)
    model_a, model_b, opt_a, opt_b, train_loader = acc.prepare(
        model_a, model_b, opt_a, opt_b, run.train_loader
    )

    # --- resume -------------------------------------------------------------------------------
    run.ckpt.clean_partial()
    latest = run.ckpt.latest() if resume else None
    if latest is not None:
        saved = run.ckpt.load(latest)
        run.state = LoopState.from_dict(saved["loop"])
        sched_a.load_state_dict(saved["scheduler_a"])
        sched_b.load_state_dict(saved["scheduler_b"])
        loss_a_fn.load_state_dict(saved["loss_a"])
        loss_b_fn.load_state_dict(saved["loss_b"])
        selector.load_state_dict(saved["selector"])
        run.dynamics.load_state_dict(saved["dynamics"])
    state = run.state

    def checkpoint() -> None:
        run.ckpt.save(
            state.step,
            {
                "loop": state.to_dict(),
                "scheduler_a": sched_a.state_dict(),
                "scheduler_b": sched_b.state_dict(),
                "loss_a": loss_a_fn.state_dict(),
                "loss_b": loss_b_fn.state_dict(),
                "selector": selector.state_dict(),
                "dynamics": run.dynamics.state_dict(),
            },
        )

    # --- the loop: run_epochs does resume, max_steps, checkpoints -----------------------------
    def train_step(batch: Any) -> float:
        with acc.accumulate(model_a, model_b):
            with acc.autocast():
                ua, ub = adapter.units(model_a, batch), adapter.units(model_b, batch)
                la = loss_a_fn(ua.pred, ua.target, ua.loss_id)
                lb = loss_b_fn(ub.pred, ub.target, ub.loss_id)
            stop_if_not_finite(run, torch.cat([la, lb]))
            w_a, w_b = selector.select(
                la.detach(),
                lb.detach(),
                ua.example_id,
                step=state.step,
                logits_a=ua.pred.detach(),
                logits_b=ub.pred.detach(),
            )
            if getattr(selector, "variant", "coteaching") == "jocor":
                # JoCoR trains both networks on one joint loss (CE + symmetric KL).
                joint = jocor_loss(ua.pred, ub.pred, la, lb, co_lambda=selector.co_lambda)
                loss = 2 * _mean(w_a, joint)
            else:
                loss = _mean(w_a, la) + _mean(w_b, lb)
            acc.backward(loss)
            if acc.sync_gradients and cfg.train.max_grad_norm is not None:
                acc.clip_grad_norm_(model_a.parameters(), cfg.train.max_grad_norm)
                acc.clip_grad_norm_(model_b.parameters(), cfg.train.max_grad_norm)
            for opt in (opt_a, opt_b):
                opt.step()
                opt.zero_grad()
        run.dynamics.record(ua, la, state.batch)
        return float(loss.detach()) / 2

    def after_sync() -> None:
        sched_a.step()
        sched_b.step()

    def epoch_end(reached_max: bool) -> None:
        for hook in (selector, loss_a_fn, loss_b_fn):
            if hasattr(hook, "on_epoch_end"):
                hook.on_epoch_end(state.epoch)
        end_of_epoch(run, model_a, sched_a.get_last_lr()[0], reached_max)

    run_epochs(
        run,
        train_loader,
        [model_a, model_b],
        train_step=train_step,
        after_sync=after_sync,
        epoch_end=epoch_end,
        checkpoint=checkpoint,
    )
    return finish(run, model_a)
