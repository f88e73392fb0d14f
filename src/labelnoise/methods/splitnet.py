"""``splitnet``: a learnable clean / noisy splitter feeding a semi-supervised learner (Kim,
Ryoo, Jeon, Cho et al., "SplitNet: Learnable Clean-Noisy Label Splitting for Learning with
Noisy Labels", ICCV 2023; IJCV 2024).

One main network and a small *SplitNet* MLP on per-example statistics of it. After
``warmup_epochs`` of cross-entropy, at the start of every epoch:

1. each training example's features ``f_i`` come from the main network in eval mode (no
   augmentation): min-max normalised cross-entropy of the given label, probability of the
   given label, largest probability, entropy / log C -- ``(N, 4)``;
2. *risk hedging*: a two-component GMM on the losses (:func:`~labelnoise.methods.dividemix.
   codivide`) gives ``w_i = P(clean | loss_i)``; only confident examples train SplitNet:
   target clean where ``w_i >= 1 - hedge``, noisy where ``w_i <= hedge``, none in between
   (wrong pseudo-labels of the ambiguous middle are the risk hedged against);
3. SplitNet (``splitter_hidden`` ReLU units, Adam, ``splitter_iters`` iterations; seeded by
   the run's seed and the epoch) is fit on the hedged examples and its clean probability
   ``s_i`` splits the data: labeled where ``s_i > 1/2`` (refinement weight ``s_i``),
   unlabeled otherwise (the GMM's ``w_i`` when the hedged set lacks a class or SplitNet
   calls no example clean);
4. *dynamic threshold*: the split confidence ``c_i = |2 s_i - 1|`` sets this epoch's
   threshold ``tau_t = tau * mean_i c_i`` on the unlabeled guesses: an unlabeled example
   whose guessed largest probability is below ``tau_t`` is left out of the unlabeled loss
   (the surer the split, the stricter the pseudo-labels).

Each step trains the main network with DivideMix's MixMatch loss
(:func:`~labelnoise.methods.dividemix.dividemix_loss`, the network guessing for itself) on a
labeled and an unlabeled batch. The two alternate as in the paper's framework: the main
network's losses train SplitNet, SplitNet's split trains the main network.

Simplifications / our reading (said, not hidden): the authors' code is not public (their
repository holds a README only) and the formulas of steps 1, 2 and 4 are our reading of the
paper's description: SplitNet's inputs here are four class-agnostic statistics of the main
network's prediction (the paper feeds the prediction and the label), the risk-hedging rule
is the symmetric GMM-posterior margin ``hedge``, and the dynamic threshold scales a
FixMatch-style ``tau`` by the mean split confidence. SplitNet is fit at each epoch start
(scikit-learn's ``MLPClassifier``, like co-divide's GMM), not by the run's optimizer: trained
inside the main network's steps (lr 1e-3, ~10 steps an epoch on digits) it did not learn
(it called 98-100 % of the examples clean; 65.8 % on digits 40 % pair flip). Its weights
are refit every epoch, so they are not saved; the split is (checkpoints). The
semi-supervised learner is DivideMix's MixMatch (``views`` augmentations) with one network.
Classification, one process.
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

from labelnoise.methods.base import Method, StepOutput
from labelnoise.methods.dividemix import codivide, dividemix_loss
from labelnoise.methods.two_networks import Batches, augments, neg_entropy, view_fns

if TYPE_CHECKING:
    from labelnoise.config import RunConfig
    from labelnoise.engine.run import Run

__all__ = [
    "SplitNet",
    "SplitNetOptions",
    "fit_splitter",
    "dynamic_threshold",
    "hedge_targets",
    "split_features",
]

NUM_FEATURES = 4


@dataclass
class SplitNetOptions:
    """The recipe's ``method:`` options.

    Attributes:
        warmup_epochs: cross-entropy epochs before splitting (10).
        hedge: GMM-posterior margin of the examples that train SplitNet, in (0, 0.5) (0.1).
        tau: base of the dynamic threshold on unlabeled guesses, in [0, 1] (0.95).
        splitter_hidden: SplitNet's hidden width (32).
        splitter_iters: SplitNet's Adam iterations per fit (200).
        temperature, alpha, lambda_u, rampup_epochs, views, neg_entropy: as DivideMix's
            (0.5, 4, 25, 16, 2, 0).
    """

    warmup_epochs: int = 10
    hedge: float = 0.1
    tau: float = 0.95
    splitter_hidden: int = 32
    splitter_iters: int = 200
    temperature: float = 0.5
    alpha: float = 4.0
    lambda_u: float = 25.0
    rampup_epochs: int = 16
    views: int = 2
    neg_entropy: float = 0.0

    def __post_init__(self) -> None:
        if self.warmup_epochs < 0:
            raise ValueError(f"method.warmup_epochs must be >= 0; got {self.warmup_epochs!r}")
        if not 0 < self.hedge < 0.5:
            raise ValueError(f"method.hedge must be in (0, 0.5); got {self.hedge!r}")
        if not 0 <= self.tau <= 1:
            raise ValueError(f"method.tau must be in [0, 1]; got {self.tau!r}")
        if self.splitter_hidden < 1:
            raise ValueError(f"method.splitter_hidden must be >= 1; got {self.splitter_hidden!r}")
        if not self.temperature > 0:
            raise ValueError(f"method.temperature must be > 0; got {self.temperature!r}")
        if self.splitter_iters < 1:
            raise ValueError(f"method.splitter_iters must be >= 1; got {self.splitter_iters!r}")
        for key in ("alpha", "lambda_u", "neg_entropy"):
            if not getattr(self, key) >= 0:
                raise ValueError(f"method.{key} must be >= 0; got {getattr(self, key)!r}")
        if self.rampup_epochs < 1:
            raise ValueError(f"method.rampup_epochs must be >= 1; got {self.rampup_epochs!r}")
        if self.views not in (1, 2):
            raise ValueError(f"method.views must be 1 or 2; got {self.views!r}")


def split_features(probs: Tensor, labels: Tensor) -> Tensor:
    """``(N, 4)``: min-max normalised CE of the label, ``p_y``, ``max p``, entropy / log C."""
    p_y = probs.gather(1, labels[:, None]).squeeze(1)
    ce = -torch.log(p_y.clamp_min(1e-12))
    ce = (ce - ce.min()) / (ce.max() - ce.min()).clamp_min(1e-12)
    ent = -(probs * torch.log(probs.clamp_min(1e-12))).sum(1) / math.log(probs.shape[1])
    return torch.stack([ce, p_y, probs.max(1).values, ent], dim=1).float()


def hedge_targets(w: np.ndarray, hedge: float) -> np.ndarray:
    """SplitNet's targets ``(N,)`` from GMM clean posteriors: 1 where ``w >= 1 - hedge``, 0
    where ``w <= hedge``, -1 (not trained on) in between."""
    out = np.full(len(w), -1.0, dtype=np.float32)
    out[w >= 1 - hedge] = 1.0
    out[w <= hedge] = 0.0
    return out


def fit_splitter(
    features: np.ndarray, targets: np.ndarray, *, hidden: int, iters: int, seed: int
) -> np.ndarray | None:
    """SplitNet's clean probability ``(N,)`` of every row of ``features (N, F)``, fit on the
    rows with ``targets`` 0 / 1 (-1: left out); None when those lack a class."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    sure = targets >= 0
    if len(np.unique(targets[sure])) < 2:
        return None
    net = MLPClassifier((hidden,), max_iter=iters, random_state=seed, tol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net.fit(features[sure], targets[sure].astype(int))
    return net.predict_proba(features)[:, list(net.classes_).index(1)]


def dynamic_threshold(clean_prob: np.ndarray, tau: float) -> float:
    """``tau * mean |2 s - 1|``: the threshold on unlabeled guesses."""
    return float(tau * np.abs(2 * np.asarray(clean_prob) - 1).mean())


class SplitNet(Method):
    """Main network + a splitter fit per epoch; MixMatch on its split (module docstring)."""

    name = "splitnet"
    Options = SplitNetOptions
    tasks = frozenset({"classification"})
    single_process = True

    def __init__(self, options: SplitNetOptions, run: Run) -> None:
        super().__init__(options, run)
        self.data = Batches(run)
        self.gen = torch.Generator().manual_seed(run.cfg.seed)
        self.epoch_state: dict[str, Any] | None = None  # targets, split, tau_t, fitted

    @classmethod
    def check_config(cls, cfg: RunConfig) -> None:
        if cfg.detection.method == "dynamics":
            raise ValueError(
                "detection.method must be 'kfold' or 'none' for method 'splitnet' (its "
                "MixMatch step records no training dynamics); got 'dynamics'"
            )

    # --- the epoch's split -----------------------------------------------------------------

    def epoch_batches(self, epoch: int, skip: int) -> Iterator[Any] | None:
        o = self.options
        if epoch < o.warmup_epochs:
            return None
        if self.epoch_state is None or self.epoch_state["epoch"] != epoch:
            probs, labels = self.data.predictions(self.nets[0].model)
            feats = split_features(probs, labels).double().numpy()
            ce = -torch.log(probs.gather(1, labels[:, None]).squeeze(1).clamp_min(1e-12))
            w = codivide(ce)
            targets = hedge_targets(w, o.hedge)
            s = fit_splitter(
                feats,
                targets,
                hidden=o.splitter_hidden,
                iters=o.splitter_iters,
                seed=(self.run.cfg.seed * 100_003 + epoch) % 2**31,
            )
            if s is not None and not (s > 0.5).any():
                s = None  # a splitter that calls nothing clean: the GMM splits
            self.epoch_state = {
                "epoch": epoch,
                "targets": torch.from_numpy(targets),
                "clean_prob": torch.from_numpy(np.asarray(w if s is None else s, np.float64)),
                "tau": dynamic_threshold(w if s is None else s, o.tau),
                "fitted": s is not None,
            }
        return self._plan(epoch, skip)

    def _plan(self, epoch: int, skip: int) -> Iterator[dict[str, Any]]:
        assert self.epoch_state is not None
        bs = self.run.cfg.data.batch_size
        s = self.epoch_state["clean_prob"].numpy()
        g = np.random.default_rng([self.run.cfg.seed, epoch])
        lab = g.permutation(np.flatnonzero(s > 0.5))
        unl = g.permutation(np.flatnonzero(s <= 0.5))
        for i in range(skip, math.ceil(len(lab) / bs)):
            idx = np.resize(np.roll(lab, -i * bs), min(bs, len(lab)))
            idx_u = np.resize(np.roll(unl, -i * bs), min(bs, len(unl)))
            yield {
                "labeled": self.data.collate(idx),
                "w": torch.as_tensor(s[idx], dtype=torch.float32),
                "unlabeled": self.data.collate(idx_u) if len(idx_u) else None,
            }

    # --- one step --------------------------------------------------------------------------

    def step(self, batch: Any) -> StepOutput:
        run, o = self.run, self.options
        model = self.nets[0].model
        if run.state.epoch < o.warmup_epochs:
            u = run.adapter.units(model, batch)
            ce = F.cross_entropy(u.pred, u.target, reduction="none")
            self.check_finite(ce)
            loss = ce.mean() + (o.neg_entropy * neg_entropy(u.pred) if o.neg_entropy else 0.0)
            return StepOutput(loss, u, ce)
        assert self.epoch_state is not None
        ramp = min(1.0, (run.state.epoch - o.warmup_epochs + 1) / o.rampup_epochs)
        augment, forward = view_fns(run)
        lab, unl = batch["labeled"], batch["unlabeled"]
        loss = dividemix_loss(
            forward,
            model,
            model,
            lab["x"],
            lab["target"],
            batch["w"].to(lab["x"].device),
            unl["x"] if unl is not None else lab["x"][:0],
            num_classes=run.splits.num_classes,
            lambda_u=o.lambda_u * ramp,
            temperature=o.temperature,
            alpha=o.alpha,
            generator=self.gen,
            augment=augment,
            views=o.views if augments(run) else 1,
            min_confidence=float(self.epoch_state["tau"]),
        )
        self.check_finite(loss.view(1))
        return StepOutput(loss)

    # --- checkpointed state ----------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {"epoch_state": self.epoch_state, "gen": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch_state = state["epoch_state"]
        self.gen.set_state(state["gen"])
