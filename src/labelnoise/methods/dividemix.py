"""``dividemix``: two networks, co-divide and MixMatch (Li, Socher & Hoi, ICLR 2020).

After ``warmup_epochs`` of cross-entropy on both networks (plus, with ``neg_entropy`` > 0,
the paper's confidence penalty ``neg_entropy * mean sum_c p_c log p_c`` for asymmetric noise;
the paper uses 1), every epoch:

1. *co-divide* (at the start of the epoch): each network's per-example training losses (eval
   mode, no augmentation) are min-max normalised and a two-component 1-D GMM is fitted
   (:func:`labelnoise.common.selection.mixture.fit_gmm_1d`); ``w_i = P(clean | loss_i)``. The
   **peer's** division trains a network: examples with ``w_i > p_threshold`` are labeled,
   the rest unlabeled;
2. each example is drawn in ``views`` (2) augmentations (the task's training augmentation);
   *label co-refinement*: a labeled example's target is ``w y + (1 - w) p`` with ``p`` the
   network's prediction averaged over the views, sharpened with temperature ``T``; *label
   co-guessing*: an unlabeled example's target is both networks' predictions averaged over
   the views, sharpened;
3. *MixMatch* (:func:`~labelnoise.methods.mixmatch.mixmatch_loss`): all views of the
   labeled and unlabeled inputs and their targets are mixed (``lambda ~ Beta(alpha,
   alpha)``, ``lambda = max(lambda, 1 - lambda)``); loss = soft cross-entropy on the labeled
   part + ``lambda_u`` (ramped up) x squared error on the unlabeled part + the uniform-prior
   penalty ``sum_c pi_c log(pi_c / mean p_c)``.

At test time (``ensemble``, default) the two networks answer together: the mean of their
softmax (:class:`~labelnoise.methods.two_networks.TwoNetworks`, which is network 0 for the
loop, so evaluation, model selection and ``best_model.pt`` hold both).

Simplifications (said, not hidden): in the one loop, a step trains both networks, each on a
batch of its own labeled set and one of its unlabeled set; an epoch has as many steps as the
larger labeled set has batches (the smaller labeled set and the unlabeled sets are cycled).
The paper trains network 1 over its labeled set, then network 2. One optimizer holds both
networks (identical per-parameter updates; ``train.max_grad_norm`` clips them jointly). The
paper's test ensemble sums logits in its code; we average probabilities as its text says.
:func:`codivide` and :func:`dividemix_loss` work on input tensors with a ``forward(model, x)
-> logits`` callable. One process only; ``detection.method`` ``kfold`` or ``none``.
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
from labelnoise.methods.mixmatch import Forward, mixmatch_loss, sharpen
from labelnoise.methods.two_networks import (
    Batches,
    TwoNetworks,
    augments,
    neg_entropy,
    view_fns,
)

if TYPE_CHECKING:
    from labelnoise.config import RunConfig
    from labelnoise.engine.run import Run

__all__ = [
    "DivideMix",
    "DivideMixOptions",
    "codivide",
    "dividemix_loss",
    "mixmatch_loss",
    "sharpen",
]


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
        views: augmented views per example (paper: 2; 1 = one view, no averaging); a task
            without augmentation (``task.augment`` false, feature vectors) draws one.
        neg_entropy: weight of the warm-up confidence penalty (paper: 1 for asymmetric noise,
            0 otherwise). Default 0.
        ensemble: evaluate with both networks' mean softmax (paper). Default True.
    """

    warmup_epochs: int = 10
    p_threshold: float = 0.5
    temperature: float = 0.5
    alpha: float = 4.0
    lambda_u: float = 25.0
    rampup_epochs: int = 16
    views: int = 2
    neg_entropy: float = 0.0
    ensemble: bool = True

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
        if self.views not in (1, 2):
            raise ValueError(f"method.views must be 1 or 2; got {self.views!r}")
        if not self.neg_entropy >= 0:
            raise ValueError(f"method.neg_entropy must be >= 0; got {self.neg_entropy!r}")


def codivide(losses: Tensor | np.ndarray) -> np.ndarray:
    """Clean probability ``(N,)`` of each example from its loss ``(N,)``: min-max normalised,
    2-component GMM, posterior of the low-mean component."""
    x = np.asarray(torch.as_tensor(losses, dtype=torch.float64).cpu()).reshape(-1)
    x = (x - x.min()) / max(float(np.ptp(x)), 1e-12)
    return fit_gmm_1d(x, max_iter=10, tol=1e-2, reg_covar=5e-4)


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
    augment: Callable[[Tensor], Tensor] | None = None,
    views: int = 1,
    min_confidence: float = 0.0,
) -> Tensor:
    """One MixMatch step of DivideMix for ``net`` (scalar loss; ``peer`` only guesses).

    Args:
        forward: ``forward(model, x) -> (B, C)`` logits.
        x_l, y_l, w_l: labeled inputs ``(B, ...)``, their given labels ``(B,)`` and clean
            probabilities ``(B,)``.
        x_u: unlabeled inputs ``(B_u, ...)`` (may be empty).
        lambda_u: weight of the unlabeled squared error (already ramped).
        augment: draws one view of a batch (default: identity); ``views`` are drawn per
            example and the refined / guessed targets average the predictions over them.
        min_confidence: unlabeled examples whose guess (averaged, before sharpening) has a
            largest probability below it are left out (SplitNet's threshold; 0: none).
    """
    aug = augment if augment is not None else (lambda t: t)
    xl_views = [aug(x_l) for _ in range(views)]
    xu_views = [aug(x_u) for _ in range(views)] if len(x_u) else [x_u]
    with torch.no_grad():
        y1 = F.one_hot(y_l, num_classes).float()
        w = w_l.float().view(-1, 1)
        p_l = torch.stack([torch.softmax(forward(net, v), 1) for v in xl_views]).mean(0)
        t_l = sharpen(w * y1 + (1 - w) * p_l, temperature)
        t_u = x_u.new_zeros((0, num_classes))
        if len(x_u):
            p_u = [torch.softmax(forward(m, v), 1) for v in xu_views for m in (net, peer)]
            guess = torch.stack(p_u).mean(0)
            keep = guess.max(1).values >= min_confidence
            if not bool(keep.all()):
                guess, xu_views = guess[keep], [v[keep] for v in xu_views]
                x_u = x_u[keep]
            t_u = sharpen(guess, temperature)
    return mixmatch_loss(
        forward,
        net,
        xl_views,
        t_l,
        xu_views if len(x_u) else [],
        t_u,
        num_classes=num_classes,
        lambda_u=lambda_u,
        alpha=alpha,
        generator=generator,
    )


class DivideMix(Method):
    """Two networks; cross-entropy warm-up, then co-divide + MixMatch (module docstring)."""

    name = "dividemix"
    Options = DivideMixOptions
    tasks = frozenset({"classification"})
    single_process = True

    def __init__(self, options: DivideMixOptions, run: Run) -> None:
        super().__init__(options, run)
        self.prob: list[np.ndarray] | None = None  # each network's clean probabilities
        self.prob_epoch = -1  # the epoch they were computed for
        self.gen = torch.Generator().manual_seed(run.cfg.seed)
        self.data = Batches(run)

    @classmethod
    def check_config(cls, cfg: RunConfig) -> None:
        if cfg.detection.method == "dynamics":
            raise ValueError(
                f"detection.method must be 'kfold' or 'none' for method {cls.name!r} (its "
                "MixMatch step records no training dynamics); got 'dynamics'"
            )

    def build_model(self, splits: Any) -> nn.Module:
        a, b = (self.run.adapter.build_model(splits) for _ in range(2))
        return TwoNetworks(a, b, ensemble=self.options.ensemble)

    def members(self) -> list[nn.Module]:
        """The two networks (prepared modules)."""
        return list(self.run.accelerator.unwrap_model(self.nets[0].model).members)

    # --- the epoch's batches: the loop's loader while warming up, the co-divided plan after --

    def epoch_batches(self, epoch: int, skip: int) -> Iterator[Any] | None:
        if epoch < self.options.warmup_epochs:
            return None
        if self.prob_epoch != epoch:  # (a mid-epoch resume restores this epoch's division)
            self.prob = self.divide()
            self.prob_epoch = epoch
        return self._plan(epoch, skip)

    def divide(self) -> list[np.ndarray]:
        """Each network's clean probability ``(N,)`` of every training example: the GMM
        posterior of its per-example cross-entropy (:func:`codivide`)."""
        out = []
        for m in self.members():
            probs, labels = self.data.predictions(m)
            ce = -torch.log(probs.gather(1, labels[:, None]).squeeze(1).clamp_min(1e-12))
            out.append(codivide(ce))
        return out

    def labeled_mask(self, k: int) -> np.ndarray:
        """``(N,)`` bool: network ``k``'s labeled examples, the **peer's** division (its clean
        probability > ``p_threshold``)."""
        assert self.prob is not None
        return self.prob[1 - k] > self.options.p_threshold

    def _plan(self, epoch: int, skip: int) -> Iterator[dict[str, Any]]:
        assert self.prob is not None
        bs = self.run.cfg.data.batch_size
        g = np.random.default_rng([self.run.cfg.seed, epoch])
        parts = []
        for k in range(2):
            mask = self.labeled_mask(k)
            labeled = g.permutation(np.flatnonzero(mask))
            unlabeled = g.permutation(np.flatnonzero(~mask))
            parts.append((labeled, unlabeled))
        steps = max(math.ceil(len(lab) / bs) for lab, _ in parts)
        for i in range(skip, steps):
            batch: dict[str, Any] = {}
            for k, (lab, unl) in enumerate(parts):
                if len(lab) == 0:
                    continue
                idx_l = np.resize(np.roll(lab, -i * bs), min(bs, len(lab)))
                idx_u = np.resize(np.roll(unl, -i * bs), min(bs, len(unl)))
                batch[f"labeled_{k}"] = self.data.collate(idx_l)
                batch[f"unlabeled_{k}"] = self.data.collate(idx_u) if len(idx_u) else None
                batch[f"w_{k}"] = torch.as_tensor(self.prob[1 - k][idx_l], dtype=torch.float32)
            yield batch

    # --- one step --------------------------------------------------------------------------

    def warmup_step(self, batch: Any) -> StepOutput:
        """Cross-entropy (+ ``neg_entropy`` x the confidence penalty) on both networks."""
        units = [self.run.adapter.units(m, batch) for m in self.members()]
        ce = [F.cross_entropy(u.pred, u.target, reduction="none") for u in units]
        self.check_finite(torch.cat(ce))
        loss = ce[0].mean() + ce[1].mean()
        if self.options.neg_entropy > 0:
            loss = loss + self.options.neg_entropy * sum(neg_entropy(u.pred) for u in units)
        return StepOutput(loss, units[0], ce[0])

    def step(self, batch: Any) -> StepOutput:
        run, o = self.run, self.options
        nets = self.members()
        if run.state.epoch < o.warmup_epochs:
            return self.warmup_step(batch)
        ramp = min(1.0, (run.state.epoch - o.warmup_epochs + 1) / o.rampup_epochs)
        augment, forward = view_fns(run)
        loss = torch.zeros((), device=run.accelerator.device)
        for k in range(2):
            if f"labeled_{k}" not in batch:
                continue
            lab, unl = batch[f"labeled_{k}"], batch[f"unlabeled_{k}"]
            x_u = unl["x"] if unl is not None else lab["x"][:0]
            loss = loss + dividemix_loss(
                forward,
                nets[k],
                nets[1 - k],
                lab["x"],
                lab["target"],
                batch[f"w_{k}"].to(lab["x"].device),
                x_u,
                num_classes=run.splits.num_classes,
                lambda_u=o.lambda_u * ramp,
                temperature=o.temperature,
                alpha=o.alpha,
                generator=self.gen,
                augment=augment,
                views=o.views if augments(run) else 1,
            )
        self.check_finite(loss.view(1))
        return StepOutput(loss)

    # --- checkpointed state ----------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        prob = None if self.prob is None else [torch.as_tensor(p) for p in self.prob]
        return {"prob": prob, "prob_epoch": self.prob_epoch, "gen": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        prob = state["prob"]
        self.prob = None if prob is None else [p.numpy() for p in prob]
        self.prob_epoch = int(state["prob_epoch"])
        self.gen.set_state(state["gen"])
