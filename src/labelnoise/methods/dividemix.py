"""``dividemix``: two networks, co-divide and MixMatch (Li, Socher & Hoi, ICLR 2020).

After ``warmup_epochs`` of plain cross-entropy on both networks, every epoch:

1. *co-divide* (at the start of the epoch): each network's per-example training losses (eval
   mode, no augmentation) are min-max normalised and a two-component 1-D GMM is fitted
   (:func:`labelnoise.common.selection.mixture.fit_gmm_1d`); ``w_i = P(clean | loss_i)``. The
   **peer's** division trains a network: examples with ``w_i > p_threshold`` are labeled,
   the rest unlabeled;
2. *label refinement*: a labeled example's target is ``w y + (1 - w) p`` (``p`` the network's
   own prediction), sharpened with temperature ``T``; *label guessing*: an unlabeled
   example's target is both networks' averaged prediction, sharpened;
3. *MixMatch*: labeled and unlabeled inputs and targets are mixed (``lambda ~ Beta(alpha,
   alpha)``, ``lambda = max(lambda, 1 - lambda)``); loss = soft cross-entropy on the labeled
   part + ``lambda_u`` (ramped up) x squared error on the unlabeled part + the uniform-prior
   penalty ``sum_c pi_c log(pi_c / mean p_c)``.

In the one loop, a step trains both networks, each on a batch of its own labeled set and one
of its unlabeled set; an epoch has as many steps as the larger labeled set has batches (the
smaller labeled set and the unlabeled sets are cycled). The paper trains network 1 over its
labeled set, then network 2.

Simplifications (said, not hidden): one augmented view per example instead of two, no
negative-entropy warm-up penalty, and the interleaved epoch above. :func:`codivide` and
:func:`dividemix_loss` work on input tensors with a ``forward(model, x) -> logits`` callable.
The adapter's batches must carry the inputs as ``batch["x"]`` (input-space mixup). One process
only; ``detection.method`` ``kfold`` or ``none`` (the MixMatch step records no dynamics).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labelnoise.common.selection.mixture import fit_gmm_1d
from labelnoise.methods.base import Method, StepOutput

if TYPE_CHECKING:
    from labelnoise.config import RunConfig
    from labelnoise.engine.run import Run

__all__ = ["DivideMix", "DivideMixOptions", "codivide", "dividemix_loss"]

Forward = Callable[[nn.Module, Tensor], Tensor]


@dataclass
class DivideMixOptions:
    """The recipe's ``method:`` options (defaults: the paper's CIFAR-10 settings).

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

    def __post_init__(self) -> None:
        if self.warmup_epochs < 0:
            raise ValueError(f"method.warmup_epochs must be >= 0; got {self.warmup_epochs!r}")
        if not 0.0 <= self.p_threshold <= 1.0:
            raise ValueError(f"method.p_threshold must be in [0, 1]; got {self.p_threshold!r}")
        if not self.temperature > 0:
            raise ValueError(f"method.temperature must be > 0; got {self.temperature!r}")
        if self.alpha < 0 or self.lambda_u < 0:
            raise ValueError(
                f"method.alpha and method.lambda_u must be >= 0; got {self.alpha!r}, "
                f"{self.lambda_u!r}"
            )
        if self.rampup_epochs < 1:
            raise ValueError(f"method.rampup_epochs must be >= 1; got {self.rampup_epochs!r}")


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
    perm = torch.randperm(len(x_all), generator=generator).to(x_all.device)
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


class DivideMix(Method):
    """Two networks; cross-entropy warm-up, then co-divide + MixMatch (module docstring)."""

    name = "dividemix"
    Options = DivideMixOptions
    tasks = frozenset({"classification"})
    num_networks = 2
    single_process = True

    def __init__(self, options: DivideMixOptions, run: Run) -> None:
        super().__init__(options, run)
        self.prob: list[np.ndarray] | None = None  # each network's clean probabilities
        self.prob_epoch = -1  # the epoch they were computed for
        self.gen = torch.Generator().manual_seed(run.cfg.seed)

    @classmethod
    def check_config(cls, cfg: RunConfig) -> None:
        if cfg.detection.method == "dynamics":
            raise ValueError(
                "detection.method must be 'kfold' or 'none' for method 'dividemix' (its "
                "MixMatch step records no training dynamics); got 'dynamics'"
            )

    # --- the epoch's batches: the loop's loader while warming up, the co-divided plan after --

    def epoch_batches(self, epoch: int, skip: int) -> Iterator[Any] | None:
        if epoch < self.options.warmup_epochs:
            return None
        if self.prob_epoch != epoch:  # (a mid-epoch resume restores this epoch's division)
            self.prob = [codivide(self._train_losses(net.model)) for net in self.nets]
            self.prob_epoch = epoch
        return self._plan(epoch, skip)

    def _plan(self, epoch: int, skip: int) -> Iterator[dict[str, Any]]:
        assert self.prob is not None
        bs = self.run.cfg.data.batch_size
        g = np.random.default_rng([self.run.cfg.seed, epoch])
        parts = []
        for k in range(2):
            w = self.prob[1 - k]  # the peer divides the data for this network
            labeled = g.permutation(np.flatnonzero(w > self.options.p_threshold))
            unlabeled = g.permutation(np.flatnonzero(w <= self.options.p_threshold))
            parts.append((labeled, unlabeled))
        steps = max(math.ceil(len(lab) / bs) for lab, _ in parts)
        for i in range(skip, steps):
            batch: dict[str, Any] = {}
            for k, (lab, unl) in enumerate(parts):
                if len(lab) == 0:
                    continue
                idx_l = np.resize(np.roll(lab, -i * bs), min(bs, len(lab)))
                idx_u = np.resize(np.roll(unl, -i * bs), min(bs, len(unl)))
                batch[f"labeled_{k}"] = self._collate(idx_l)
                batch[f"unlabeled_{k}"] = self._collate(idx_u) if len(idx_u) else None
                batch[f"w_{k}"] = torch.as_tensor(self.prob[1 - k][idx_l], dtype=torch.float32)
            yield batch

    def _collate(self, idx: np.ndarray) -> dict[str, Any]:
        from labelnoise.tasks.base import move_to

        ds = self.run.train_split
        batch = self.run.adapter.collate([ds[int(i)] for i in idx])
        return move_to(batch, self.run.accelerator.device)

    def _train_losses(self, model: nn.Module) -> Tensor:
        """Per-example CE ``(N,)`` of the training split (eval mode, in example_id order)."""
        from labelnoise.engine.data import eval_loader
        from labelnoise.tasks.base import move_to

        run = self.run
        loader = eval_loader(run.train_split, run.adapter, batch_size=run.cfg.data.eval_batch_size)
        out = torch.zeros(len(run.train_split))
        model.eval()
        with torch.no_grad():
            for batch in loader:
                u = run.adapter.units(model, move_to(batch, run.accelerator.device))
                ce = F.cross_entropy(u.pred.float(), u.target, reduction="none")
                out[u.example_id.cpu()] = ce.cpu()
        model.train()
        return out

    # --- one step --------------------------------------------------------------------------

    def step(self, batch: Any) -> StepOutput:
        run, o = self.run, self.options
        if run.state.epoch < o.warmup_epochs:  # plain cross-entropy on both networks
            units = [run.adapter.units(net.model, batch) for net in self.nets]
            ce = [F.cross_entropy(u.pred, u.target, reduction="none") for u in units]
            self.check_finite(torch.cat(ce))
            return StepOutput(ce[0].mean() + ce[1].mean(), units[0], ce[0])
        ramp = min(1.0, (run.state.epoch - o.warmup_epochs + 1) / o.rampup_epochs)
        loss = torch.zeros((), device=run.accelerator.device)
        for k in range(2):
            if f"labeled_{k}" not in batch:
                continue
            lab, unl = batch[f"labeled_{k}"], batch[f"unlabeled_{k}"]
            x_u = unl["x"] if unl is not None else lab["x"][:0]
            loss = loss + dividemix_loss(
                self._forward,
                self.nets[k].model,
                self.nets[1 - k].model,
                lab["x"],
                lab["target"],
                batch[f"w_{k}"].to(lab["x"].device),
                x_u,
                num_classes=run.splits.num_classes,
                lambda_u=o.lambda_u * ramp,
                temperature=o.temperature,
                alpha=o.alpha,
                generator=self.gen,
            )
        self.check_finite(loss.view(1))
        return StepOutput(loss)

    def _forward(self, model: nn.Module, x: Tensor) -> Tensor:
        n = len(x)
        fake = {
            "x": x,
            "target": torch.zeros(n, dtype=torch.long, device=x.device),
            "example_id": torch.arange(n, device=x.device),
        }
        return self.run.adapter.units(model, fake).pred

    # --- checkpointed state ----------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        prob = None if self.prob is None else [torch.as_tensor(p) for p in self.prob]
        return {"prob": prob, "prob_epoch": self.prob_epoch, "gen": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        prob = state["prob"]
        self.prob = None if prob is None else [p.numpy() for p in prob]
        self.prob_epoch = int(state["prob_epoch"])
        self.gen.set_state(state["gen"])
