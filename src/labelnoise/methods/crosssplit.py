"""``crosssplit``: two networks on disjoint halves of the data (Kim, Baratin, Zhang &
Lacoste-Julien, "CrossSplit: Mitigating Label Noise Memorization through Data Splitting",
ICML 2023; authors' code: github.com/SAITPublic/CrossSplit).

The training set is split once, at random (from the run's seed), into halves ``D_0`` and
``D_1``. After ``warmup_epochs`` of cross-entropy on both networks over all of it (with
``neg_entropy`` > 0 the DivideMix confidence penalty; the authors use 0.1 for asymmetric
noise), network ``k`` trains on ``D_k`` as labeled data and on ``D_{1-k}`` as unlabeled data:

* *cross-split label correction*: network ``k`` never saw the labels of ``D_{1-k}``'s peer
  half, so the peer's prediction on ``D_k`` has not memorised them. For a labeled example
  with given label ``y`` (one-hot ``e_y``), ``p`` the peer's softmax averaged over the
  ``views`` (eval mode), ``d = JSD(e_y, p)`` (Jensen-Shannon divergence, natural log) is
  normalised per given class ``c`` by the minimum and maximum of ``d`` over the training
  examples labeled ``c`` (peer, epoch start, no augmentation): ``b = clip((d - min_c) /
  (max_c - min_c), 0, 1)`` (paper eq. 4); ``beta = (b - 1/2) gamma + 1/2`` (eq. 2) with
  ``gamma`` 0.6 until ``warmup + 2 relax_epochs``, 0.8 until ``warmup + 3 relax_epochs``, then
  1; the target is ``beta p + (1 - beta) e_y`` (eq. 1), sharpened with temperature ``T``;
* *cross-split semi-supervised training*: the unlabeled half's target is the network's own
  prediction averaged over the views, sharpened; labeled and unlabeled views are mixed and
  trained with MixMatch's loss (:func:`~labelnoise.methods.mixmatch.mixmatch_loss`: soft CE +
  ``lambda_u`` (ramped over ``rampup_epochs``) x squared error + the uniform-prior penalty).
  Unlabeled batches are ``unlabeled_ratio`` x the batch size (authors: 0.5).

Test time: both networks' mean softmax (``ensemble``; the authors' code sums logits).

Simplifications (said, not hidden): no unsupervised contrastive (SimCLR) term on the
unlabeled half (the authors' ``lambda_c = 0.025`` with strong augmentations and a projection
of the features); views are the task's augmentation (the authors draw two weak and two
AutoAugment views: the weak ones for targets, the strong ones for mixing); the two networks
step together, one batch of each half per step, ``ceil(N / batch)`` steps an epoch (the
loop's, so its LR schedule ends where planned; each half is cycled about twice, as the authors'
loaders also go through N examples per network and epoch); the ramp of ``lambda_u`` moves per
epoch. (The authors' loader wraps ``random_split(...).dataset``,
the whole set, so their halves are not disjoint; we follow the paper by default, and
``disjoint: false`` runs the released code's data split.) Classification, one
process.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from labelnoise.methods.base import StepOutput
from labelnoise.methods.dividemix import DivideMix
from labelnoise.methods.mixmatch import mixmatch_loss, sharpen
from labelnoise.methods.two_networks import augments, view_fns

if TYPE_CHECKING:
    from labelnoise.engine.run import Run

__all__ = ["CrossSplit", "CrossSplitOptions", "correction_weight", "jsd", "split_halves"]


@dataclass
class CrossSplitOptions:
    """The recipe's ``method:`` options (defaults: the authors' CIFAR-10 settings).

    Attributes:
        warmup_epochs: cross-entropy epochs on all the data (10).
        relax_epochs: ``delta`` of the ``gamma`` schedule (10).
        temperature: sharpening temperature ``T`` (0.5).
        alpha: Beta(alpha, alpha) of mixup (4).
        lambda_u: weight of the unlabeled loss (30), ramped over ``rampup_epochs`` (16).
        unlabeled_ratio: unlabeled batch size / batch size, in (0, 1] (0.5).
        views: augmented views per example, 1 or 2 (2; one without augmentation).
        neg_entropy: weight of the warm-up confidence penalty (0; authors: 0.1 asymmetric).
        ensemble: evaluate with both networks' mean softmax (True).
        disjoint: the paper's disjoint halves (True); False gives each network the whole
            training set as its labeled and its unlabeled data, as the authors' released loader
            does (``random_split(...).dataset``): the peer has then seen the labels it corrects.
    """

    warmup_epochs: int = 10
    relax_epochs: int = 10
    temperature: float = 0.5
    alpha: float = 4.0
    lambda_u: float = 30.0
    rampup_epochs: int = 16
    unlabeled_ratio: float = 0.5
    views: int = 2
    neg_entropy: float = 0.0
    ensemble: bool = True
    disjoint: bool = True

    def __post_init__(self) -> None:
        for key in ("warmup_epochs", "relax_epochs"):
            if getattr(self, key) < 0:
                raise ValueError(f"method.{key} must be >= 0; got {getattr(self, key)!r}")
        if not self.temperature > 0:
            raise ValueError(f"method.temperature must be > 0; got {self.temperature!r}")
        for key in ("alpha", "lambda_u", "neg_entropy"):
            if not getattr(self, key) >= 0:
                raise ValueError(f"method.{key} must be >= 0; got {getattr(self, key)!r}")
        if self.rampup_epochs < 1:
            raise ValueError(f"method.rampup_epochs must be >= 1; got {self.rampup_epochs!r}")
        if not 0 < self.unlabeled_ratio <= 1:
            raise ValueError(
                f"method.unlabeled_ratio must be in (0, 1]; got {self.unlabeled_ratio!r}"
            )
        if self.views not in (1, 2):
            raise ValueError(f"method.views must be 1 or 2; got {self.views!r}")


def split_halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint random halves of ``range(n)`` (sizes ``n // 2`` and ``n - n // 2``)."""
    perm = np.random.default_rng([seed, 7]).permutation(n)
    return np.sort(perm[: n // 2]), np.sort(perm[n // 2 :])


def jsd(p: Tensor, q: Tensor, eps: float = 1e-10) -> Tensor:
    """Jensen-Shannon divergence ``(B,)`` of rows of ``p, q (B, C)`` (natural log; ``eps`` in
    the ratio as the authors' code)."""
    m = (p + q) / 2

    def kl(a: Tensor, b: Tensor) -> Tensor:
        return (a * ((a + eps) / (b + eps)).log()).sum(1)

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def class_range(d: Tensor, labels: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """Per given class, the min and max ``(C,)`` of ``d (N,)`` (0 and 1 for empty classes)."""
    lo, hi = torch.zeros(num_classes), torch.ones(num_classes)
    for c in range(num_classes):
        dc = d[labels == c]
        if len(dc):
            lo[c], hi[c] = dc.min(), dc.max()
    return lo, hi


def correction_weight(d: Tensor, y: Tensor, lo: Tensor, hi: Tensor, gamma: float) -> Tensor:
    """``beta (B,)``: ``(clip((d - lo_y) / (hi_y - lo_y), 0, 1) - 1/2) gamma + 1/2``."""
    b = (d - lo[y]) / (hi[y] - lo[y]).clamp_min(1e-12)
    return (b.clamp(0.0, 1.0) - 0.5) * gamma + 0.5


class CrossSplit(DivideMix):
    """Two networks on disjoint halves; cross-split correction + MixMatch (module doc)."""

    name = "crosssplit"
    Options = CrossSplitOptions  # type: ignore[assignment]

    def __init__(self, options: CrossSplitOptions, run: Run) -> None:
        super().__init__(options, run)  # type: ignore[arg-type]
        n = len(run.train_split)
        self.halves = (
            split_halves(n, run.cfg.seed) if options.disjoint else (np.arange(n), np.arange(n))
        )
        self.ranges: list[tuple[Tensor, Tensor]] | None = None  # peer JSD range per network
        self.range_epoch = -1

    def gamma(self, epoch: int) -> float:
        o = self.options
        if epoch < o.warmup_epochs + 2 * o.relax_epochs:
            return 0.6
        return 0.8 if epoch < o.warmup_epochs + 3 * o.relax_epochs else 1.0

    def epoch_batches(self, epoch: int, skip: int) -> Iterator[Any] | None:
        if epoch < self.options.warmup_epochs:
            return None
        if self.range_epoch != epoch:
            nets, c = self.members(), self.run.splits.num_classes
            self.ranges = []
            for k in range(2):
                probs, labels = self.data.predictions(nets[1 - k])
                d = jsd(F.one_hot(labels, c).float(), probs)
                self.ranges.append(class_range(d, labels, c))
            self.range_epoch = epoch
        return self._halves_plan(epoch, skip)

    def _halves_plan(self, epoch: int, skip: int) -> Iterator[dict[str, Any]]:
        bs = self.run.cfg.data.batch_size
        bu = max(1, round(bs * self.options.unlabeled_ratio))
        g = np.random.default_rng([self.run.cfg.seed, epoch])
        order = [g.permutation(h) for h in self.halves]
        # the loop's batches per epoch (its LR schedule counts them): each half is cycled,
        # as the authors' loaders go through N examples per network and epoch
        steps = math.ceil(len(self.run.train_split) / bs)
        for i in range(skip, steps):
            batch: dict[str, Any] = {}
            for k in range(2):
                lab, unl = order[k], order[1 - k]
                if len(lab) == 0 or len(unl) == 0:
                    continue
                batch[f"labeled_{k}"] = self.data.collate(
                    np.resize(np.roll(lab, -i * bs), min(bs, len(lab)))
                )
                batch[f"unlabeled_{k}"] = self.data.collate(
                    np.resize(np.roll(unl, -i * bu), min(bu, len(unl)))
                )
            yield batch

    def step(self, batch: Any) -> StepOutput:
        run, o = self.run, self.options
        epoch = run.state.epoch
        if epoch < o.warmup_epochs:
            return self.warmup_step(batch)
        assert self.ranges is not None
        nets, c = self.members(), run.splits.num_classes
        ramp = min(1.0, (epoch - o.warmup_epochs + 1) / o.rampup_epochs)
        augment, forward = view_fns(run)
        views = o.views if augments(run) else 1
        loss = torch.zeros((), device=run.accelerator.device)
        for k in range(2):
            if f"labeled_{k}" not in batch:
                continue
            net, peer = nets[k], nets[1 - k]
            lab, unl = batch[f"labeled_{k}"], batch[f"unlabeled_{k}"]
            xl = [augment(lab["x"]) for _ in range(views)]
            xu = [augment(unl["x"]) for _ in range(views)]
            y = lab["target"]
            with torch.no_grad():
                t_u = sharpen(
                    torch.stack([torch.softmax(forward(net, v), 1) for v in xu]).mean(0),
                    o.temperature,
                )
                peer.eval()
                p = torch.stack([torch.softmax(forward(peer, v), 1) for v in xl]).mean(0)
                peer.train()
                e_y = F.one_hot(y, c).float()
                lo, hi = (r.to(p.device) for r in self.ranges[k])
                beta = correction_weight(jsd(e_y, p), y, lo, hi, self.gamma(epoch))[:, None]
                t_l = sharpen(beta * p + (1 - beta) * e_y, o.temperature)
            loss = loss + mixmatch_loss(
                forward,
                net,
                xl,
                t_l,
                xu,
                t_u,
                num_classes=c,
                lambda_u=o.lambda_u * ramp,
                alpha=o.alpha,
                generator=self.gen,
            )
        self.check_finite(loss.view(1))
        return StepOutput(loss)

    def state_dict(self) -> dict[str, Any]:
        ranges = None if self.ranges is None else [list(r) for r in self.ranges]
        return {"ranges": ranges, "range_epoch": self.range_epoch, "gen": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        r = state["ranges"]
        self.ranges = None if r is None else [(a, b) for a, b in r]
        self.range_epoch = int(state["range_epoch"])
        self.gen.set_state(state["gen"])
