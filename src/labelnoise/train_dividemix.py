"""DivideMix-style two-network semi-supervised loop (Li, Socher & Hoi, ICLR 2020).

After ``warmup_epochs`` of plain cross-entropy, every epoch trains each network in turn:

1. *co-divide*: the **other** network's per-example training losses (no augmentation) are
   min-max normalised and a two-component 1-D GMM is fitted
   (:func:`labelnoise.common.selection.mixture.fit_gmm_1d`); ``w_i = P(clean | loss_i)``.
   Examples with ``w_i > p_threshold`` are labeled, the rest unlabeled;
2. *label refinement*: a labeled example's target is ``w y + (1 - w) p`` (``p`` the network's
   own prediction), sharpened with temperature ``T``; *label guessing*: an unlabeled
   example's target is both networks' averaged prediction, sharpened;
3. *MixMatch*: labeled and unlabeled inputs and targets are mixed (``lambda ~ Beta(alpha,
   alpha)``, ``lambda = max(lambda, 1 - lambda)``); loss = soft cross-entropy on the labeled
   part + ``lambda_u`` (ramped up) x squared error on the unlabeled part + the uniform-prior
   penalty ``sum_c pi_c log(pi_c / mean p_c)``.

Simplifications (said, not hidden): one augmented view per example instead of two, and no
negative-entropy warm-up penalty. :func:`codivide` and :func:`dividemix_loss` work on input
tensors with a ``forward(model, x) -> logits`` callable (the adapter's ``units`` in the engine;
any model elsewhere), so the benchmark and the engine share them. Recipes: ``method:
dividemix`` plus an optional ``dividemix:`` section (:class:`DivideMixOptions`). The adapter's
batches must carry the inputs as ``batch["x"]`` (input-space mixup). One process only;
``detection.method`` ``kfold`` or ``none`` (this loop records no training dynamics).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labelnoise._typed import build
from labelnoise.common.selection.mixture import fit_gmm_1d
from labelnoise.config import RunConfig
from labelnoise.engine.loop import end_of_epoch, finish, start, stop_if_not_finite
from labelnoise.engine.outputs import LoopState
from labelnoise.engine.setup import build_optimizer

__all__ = ["DivideMixOptions", "codivide", "dividemix_loss", "train"]

Forward = Callable[[nn.Module, Tensor], Tensor]


@dataclass
class DivideMixOptions:
    """The recipe's ``dividemix:`` section (defaults: the paper's CIFAR-10 settings).

    Attributes:
        warmup_epochs: cross-entropy epochs of both networks before co-divide.
        p_threshold: clean-probability threshold of the labeled set (paper: 0.5).
        temperature: sharpening temperature ``T`` (0.5).
        alpha: Beta(alpha, alpha) of mixup (4).
        lambda_u: weight of the unlabeled loss (0 for CIFAR-10 20 % sym., 25 at 50 %, 150 at
            90 %); ramped up linearly over ``rampup_epochs`` after warm-up.
        rampup_epochs: epochs of the linear ramp of ``lambda_u``.
    """

    warmup_epochs: int = 10
    p_threshold: float = 0.5
    temperature: float = 0.5
    alpha: float = 4.0
    lambda_u: float = 25.0
    rampup_epochs: int = 16


def codivide(losses: Tensor | np.ndarray) -> np.ndarray:
    """Clean probability ``(N,)`` of each example from its loss ``(N,)``: min-max normalised,
    2-component GMM, posterior of the low-mean component."""
    x = np.asarray(torch.as_tensor(losses, dtype=torch.float64).cpu()).reshape(-1)
    x = (x - x.min()) / max(float(np.ptp(x)), 1e-12)
    return fit_gmm_1d(x, max_iter=10, tol=1e-2, reg_covar=5e-4)


def _sharpen(p: Tensor, temperature: float) -> Tensor:
    p = p ** (1.0 / temperature)
    return p / p.sum(dim=1, keepdim=True)


def dividemix_loss(
    forward: Forward,
    net: nn.Module,
    peer: nn.Module,
    x_l: Tensor,
    y_l: Tensor,
    w_l: Tensor,
    x_u: Tensor,
    *,
    num_classes: int,
    lambda_u: float,
    temperature: float = 0.5,
    alpha: float = 4.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One MixMatch step of DivideMix for ``net`` (scalar loss; ``peer`` only guesses).

    Args:
        forward: ``forward(model, x) -> (B, C)`` logits (applies the training augmentation).
        x_l, y_l, w_l: labeled inputs ``(B, ...)``, their given labels ``(B,)`` and clean
            probabilities ``(B,)``.
        x_u: unlabeled inputs ``(B_u, ...)`` (may be empty).
        lambda_u: weight of the unlabeled squared error (already ramped).
    """
    with torch.no_grad():
        y1 = F.one_hot(y_l, num_classes).float()
        w = w_l.float().view(-1, 1)
        p_l = torch.softmax(forward(net, x_l), dim=1)
        t_l = _sharpen(w * y1 + (1 - w) * p_l, temperature)
        t_u = x_u.new_zeros((0, num_classes))
        if len(x_u):
            p_u = (torch.softmax(forward(net, x_u), 1) + torch.softmax(forward(peer, x_u), 1)) / 2
            t_u = _sharpen(p_u, temperature)
    x_all = torch.cat([x_l, x_u])
    t_all = torch.cat([t_l, t_u])
    lam = float(torch.distributions.Beta(alpha, alpha).sample()) if alpha > 0 else 1.0
    lam = max(lam, 1 - lam)
    perm = torch.randperm(len(x_all), generator=generator)
    x_mix = lam * x_all + (1 - lam) * x_all[perm]
    t_mix = lam * t_all + (1 - lam) * t_all[perm]
    logits = forward(net, x_mix)
    n_l = len(x_l)
    loss_x = -(F.log_softmax(logits[:n_l], dim=1) * t_mix[:n_l]).sum(1).mean()
    loss_u = logits.new_zeros(())
    if len(x_u):
        loss_u = ((torch.softmax(logits[n_l:], 1) - t_mix[n_l:]) ** 2).mean()
    prior = torch.full((num_classes,), 1.0 / num_classes, device=logits.device)
    mean_p = torch.softmax(logits, dim=1).mean(0)
    penalty = (prior * torch.log(prior / mean_p)).sum()
    return loss_x + lambda_u * loss_u + penalty


def _eval_losses(run: Any, model: nn.Module) -> Tensor:
    """Per-example CE ``(N,)`` of the training split (eval mode, in example_id order)."""
    from labelnoise.engine.data import eval_loader

    acc, adapter = run.accelerator, run.adapter
    loader = eval_loader(run.splits.train, adapter, batch_size=run.cfg.data.eval_batch_size)
    out = torch.zeros(len(run.splits.train))
    model.eval()
    with torch.no_grad():
        for batch in loader:
            batch = _to(batch, acc.device)
            u = adapter.units(model, batch)
            out[u.example_id.cpu()] = F.cross_entropy(u.pred, u.target, reduction="none").cpu()
    model.train()
    return out


def _to(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    from labelnoise.tasks.base import move_to

    return move_to(batch, device)


def train(cfg: RunConfig, *, resume: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Train one DivideMix run; return its metrics (network A is evaluated and selected)."""
    from torch.utils.data import DataLoader, Subset

    if cfg.method != "dividemix":
        raise ValueError(f"method must be 'dividemix' here; got {cfg.method!r}")
    opts: DivideMixOptions = build(DivideMixOptions, cfg.dividemix, "dividemix")
    run = start(cfg, resume=resume, overwrite=overwrite)
    if run.finished is not None:
        return run.finished
    acc, adapter, splits = run.accelerator, run.adapter, run.splits
    if acc.num_processes > 1:
        raise ValueError(f"method 'dividemix' runs on one process; got {acc.num_processes}")
    n, c = len(splits.train), splits.num_classes
    nets = [adapter.build_model(splits).to(acc.device) for _ in range(2)]
    # each network steps once per batch of its own pass: at most total_steps over the run
    opts_sched = [build_optimizer(cfg, m.parameters(), run.total_steps) for m in nets]
    run.ckpt.clean_partial()
    latest = run.ckpt.latest() if resume else None
    if latest is not None:
        saved = run.ckpt.load(latest)
        run.state = LoopState.from_dict(saved["loop"])
        for k in range(2):
            nets[k].load_state_dict(saved["nets"][k])
            opts_sched[k][0].load_state_dict(saved["optim"][k])
            opts_sched[k][1].load_state_dict(saved["sched"][k])
    state = run.state
    gen = torch.Generator().manual_seed(cfg.seed)

    def forward(model: nn.Module, x: Tensor, batch: dict[str, Any]) -> Tensor:
        return adapter.units(model, dict(batch, x=x)).pred

    def loader(indices: np.ndarray, seed: int) -> DataLoader:
        g = torch.Generator().manual_seed(seed)
        return DataLoader(
            Subset(splits.train, indices.tolist()),
            batch_size=cfg.data.batch_size,
            shuffle=True,
            generator=g,
            collate_fn=adapter.collate,
        )

    def step(k: int, loss: Tensor) -> None:
        opt, sched = opts_sched[k]
        stop_if_not_finite(run, loss.view(1))
        opt.zero_grad()
        loss.backward()
        if cfg.train.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(nets[k].parameters(), cfg.train.max_grad_norm)
        opt.step()
        sched.step()
        state.loss_sum += float(loss.detach())
        state.loss_count += 1
        if k == 0:
            state.step += 1

    def at_max() -> bool:
        return cfg.train.max_steps is not None and state.step >= cfg.train.max_steps

    reached_max = cfg.train.max_steps is not None and state.step >= cfg.train.max_steps
    while state.epoch < cfg.train.epochs and not state.done and not reached_max:
        seed = cfg.seed * 100_003 + state.epoch
        for m in nets:
            m.train()
        if state.epoch < opts.warmup_epochs:
            for k in range(2):
                for batch in loader(np.arange(n), seed + k):
                    u = adapter.units(nets[k], _to(batch, acc.device))
                    step(k, F.cross_entropy(u.pred, u.target))
                    if at_max():
                        break
        else:
            ramp = min(1.0, (state.epoch - opts.warmup_epochs + 1) / max(1, opts.rampup_epochs))
            prob = [codivide(_eval_losses(run, m)) for m in nets]
            for k in range(2):
                w = prob[1 - k]  # the peer divides the data for this network
                labeled = np.flatnonzero(w > opts.p_threshold)
                unlabeled = np.flatnonzero(w <= opts.p_threshold)
                if len(labeled) == 0:
                    continue
                w_t = torch.as_tensor(w, dtype=torch.float32)
                u_iter = iter(loader(unlabeled, seed + 7 + k)) if len(unlabeled) else None
                for batch in loader(labeled, seed + k):
                    batch = _to(batch, acc.device)
                    x_u = batch["x"][:0]
                    if u_iter is not None:
                        ub = next(u_iter, None)
                        if ub is None:
                            u_iter = iter(loader(unlabeled, seed + 11 + k))
                            ub = next(u_iter)
                        x_u = _to(ub, acc.device)["x"]
                    loss = dividemix_loss(
                        lambda m, x, b=batch: forward(m, x, b),
                        nets[k],
                        nets[1 - k],
                        batch["x"],
                        batch["target"],
                        w_t[batch["example_id"].cpu()].to(acc.device),
                        x_u,
                        num_classes=c,
                        lambda_u=opts.lambda_u * ramp,
                        temperature=opts.temperature,
                        alpha=opts.alpha,
                        generator=gen,
                    )
                    step(k, loss)
                    if at_max():
                        break
        reached_max = at_max()
        end_of_epoch(run, nets[0], opts_sched[0][1].get_last_lr()[0], reached_max)
        run.ckpt.save(
            state.step,
            {
                "loop": state.to_dict(),
                "nets": [m.state_dict() for m in nets],
                "optim": [o.state_dict() for o, _ in opts_sched],
                "sched": [s.state_dict() for _, s in opts_sched],
            },
        )
    return finish(run, nets[0])
