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
from labelnoise.engine.loop import end_of_epoch, finish, start, stop_if_not_finite
from labelnoise.engine.outputs import LoopState
from labelnoise.engine.setup import build_loss_fn, build_optimizer, build_selector_fn

__all__ = ["train"]


def _mean(w: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
    return (w * loss).sum() / w.sum().clamp_min(1.0)


def train(cfg: RunConfig, *, resume: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Train one co-teaching run; return its metrics (also in ``run_dir/metrics.json``)."""
    from tqdm.auto import tqdm

    if cfg.method != "coteaching":
        raise ValueError(f"method must be 'coteaching' here; got {cfg.method!r}")
    run = start(cfg, resume=resume, overwrite=overwrite)
    if run.finished is not None:
        return run.finished
    acc, adapter, splits = run.accelerator, run.adapter, run.splits

    # --- two models, two losses (stateful losses keep per-network memory), one selector -----
    n_train = len(splits.train)
    model_a, model_b = adapter.build_model(splits), adapter.build_model(splits)
    loss_a_fn = build_loss_fn(cfg, splits.num_classes, n_train).to(acc.device)
    loss_b_fn = build_loss_fn(cfg, splits.num_classes, n_train).to(acc.device)
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

    # --- the loop -----------------------------------------------------------------------------
    bar = tqdm(
        total=run.total_steps,
        initial=state.step,
        desc=cfg.name,
        disable=not (cfg.train.progress and acc.is_local_main_process),
    )
    reached_max = cfg.train.max_steps is not None and state.step >= cfg.train.max_steps
    while state.epoch < cfg.train.epochs and not state.done and not reached_max:
        model_a.train()
        model_b.train()
        loader = train_loader
        if state.batch:
            loader = acc.skip_first_batches(train_loader, state.batch)
        loader.set_epoch(state.epoch)
        for batch in loader:
            with acc.accumulate(model_a, model_b):
                with acc.autocast():
                    ua, ub = adapter.units(model_a, batch), adapter.units(model_b, batch)
                    la = loss_a_fn(ua.pred, ua.target, ua.example_id)
                    lb = loss_b_fn(ub.pred, ub.target, ub.example_id)
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
            state.batch += 1
            state.loss_sum += float(loss.detach()) / 2
            state.loss_count += 1
            if acc.sync_gradients:
                sched_a.step()
                sched_b.step()
                state.step += 1
                bar.update(1)
                if cfg.train.checkpoint_every and state.step % cfg.train.checkpoint_every == 0:
                    checkpoint()
                if cfg.train.max_steps is not None and state.step >= cfg.train.max_steps:
                    reached_max = True
                    break
        for hook in (selector, loss_a_fn, loss_b_fn):
            if hasattr(hook, "on_epoch_end"):
                hook.on_epoch_end(state.epoch)
        end_of_epoch(run, model_a, sched_a.get_last_lr()[0], reached_max)
        checkpoint()
    bar.close()
    return finish(run, model_a)
