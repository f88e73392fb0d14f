"""``tabasco``: two-stage bi-dimensional sample selection for noisy labels on long-tailed data.

Lu, Zhang, Han, Cheung & Wang, "Label-Noise Learning with Intrinsically Long-Tailed Data",
ICCV 2023 (authors' code: github.com/Wakings/TABASCO). Per noisy class ``c`` (the examples
labelled ``c``; ``p_i`` the softmax, ``f_i`` the penultimate features, eval mode):

* **WJSD** (weighted Jensen-Shannon divergence): with the class's mean prediction
  ``pbar_c``, ``w_i = clip(max_k p_ik / p_ic, 1, max_k pbar_ck / pbar_cc)`` and
  ``WJSD_i = w_i * JSD(p_i, onehot(c))`` (natural log);
* **ACD** (adaptive centroid distance): ``ptilde_c`` is ``pbar_c`` after each ``p_ia`` of the
  class's top class ``a = argmax pbar_c`` is scaled by ``max(1, p_ia / pbar_ca)``; the
  high-confidence examples predict ``a' = argmax ptilde_c`` with ``p_ia' > ptilde_ca'``; the
  centroid ``mu_c`` is the mean of their ``normalize(f - fbar)`` (``fbar`` the mean feature of
  the split; all of the class when none qualify) and ``ACD_i = <normalize(f_i - fbar), mu_c>``
  (a cosine similarity, as in the authors' code).

Stage 1: both metrics are min-max normalised within the class and each gets a 2-component GMM
(WJSD: the low-mean component is clean). Stage 2, the bimodality test of the authors' code:
the two ACD clusters are projected on the WJSD axis (mean and std of WJSD per ACD cluster,
each mean assigned to a WJSD component); WJSD is used when both ACD clusters fall in WJSD's
noisy component or when the std of the noisy-side cluster over the clean-side one is below
``std_ratio`` (0.65); otherwise ACD, where the high-similarity cluster is clean unless the
class's centroid is within ``centroid_margin`` (0.1, relative) of another class's centroid
(``softmax(mu mu^T)`` rows) that has more high-confidence examples: then the centroid was
captured by that (head) class and the far cluster is clean.

Training (the semi-supervised part, kept from the authors' DivideMix-based code): cross-entropy
for ``warmup_epochs``; then at the start of every epoch the selection above divides the split,
the selected examples are labeled (clean probability ``w`` = their GMM posterior), the rest are
unlabeled, and each step is MixMatch: refined targets ``sharpen(w y + (1 - w) p)``, guessed
targets ``sharpen(p)``, mixup with ``lambda = max(l, 1 - l)``, ``l ~ Beta(alpha, alpha)``; loss
= soft CE (labeled) + ``lambda_u`` (ramped over ``rampup_epochs``) x squared error
(unlabeled) + the uniform-prior penalty. An epoch has as many steps as the loop's loader.

Simplified: one network divides for itself (the authors train two networks, each on the
other's division, one view per step here instead of two, and test with both: that training is
method ``tabasco_codivide``); no negative-entropy penalty. ``tabasco.npz`` (after training):
the last selection mask, clean probabilities and the metric each class used (0 WJSD, 1 ACD).
One process.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labelnoise.common.selection.tabasco_select import acd, select, wjsd
from labelnoise.methods.base import StepOutput
from labelnoise.methods.standard import Standard

__all__ = ["Tabasco", "TabascoOptions", "acd", "predict_with_features", "select", "wjsd"]


@dataclass
class TabascoOptions:
    """The recipe's ``method:`` options (defaults: the authors' CIFAR-10 settings).

    Attributes:
        warmup_epochs: cross-entropy epochs before the first selection, >= 0 (10).
        temperature: sharpening temperature ``T`` > 0 (0.5).
        alpha: mixup ``Beta(alpha, alpha)``, >= 0 (4; 0: no mixup).
        lambda_u: weight of the unlabeled squared error, >= 0 (25).
        rampup_epochs: epochs of the linear ramp of ``lambda_u`` after warm-up, >= 1 (16).
        std_ratio: the bimodality test's std-ratio threshold, > 0 (0.65).
        centroid_margin: relative margin of the captured-centroid test, >= 0 (0.1).
    """

    warmup_epochs: int = 10
    temperature: float = 0.5
    alpha: float = 4.0
    lambda_u: float = 25.0
    rampup_epochs: int = 16
    std_ratio: float = 0.65
    centroid_margin: float = 0.1

    def __post_init__(self) -> None:
        for key, lo in (("warmup_epochs", 0), ("rampup_epochs", 1)):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"method.{key} must be an integer >= {lo}; got {v!r}")
        for key in ("temperature", "std_ratio"):
            v = getattr(self, key)
            if not np.isfinite(v) or v <= 0:
                raise ValueError(f"method.{key} must be a finite number > 0; got {v!r}")
        for key in ("alpha", "lambda_u", "centroid_margin"):
            v = getattr(self, key)
            if not np.isfinite(v) or v < 0:
                raise ValueError(f"method.{key} must be a finite number >= 0; got {v!r}")


def _sharpen(p: Tensor, t: float) -> Tensor:
    p = p ** (1.0 / t)
    return p / p.sum(1, keepdim=True)


@torch.no_grad()
def predict_with_features(run: Any, model: nn.Module) -> tuple[Tensor, Tensor, Tensor]:
    """Softmax ``(N, C)``, penultimate features ``(N, D)`` (the input of the model's last
    ``nn.Linear``) and noisy labels ``(N,)`` of the training split, in example order, from
    ``model`` (unwrapped) in eval mode (its mode is restored after)."""
    from labelnoise.engine.data import eval_loader
    from labelnoise.tasks.base import move_to

    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    grab: list[Tensor] = []
    hook = last.register_forward_hook(lambda m, i, o: grab.append(i[0].detach()))
    n = len(run.train_split)
    probs, feats = torch.zeros(n, run.splits.num_classes), None
    labels = torch.zeros(n, dtype=torch.long)
    loader = eval_loader(run.train_split, run.adapter, batch_size=run.cfg.data.eval_batch_size)
    was = model.training
    model.eval()
    try:
        for batch in loader:
            grab.clear()
            u = run.adapter.units(model, move_to(batch, run.accelerator.device))
            ids = u.example_id.cpu()
            f = grab[-1].float().flatten(1).cpu()
            feats = torch.zeros(n, f.shape[1]) if feats is None else feats
            probs[ids], feats[ids] = u.pred.float().softmax(1).cpu(), f
            labels[ids] = u.target.long().cpu()
    finally:
        hook.remove()
        model.train(was)
    assert feats is not None
    return probs, feats, labels


class Tabasco(Standard):
    """Cross-entropy warm-up, then TABASCO selection + MixMatch (module docstring)."""

    name = "tabasco"
    Options = TabascoOptions
    tasks = frozenset({"classification"})
    single_process = True

    def __init__(self, options: TabascoOptions, run: Any) -> None:
        super().__init__(options, run)
        self.prob: np.ndarray | None = None
        self.selected: np.ndarray | None = None
        self.metric: np.ndarray | None = None
        self.prob_epoch = -1
        self.gen = torch.Generator().manual_seed(run.cfg.seed)

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        if cfg.detection.method == "dynamics":
            raise ValueError(
                "detection.method must be 'kfold' or 'none' for method 'tabasco' (its MixMatch "
                "step records no training dynamics); got 'dynamics'"
            )

    def epoch_batches(self, epoch: int, skip: int) -> Iterator[Any] | None:
        if epoch < self.options.warmup_epochs:
            return None
        if self.prob_epoch != epoch:
            probs, feats, labels = self._predict()
            self.selected, self.prob, self.metric = select(
                probs,
                feats,
                labels,
                self.run.splits.num_classes,
                std_ratio=self.options.std_ratio,
                centroid_margin=self.options.centroid_margin,
                seed=self.run.cfg.seed,
            )
            if not self.selected.any():  # nothing selected: all labeled, as given
                self.selected[:], self.prob[:] = True, 1.0
            self.prob_epoch = epoch
        return self._plan(epoch, skip)

    def _predict(self) -> tuple[Tensor, Tensor, Tensor]:
        return predict_with_features(
            self.run, self.run.accelerator.unwrap_model(self.nets[0].model)
        )

    def _plan(self, epoch: int, skip: int) -> Iterator[dict[str, Any]]:
        assert self.selected is not None and self.prob is not None
        bs, n = self.run.cfg.data.batch_size, len(self.run.train_split)
        g = np.random.default_rng([self.run.cfg.seed, epoch])
        lab = g.permutation(np.flatnonzero(self.selected))
        unl = g.permutation(np.flatnonzero(~self.selected))
        for i in range(skip, math.ceil(n / bs)):
            idx_l = np.resize(np.roll(lab, -i * bs), min(bs, len(lab)))
            idx_u = np.resize(np.roll(unl, -i * bs), min(bs, len(unl)))
            yield {
                "labeled": self._collate(idx_l),
                "unlabeled": self._collate(idx_u) if len(idx_u) else None,
                "w": torch.as_tensor(self.prob[idx_l], dtype=torch.float32),
            }

    def _collate(self, idx: np.ndarray) -> dict[str, Any]:
        from labelnoise.tasks.base import move_to

        batch = self.run.adapter.collate([self.run.train_split[int(i)] for i in idx])
        return move_to(batch, self.run.accelerator.device)

    def step(self, batch: Any) -> StepOutput:
        run, o = self.run, self.options
        if "labeled" not in batch:
            return super().step(batch)
        model, c = self.nets[0].model, run.splits.num_classes
        lab, unl = batch["labeled"], batch["unlabeled"]
        x_l, y_l = lab["x"], lab["target"]
        x_u = unl["x"] if unl is not None else x_l[:0]
        with torch.no_grad():
            w = batch["w"].to(x_l.device).float().view(-1, 1)
            p_l = self._forward(model, x_l).softmax(1)
            t_l = _sharpen(w * F.one_hot(y_l, c).float() + (1 - w) * p_l, o.temperature)
            t_u = _sharpen(self._forward(model, x_u).softmax(1), o.temperature)
        x_all, t_all = torch.cat([x_l, x_u]), torch.cat([t_l, t_u])
        lam = float(torch.distributions.Beta(o.alpha, o.alpha).sample()) if o.alpha > 0 else 1.0
        lam = max(lam, 1 - lam)
        perm = torch.randperm(len(x_all), generator=self.gen).to(x_all.device)
        logits = self._forward(model, lam * x_all + (1 - lam) * x_all[perm])
        t_mix = lam * t_all + (1 - lam) * t_all[perm]
        k = len(x_l)
        loss = -(F.log_softmax(logits[:k], 1) * t_mix[:k]).sum(1).mean()
        if len(x_u):
            ramp = min(1.0, (run.state.epoch - o.warmup_epochs + 1) / o.rampup_epochs)
            loss = loss + o.lambda_u * ramp * ((logits[k:].softmax(1) - t_mix[k:]) ** 2).mean()
        mean_p = logits.softmax(1).mean(0)
        loss = loss + (torch.log(1.0 / c / mean_p) / c).sum()  # sum_c pi_c log(pi_c / mean p_c)
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

    def after_training(self) -> None:
        if self.selected is None or self.prob is None or self.metric is None:
            return
        if self.run.accelerator.is_main_process:
            np.savez(
                self.run.run_dir / "tabasco.npz",
                selected=self.selected,
                prob=self.prob,
                metric=self.metric,
            )

    def state_dict(self) -> dict[str, Any]:
        def t(a: np.ndarray | None) -> Tensor | None:
            return None if a is None else torch.as_tensor(a)

        return {
            "prob": t(self.prob),
            "selected": t(self.selected),
            "metric": t(self.metric),
            "prob_epoch": self.prob_epoch,
            "gen": self.gen.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in ("prob", "selected", "metric"):
            v = state[key]
            setattr(self, key, None if v is None else v.numpy())
        self.prob_epoch = int(state["prob_epoch"])
        self.gen.set_state(state["gen"])
