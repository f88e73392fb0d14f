"""The one training loop, on Hugging Face Accelerate. Every task and every method trains here.

Read :func:`train` top to bottom. A task plugs in through its
:class:`~labelnoise.tasks.base.TaskAdapter` (batches -> units); a method
(:mod:`labelnoise.methods`) supplies the loss of a step and its hooks; the loss and the
selector come from the core registries. With ``method: {name: standard}`` one step is::

    units = adapter.units(model, batch)
    unit_loss = loss_fn(units.pred, units.target, units.loss_id)      # (U,)
    w = selector(unit_loss.detach(), units.example_id, step=step, ...)  # (U,) in [0, 1]
    accelerator.backward((w * unit_loss).sum() / w.sum().clamp_min(1.0))

``accelerate launch -m labelnoise train RECIPE.yaml`` runs it on several processes; without
``accelerate launch`` it runs on one CPU or GPU.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from tqdm.auto import tqdm

from labelnoise.config import RunConfig
from labelnoise.engine.data import tensor_batches
from labelnoise.engine.run import (
    Run,
    end_of_epoch,
    finish,
    raise_if_not_finite,
    set_train_split,
    start,
)
from labelnoise.engine.setup import (
    build_loss_fn,
    build_optimizer,
    build_selector_fn,
)
from labelnoise.engine.state import LoopState
from labelnoise.engine.step import take_step
from labelnoise.methods import Method, Net, build_method

__all__ = ["train"]


def train(cfg: RunConfig, *, resume: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Train one run of ``cfg``; return its metrics (also written to ``run_dir/metrics.json``).

    ``resume``: continue the newest complete checkpoint in ``cfg.run_dir`` (a finished run
    returns its metrics); ``overwrite``: replace the run there.
    """
    run = start(cfg, resume=resume, overwrite=overwrite)  # run dir, seed, task, eval loaders
    if run.finished is not None:
        return run.finished
    acc, adapter, splits = run.accelerator, run.adapter, run.splits
    method = build_method(cfg, run)
    set_train_split(run, method.train_dataset(splits.train))  # loader, total steps

    # --- networks (model, optimizer, schedule, loss each), one selector, all prepared ------
    n_train = len(run.train_split)
    n_ids = adapter.num_unit_ids(n_train) or n_train  # stateful losses: one slot per id
    models, optimizers, schedulers, losses = [], [], [], []
    for _ in range(method.num_networks):
        model = method.build_model(splits)  # default: adapter.build_model(splits)
        optimizer, scheduler = build_optimizer(cfg, model.parameters(), run.total_steps)
        models.append(model)
        optimizers.append(optimizer)
        schedulers.append(scheduler)
        losses.append(build_loss_fn(cfg, splits.num_classes, n_ids, device=acc.device))
    selector = build_selector_fn(cfg, n_train, acc.gather)
    # an in-memory training split (one process, no accumulation): batches cut from its
    # tensors in the loader's order, no DataLoader (engine/data.py, tensor_batches)
    fast = tensor_batches(
        run.train_split,
        adapter,
        batch_size=cfg.data.batch_size,
        seed=cfg.seed,
        device=acc.device,
        num_processes=acc.num_processes,
        grad_accum=cfg.train.grad_accum,
    )
    *prepared, train_loader = acc.prepare(*models, *optimizers, run.train_loader)
    if fast is not None:
        train_loader = fast
    k = method.num_networks
    nets = [Net(prepared[i], prepared[k + i], schedulers[i], losses[i]) for i in range(k)]
    method.setup(nets, selector)

    # --- resume from the newest complete checkpoint ------------------------------------------
    restore_checkpoint(run, method, resume=resume)
    state = run.state
    bar = tqdm(
        total=run.total_steps,
        initial=state.step,
        desc=cfg.name,
        disable=not (cfg.train.progress and acc.is_local_main_process),
    )

    # --- the loop: epochs, batches, one optimizer step per synced batch ------------------------
    reached_max = cfg.train.max_steps is not None and state.step >= cfg.train.max_steps
    record = cfg.train.record_dynamics  # per-example loss / margin / softmax (dynamics.npz)
    while state.epoch < cfg.train.epochs and not state.done and not reached_max:
        for net in nets:
            net.model.train()
        batches = method.epoch_batches(state.epoch, state.batch)
        if batches is None:  # the loop's loader; the shuffle is a function of (seed, epoch)
            batches = train_loader
            if state.batch and fast is not None:  # resuming mid-epoch
                batches = fast.skip(state.batch)
            elif state.batch:
                # on the loader itself: with 2+ processes the skipping loader's set_epoch
                # stops short of the sampler (it would replay epoch 0's order)
                train_loader.set_epoch(state.epoch)
                batches = acc.skip_first_batches(train_loader, state.batch)
            batches.set_epoch(state.epoch)
        # the epoch's losses stay on the device until read (no host sync, one list append
        # per step); read, they are added in order as Python floats (float64)
        loss_sum = _LossSum(state.loss_sum)
        for batch in batches:
            out = take_step(cfg, acc, method, nets, batch)  # forward, backward, optimizers
            if record and out.units is not None and out.unit_loss is not None:
                run.dynamics.record(out.units, out.unit_loss, state.batch)
            loss_sum.add(out.loss)
            state.loss_count += 1
            state.batch += 1
            if acc.sync_gradients:  # one optimizer step done
                for net in nets:
                    net.scheduler.step()
                state.step += 1
                bar.update(1)
                if cfg.train.checkpoint_every and state.step % cfg.train.checkpoint_every == 0:
                    state.loss_sum = loss_sum.value()
                    save_checkpoint(run, method)
                if cfg.train.max_steps is not None and state.step >= cfg.train.max_steps:
                    reached_max = True
                    break
        state.loss_sum = loss_sum.value()  # the epoch's one read of the loss
        if not reached_max:  # an epoch of fewer steps: the schedule still ends where planned
            catch_up(nets, min((state.epoch + 1) * run.steps_per_epoch, run.total_steps))
        raise_if_not_finite(run)  # a deferred check (accelerator devices), see run.py
        for hook in (selector, *(net.loss_fn for net in nets)):
            if hasattr(hook, "on_epoch_end"):
                hook.on_epoch_end(state.epoch)
        method.on_epoch_end(state.epoch)
        lr = float(nets[0].scheduler.get_last_lr()[0])
        end_of_epoch(run, nets[0].model, lr, reached_max)  # evaluate, select, history
        last = reached_max or state.done or state.epoch >= cfg.train.epochs
        if last or state.epoch % cfg.train.checkpoint_every_epochs == 0:
            save_checkpoint(run, method)
    bar.close()

    # --- the selected network 0: the method's last word, test metrics, issues, outputs -------
    return finish(run, nets[0].model, after=method.after_training, issues=method.label_issues)


class _LossSum:
    """The running sum of an epoch's step losses: :meth:`add` keeps the detached scalar on
    its device; :meth:`value` copies the pending ones to the host at once and adds them in
    order to a Python float (float64: the same sum as adding each step's loss to a
    float64 total step by step, with no host sync per step)."""

    def __init__(self, start: float) -> None:
        self.total = float(start)
        self.pending: list[torch.Tensor] = []

    def add(self, loss: torch.Tensor) -> None:
        self.pending.append(loss.detach())

    def value(self) -> float:
        if self.pending:
            values = torch.stack(self.pending).cpu().to(torch.float64).tolist()
            self.pending = []
            for v in values:
                self.total += v
        return self.total


def save_checkpoint(run: Run, method: Method) -> None:
    """Models, optimizers and RNG states through Accelerate; the loop state, schedules,
    losses, selector, dynamics and the method's state beside them."""
    raise_if_not_finite(run)  # never save a checkpoint past a non-finite loss
    run.ckpt.save(
        run.state.step,
        {
            "loop": run.state.to_dict(),
            "schedulers": [net.scheduler.state_dict() for net in method.nets],
            "losses": [net.loss_fn.state_dict() for net in method.nets],
            "selector": method.selector.state_dict(),
            "dynamics": run.dynamics.state_dict(),
            "method": method.state_dict(),
        },
    )


def restore_checkpoint(run: Run, method: Method, *, resume: bool) -> None:
    """Drop partial checkpoints; with ``resume``, load the newest complete one."""
    run.ckpt.clean_partial()
    latest = run.ckpt.latest() if resume else None
    if latest is None:
        return
    saved = run.ckpt.load(latest)
    run.state = LoopState.from_dict(saved["loop"])
    for net, sched, loss in zip(method.nets, saved["schedulers"], saved["losses"], strict=True):
        net.scheduler.load_state_dict(sched)
        net.loss_fn.load_state_dict(loss)
    method.selector.load_state_dict(saved["selector"])
    run.dynamics.load_state_dict(saved["dynamics"])
    method.load_state_dict(saved["method"])


def catch_up(nets: list[Net], target: int) -> None:
    """Advance every scheduler to step ``target`` of its plan (no optimizer step).

    The LR schedule is planned over ``epochs x`` the loop loader's steps per epoch. A method
    whose epochs take fewer steps (DivideMix's labelled set, a selection round, ...) would
    otherwise end its run with the LR part-way down the schedule; after each epoch the
    schedulers jump to where the plan puts the end of that epoch, so every epoch starts at
    its planned LR. An epoch of the planned length (or longer) is left as it is."""
    for net in nets:
        sched = net.scheduler
        if sched.last_epoch < target:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "step() before optimizer.step()"
                sched.last_epoch = target - 1
                sched.step()
