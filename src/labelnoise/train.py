"""The one generic training loop, on Hugging Face Accelerate. Read it top to bottom.

Every task plugs in through a :class:`~labelnoise.tasks.base.TaskAdapter`; the loss and the
selector come from the core registries. One step is::

    units = adapter.units(model, batch)
    unit_loss = loss_fn(units.pred, units.target, units.example_id)   # (U,)
    w = selector(unit_loss.detach(), units.example_id, step=step, ...)  # (U,) in [0, 1]
    accelerator.backward((w * unit_loss).sum() / w.sum().clamp_min(1.0))

``accelerate launch -m labelnoise train RECIPE.yaml`` runs it on several processes; without
``accelerate launch`` it runs on one CPU or GPU. Co-teaching, whose loop really differs,
lives beside it in :mod:`labelnoise.train_coteaching`.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import torch

from labelnoise._io import atomic_write
from labelnoise.config import RunConfig
from labelnoise.engine.checkpoint import Checkpointer
from labelnoise.engine.data import make_loader
from labelnoise.engine.detect import detect_label_issues
from labelnoise.engine.dynamics import Dynamics
from labelnoise.engine.outputs import (
    LoopState,
    evaluate_splits,
    selection_key,
    update_selection,
    write_history,
    write_outputs,
)
from labelnoise.engine.setup import (
    NonFiniteLossError,
    build_loss_fn,
    build_optimizer,
    build_selector_fn,
    build_task,
    prepare_run_dir,
)

__all__ = ["make_accelerator", "train"]


def make_accelerator(cfg: RunConfig) -> Any:
    """An Accelerator for ``cfg`` (TensorBoard tracking when it is installed)."""
    import importlib.util

    from accelerate import Accelerator

    log_with = "tensorboard" if importlib.util.find_spec("tensorboard") else None
    return Accelerator(
        cpu=cfg.train.cpu,
        mixed_precision=cfg.train.mixed_precision,
        gradient_accumulation_steps=cfg.train.grad_accum,
        log_with=log_with,
        project_dir=str(cfg.run_dir),
    )


def train(cfg: RunConfig, *, resume: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Train one run; return its metrics (also written to ``run_dir/metrics.json``)."""
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    if cfg.method != "standard":
        raise ValueError(f"train() runs method 'standard'; got {cfg.method!r} (see run_recipe)")
    started = time.time()
    if cfg.train.num_threads is not None:
        torch.set_num_threads(cfg.train.num_threads)
    accelerator = make_accelerator(cfg)
    run_dir = prepare_run_dir(
        cfg, resume=resume, overwrite=overwrite, is_main=accelerator.is_main_process
    )
    accelerator.wait_for_everyone()
    if resume and (run_dir / "metrics.json").is_file():
        return json.loads((run_dir / "metrics.json").read_text())
    set_seed(cfg.seed)

    # --- data, model, loss, selector, optimizer ------------------------------------------
    task = build_task(cfg)
    adapter, splits = task.adapter, task.splits
    key = selection_key(cfg, adapter, splits)
    lower = key is not None and key.rsplit("_", 1)[-1] in adapter.lower_is_better
    n_train = len(splits.train)
    model = adapter.build_model(splits)
    loss_fn = build_loss_fn(cfg, splits.num_classes, n_train).to(accelerator.device)
    selector = build_selector_fn(cfg, n_train, accelerator.gather)
    train_loader, _ = make_loader(
        splits.train,
        adapter,
        batch_size=cfg.data.batch_size,
        seed=cfg.seed,
        shuffle=True,
        num_workers=cfg.data.num_workers,
    )
    eval_loaders = {
        name: make_loader(
            ds,
            adapter,
            batch_size=cfg.data.eval_batch_size,
            seed=0,
            shuffle=False,
            num_workers=cfg.data.num_workers,
        )[0]
        for name, ds in (("val", splits.val), ("test", splits.test))
        if ds is not None and len(ds) > 0
    }
    batches = math.ceil(len(train_loader) / accelerator.num_processes)
    steps_per_epoch = math.ceil(batches / cfg.train.grad_accum)
    total_steps = steps_per_epoch * cfg.train.epochs
    if cfg.train.max_steps is not None:
        total_steps = min(total_steps, cfg.train.max_steps)
    optimizer, scheduler = build_optimizer(cfg, model.parameters(), total_steps)
    model, optimizer, train_loader, *prepared = accelerator.prepare(
        model, optimizer, train_loader, *eval_loaders.values()
    )
    eval_loaders = dict(zip(eval_loaders, prepared))

    # --- resume -----------------------------------------------------------------------------
    state = LoopState()
    dynamics = Dynamics(n_train)
    ckpt = Checkpointer(accelerator, run_dir, keep=cfg.train.keep_checkpoints)
    ckpt.clean_partial()
    latest = ckpt.latest() if resume else None
    if latest is not None:
        saved = ckpt.load(latest)
        state = LoopState.from_dict(saved["loop"])
        scheduler.load_state_dict(saved["scheduler"])
        loss_fn.load_state_dict(saved["loss"])
        dynamics.load_state_dict(saved["dynamics"])
        selector.load_state_dict(saved["selector"])

    def checkpoint() -> None:
        ckpt.save(
            state.step,
            {
                "loop": state.to_dict(),
                "scheduler": scheduler.state_dict(),
                "loss": loss_fn.state_dict(),
                "dynamics": dynamics.state_dict(),
                "selector": selector.state_dict(),
            },
        )

    if accelerator.trackers == [] and accelerator.log_with:
        accelerator.init_trackers(cfg.name)

    # --- the loop ---------------------------------------------------------------------------
    show = cfg.train.progress and accelerator.is_local_main_process
    bar = tqdm(total=total_steps, initial=state.step, disable=not show, desc=cfg.name)
    reached_max = cfg.train.max_steps is not None and state.step >= cfg.train.max_steps
    while state.epoch < cfg.train.epochs and not state.done and not reached_max:
        model.train()
        loader = train_loader
        if state.batch:  # resuming mid-epoch
            loader = accelerator.skip_first_batches(train_loader, state.batch)
        loader.set_epoch(state.epoch)  # the shuffle order is a function of (seed, epoch)
        for batch in loader:
            with accelerator.accumulate(model):
                with accelerator.autocast():
                    units = adapter.units(model, batch)
                    unit_loss = loss_fn(units.pred, units.target, units.example_id)
                _stop_if_not_finite(accelerator, unit_loss, state, ckpt)
                w = selector(
                    unit_loss.detach(),
                    units.example_id,
                    step=state.step,
                    logits=units.pred.detach(),
                    target=units.target,
                )
                loss = (w * unit_loss).sum() / w.sum().clamp_min(1.0)
                accelerator.backward(loss)
                if accelerator.sync_gradients and cfg.train.max_grad_norm is not None:
                    accelerator.clip_grad_norm_(model.parameters(), cfg.train.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad()
            dynamics.record(units, unit_loss, state.batch)
            state.batch += 1
            state.loss_sum += float(loss.detach())
            state.loss_count += 1
            if accelerator.sync_gradients:
                scheduler.step()
                state.step += 1
                bar.update(1)
                if cfg.train.checkpoint_every and state.step % cfg.train.checkpoint_every == 0:
                    checkpoint()
                if cfg.train.max_steps is not None and state.step >= cfg.train.max_steps:
                    reached_max = True
                    break

        # --- end of epoch: dynamics, hooks, evaluation, selection, checkpoint ------------
        dynamics.end_epoch(accelerator)
        for hook in (selector, loss_fn):
            if hasattr(hook, "on_epoch_end"):
                hook.on_epoch_end(state.epoch)
        state.epoch += 1
        state.batch = 0
        last = reached_max or state.epoch >= cfg.train.epochs
        if state.epoch % cfg.train.eval_every == 0 or last:
            train_loss = accelerator.reduce(
                torch.tensor(state.loss_sum / max(1, state.loss_count), device=accelerator.device),
                "mean",
            )
            row = {
                "epoch": state.epoch,
                "step": state.step,
                "train_loss": float(train_loss),
                "lr": scheduler.get_last_lr()[0],
            }
            row |= evaluate_splits(adapter, model, eval_loaders, splits, accelerator)
            state.loss_sum, state.loss_count = 0.0, 0
            if update_selection(state, row, key, lower) and accelerator.is_main_process:
                with atomic_write(run_dir / "best_model.pt", "wb") as f:
                    torch.save(accelerator.unwrap_model(model).state_dict(), f)
            if accelerator.is_main_process:
                write_history(run_dir, state.history)
            accelerator.log(row, step=state.step)
            if cfg.train.early_stopping is not None and state.bad_evals >= cfg.train.early_stopping:
                state.done = True
        checkpoint()
    bar.close()

    # --- final model, test metrics, label issues, outputs -----------------------------------
    accelerator.wait_for_everyone()
    best = torch.load(run_dir / "best_model.pt", map_location="cpu", weights_only=True)
    accelerator.unwrap_model(model).load_state_dict(best)
    final = evaluate_splits(adapter, model, eval_loaders, splits, accelerator)
    detection = detect_label_issues(
        cfg, adapter, splits, accelerator, dynamics_probs=dynamics.mean_probs()
    )
    metrics = {}
    if accelerator.is_main_process:
        metrics = write_outputs(
            run_dir,
            cfg,
            splits,
            state,
            final,
            key,
            detection,
            dynamics.arrays(),
            num_processes=accelerator.num_processes,
            started=started,
        )
    accelerator.end_training()
    accelerator.wait_for_everyone()
    return metrics or json.loads((run_dir / "metrics.json").read_text())


def _stop_if_not_finite(
    accelerator: Any, unit_loss: torch.Tensor, state: LoopState, ckpt: Checkpointer
) -> None:
    """Raise :class:`NonFiniteLossError` (on every process) when a loss is NaN or inf."""
    bad = torch.tensor(
        float(not bool(torch.isfinite(unit_loss.detach()).all())), device=unit_loss.device
    )
    if accelerator.num_processes > 1:
        bad = accelerator.reduce(bad, "max")
    if bool(bad):
        latest = ckpt.latest()
        kept = (
            f"the last good checkpoint is kept at {latest}"
            if latest
            else "no checkpoint was saved yet"
        )
        raise NonFiniteLossError(
            f"loss must be finite; got NaN or inf at step {state.step + 1} (epoch {state.epoch + 1}). "
            f"Training stopped; {kept}. Lower optim.lr, set train.max_grad_norm, or check the data."
        )
