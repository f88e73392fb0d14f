"""``splitnet``: a learnable clean / noisy splitter feeding a semi-supervised learner (Kim,
Ryoo, Jeon, Cho et al., "SplitNet: Learnable Clean-Noisy Label Splitting for Learning with
Noisy Labels", ICCV 2023; IJCV 2024).

One main network and a small *SplitNet* MLP (:class:`SplitNetModel` holds both, so they are
optimised, checkpointed and saved together; evaluation uses the main network). After
``warmup_epochs`` of cross-entropy, at the start of every epoch:

1. each training example's features ``f_i`` come from the main network in eval mode (no
   augmentation): min-max normalised cross-entropy of the given label, probability of the
   given label, largest probability, entropy / log C -- ``(N, 4)``;
2. *risk hedging*: a two-component GMM on the losses (:func:`~labelnoise.methods.dividemix.
   codivide`) gives ``w_i = P(clean | loss_i)``; only confident examples train SplitNet:
   target clean where ``w_i >= 1 - hedge``, noisy where ``w_i <= hedge``, none in between
   (wrong pseudo-labels of the ambiguous middle are the risk hedged against);
3. SplitNet's clean probability ``s_i = sigmoid(g(f_i))`` splits the data: labeled where
   ``s_i > 1/2`` (refinement weight ``s_i``), unlabeled otherwise. Until SplitNet has
   trained (the first epoch after warm-up) the GMM's ``w_i`` splits;
4. *dynamic threshold*: the split confidence ``c_i = |2 s_i - 1|`` sets this epoch's
   threshold ``tau_t = tau * mean_i c_i`` on the unlabeled guesses: an unlabeled example
   whose guessed largest probability is below ``tau_t`` is left out of the unlabeled loss
   (the surer the split, the stricter the pseudo-labels).

Each step trains the main network with DivideMix's MixMatch loss
(:func:`~labelnoise.methods.dividemix.dividemix_loss`, the network guessing for itself) on a
labeled and an unlabeled batch, plus ``splitter_weight`` x SplitNet's binary cross-entropy on
a batch of the hedged examples (features fixed for the epoch, so the two alternate as the
paper's framework does: the main network's losses train SplitNet, SplitNet's split trains the
main network).

Simplifications / our reading (said, not hidden): the authors' code is not public (their
repository holds a README only) and the formulas of steps 1, 2 and 4 are our reading of the
paper's description: SplitNet's inputs here are four class-agnostic statistics of the main
network's prediction (the paper feeds the prediction and the label), the risk-hedging rule
is the symmetric GMM-posterior margin ``hedge``, and the dynamic threshold scales a
FixMatch-style ``tau`` by the mean split confidence. The semi-supervised learner is
DivideMix's MixMatch (``views`` augmentations) with one network. Classification, one process.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labelnoise.methods.base import Method, StepOutput
from labelnoise.methods.dividemix import codivide, dividemix_loss
from labelnoise.methods.two_networks import Batches, augments, neg_entropy, view_fns

if TYPE_CHECKING:
    from labelnoise.config import RunConfig
    from labelnoise.engine.run import Run

__all__ = [
    "SplitNet",
    "SplitNetModel",
    "SplitNetOptions",
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
        splitter_weight: weight of SplitNet's BCE in the step's loss (1).
        temperature, alpha, lambda_u, rampup_epochs, views, neg_entropy: as DivideMix's
            (0.5, 4, 25, 16, 2, 0).
    """

    warmup_epochs: int = 10
    hedge: float = 0.1
    tau: float = 0.95
    splitter_hidden: int = 32
    splitter_weight: float = 1.0
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
        for key in ("splitter_weight", "alpha", "lambda_u", "neg_entropy"):
            if not getattr(self, key) >= 0:
                raise ValueError(f"method.{key} must be >= 0; got {getattr(self, key)!r}")
        if self.rampup_epochs < 1:
            raise ValueError(f"method.rampup_epochs must be >= 1; got {self.rampup_epochs!r}")
        if self.views not in (1, 2):
            raise ValueError(f"method.views must be 1 or 2; got {self.views!r}")


class SplitNetModel(nn.Module):
    """The main network and SplitNet (``(B, 4) -> (B,)`` clean logits); forward = main."""

    def __init__(self, main: nn.Module, hidden: int) -> None:
        super().__init__()
        self.main = main
        self.splitter = nn.Sequential(
            nn.Linear(NUM_FEATURES, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x)

    def clean_logit(self, features: Tensor) -> Tensor:
        return self.splitter(features).squeeze(1)


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


def dynamic_threshold(clean_prob: np.ndarray, tau: float) -> float:
    """``tau * mean |2 s - 1|``: the threshold on unlabeled guesses."""
    return float(tau * np.abs(2 * np.asarray(clean_prob) - 1).mean())


class SplitNet(Method):
    """Main network + learnable splitter; MixMatch on its split (module docstring)."""

    name = "splitnet"
    Options = SplitNetOptions
    tasks = frozenset({"classification"})
    single_process = True

    def __init__(self, options: SplitNetOptions, run: Run) -> None:
        super().__init__(options, run)
        self.data = Batches(run)
        self.gen = torch.Generator().manual_seed(run.cfg.seed)
        self.epoch_state: dict[str, Any] | None = None  # features, targets, split, tau_t
        self.trained = False  # has SplitNet taken a step

    @classmethod
    def check_config(cls, cfg: RunConfig) -> None:
        if cfg.detection.method == "dynamics":
            raise ValueError(
                "detection.method must be 'kfold' or 'none' for method 'splitnet' (its "
                "MixMatch step records no training dynamics); got 'dynamics'"
            )

    def build_model(self, splits: Any) -> nn.Module:
        return SplitNetModel(self.run.adapter.build_model(splits), self.options.splitter_hidden)

    def model(self) -> SplitNetModel:
        m = self.run.accelerator.unwrap_model(self.nets[0].model)
        assert isinstance(m, SplitNetModel)
        return m

    # --- the epoch's split -----------------------------------------------------------------

    def epoch_batches(self, epoch: int, skip: int) -> Iterator[Any] | None:
        o = self.options
        if epoch < o.warmup_epochs:
            return None
        if self.epoch_state is None or self.epoch_state["epoch"] != epoch:
            model = self.model()
            probs, labels = self.data.predictions(model.main)
            feats = split_features(probs, labels)
            ce = -torch.log(probs.gather(1, labels[:, None]).squeeze(1).clamp_min(1e-12))
            w = codivide(ce)
            if self.trained:
                with torch.no_grad():
                    dev = next(model.splitter.parameters()).device
                    s = torch.sigmoid(model.clean_logit(feats.to(dev))).cpu().double().numpy()
            else:
                s = w
            self.epoch_state = {
                "epoch": epoch,
                "features": feats,
                "targets": torch.from_numpy(hedge_targets(w, o.hedge)),
                "clean_prob": torch.from_numpy(np.asarray(s, dtype=np.float64)),
                "tau": dynamic_threshold(s, o.tau),
            }
        return self._plan(epoch, skip)

    def _plan(self, epoch: int, skip: int) -> Iterator[dict[str, Any]]:
        assert self.epoch_state is not None
        bs = self.run.cfg.data.batch_size
        s = self.epoch_state["clean_prob"].numpy()
        g = np.random.default_rng([self.run.cfg.seed, epoch])
        lab = g.permutation(np.flatnonzero(s > 0.5))
        unl = g.permutation(np.flatnonzero(s <= 0.5))
        hedged = g.permutation(np.flatnonzero(self.epoch_state["targets"].numpy() >= 0))
        steps = math.ceil(max(len(lab), len(hedged), 1) / bs)
        for i in range(skip, steps):
            batch: dict[str, Any] = {}
            if len(lab):
                idx = np.resize(np.roll(lab, -i * bs), min(bs, len(lab)))
                batch["labeled"] = self.data.collate(idx)
                batch["w"] = torch.as_tensor(s[idx], dtype=torch.float32)
                idx_u = np.resize(np.roll(unl, -i * bs), min(bs, len(unl)))
                batch["unlabeled"] = self.data.collate(idx_u) if len(idx_u) else None
            if len(hedged):
                batch["hedged"] = torch.as_tensor(
                    np.resize(np.roll(hedged, -i * bs), min(bs, len(hedged)))
                )
            yield batch

    # --- one step --------------------------------------------------------------------------

    def step(self, batch: Any) -> StepOutput:
        run, o = self.run, self.options
        model = self.model()
        if run.state.epoch < o.warmup_epochs:
            u = run.adapter.units(model.main, batch)
            ce = F.cross_entropy(u.pred, u.target, reduction="none")
            self.check_finite(ce)
            loss = ce.mean() + (o.neg_entropy * neg_entropy(u.pred) if o.neg_entropy else 0.0)
            return StepOutput(loss, u, ce)
        assert self.epoch_state is not None
        dev = run.accelerator.device
        loss = torch.zeros((), device=dev)
        if "labeled" in batch:
            ramp = min(1.0, (run.state.epoch - o.warmup_epochs + 1) / o.rampup_epochs)
            augment, forward = view_fns(run)
            lab, unl = batch["labeled"], batch["unlabeled"]
            loss = loss + dividemix_loss(
                forward,
                model.main,
                model.main,
                lab["x"],
                lab["target"],
                batch["w"].to(dev),
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
        if "hedged" in batch and o.splitter_weight > 0:
            idx = batch["hedged"]
            feats = self.epoch_state["features"][idx].to(dev)
            target = self.epoch_state["targets"][idx].to(dev)
            bce = F.binary_cross_entropy_with_logits(model.clean_logit(feats), target)
            loss = loss + o.splitter_weight * bce
            self.trained = True
        if not loss.requires_grad:  # nothing labeled nor hedged: a zero step
            loss = loss + 0.0 * sum(p.sum() for p in model.splitter.parameters())
        self.check_finite(loss.view(1))
        return StepOutput(loss)

    # --- checkpointed state ----------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch_state": self.epoch_state,
            "trained": self.trained,
            "gen": self.gen.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch_state = state["epoch_state"]
        self.trained = bool(state["trained"])
        self.gen.set_state(state["gen"])
