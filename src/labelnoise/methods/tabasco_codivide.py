"""``tabasco_codivide``: TABASCO as its authors train it, two networks dividing for each other.

Lu, Zhang, Han, Cheung & Wang, "Label-Noise Learning with Intrinsically Long-Tailed Data",
ICCV 2023. The authors' code (github.com/Wakings/TABASCO) is DivideMix (Li et al., ICLR 2020)
with its division replaced: after ``warmup_epochs`` of cross-entropy on both networks, at the
start of every epoch each network's softmax and penultimate features on the training split
(eval mode, no augmentation) go through TABASCO's two-stage selection
(:func:`labelnoise.common.selection.tabasco_select.select`: per noisy class, WJSD or ACD
chosen by the bimodality test, a 2-component GMM on the chosen metric); the selected examples
are labeled with clean probability ``w`` = their GMM posterior, the rest unlabeled, and the
**peer's** division trains each network. Each step is DivideMix's: views, label co-refinement
``sharpen(w y + (1 - w) p)``, co-guessing with both networks, MixMatch with ``lambda_u``
ramped over ``rampup_epochs``, the uniform-prior penalty; the test answer is both networks'
mean softmax (``ensemble``).

Compared with ``tabasco`` (one network dividing for itself, one view per step), this is the
published training; its simplifications are DivideMix's in this library (both networks in one
step, one optimizer: :mod:`labelnoise.methods.dividemix`). ``tabasco.npz`` (after training):
each network's last selection ``(2, N)``, clean probabilities ``(2, N)`` and the metric each
class used ``(2, C)`` (0 WJSD, 1 ACD, -1 fewer than 4 examples). One process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from labelnoise.common.selection.tabasco_select import select
from labelnoise.methods.dividemix import DivideMix, DivideMixOptions
from labelnoise.methods.tabasco import TabascoOptions, predict_with_features

__all__ = ["TabascoCoDivide", "TabascoCoDivideOptions"]


@dataclass
class TabascoCoDivideOptions:
    """The recipe's ``method:`` options (defaults: the authors' CIFAR-10 settings).

    Attributes:
        warmup_epochs: cross-entropy epochs of both networks before the first division (10).
        temperature: sharpening temperature ``T`` (0.5).
        alpha: Beta(alpha, alpha) of mixup (4).
        lambda_u: weight of the unlabeled squared error (25), ramped over ``rampup_epochs``.
        rampup_epochs: epochs of the ramp (16).
        views: augmented views per example (2; a task without augmentation draws one).
        neg_entropy: weight of the warm-up confidence penalty (0).
        ensemble: evaluate with both networks' mean softmax (True).
        std_ratio: the bimodality test's std-ratio threshold, > 0 (0.65).
        centroid_margin: relative margin of the captured-centroid test, >= 0 (0.1).
    """

    warmup_epochs: int = 10
    temperature: float = 0.5
    alpha: float = 4.0
    lambda_u: float = 25.0
    rampup_epochs: int = 16
    views: int = 2
    neg_entropy: float = 0.0
    ensemble: bool = True
    std_ratio: float = 0.65
    centroid_margin: float = 0.1

    def __post_init__(self) -> None:  # the shared fields are checked by their own classes
        DivideMixOptions(
            warmup_epochs=self.warmup_epochs,
            temperature=self.temperature,
            alpha=self.alpha,
            lambda_u=self.lambda_u,
            rampup_epochs=self.rampup_epochs,
            views=self.views,
            neg_entropy=self.neg_entropy,
            ensemble=self.ensemble,
        )
        TabascoOptions(std_ratio=self.std_ratio, centroid_margin=self.centroid_margin)


class TabascoCoDivide(DivideMix):
    """DivideMix with TABASCO's selection as each network's division (module docstring)."""

    name = "tabasco_codivide"
    Options = TabascoCoDivideOptions  # type: ignore[assignment]

    def __init__(self, options: TabascoCoDivideOptions, run: Any) -> None:
        super().__init__(options, run)  # type: ignore[arg-type]
        self.metric: list[np.ndarray] | None = None  # each network's metric per class

    def divide(self) -> list[np.ndarray]:
        """Each network's TABASCO selection as clean probabilities ``(N,)``: the GMM posterior
        (>= 0.5) where selected, 0 elsewhere, so the selection is ``prob > 0``."""
        o, run = self.options, self.run
        prob, metric = [], []
        for m in self.members():
            probs, feats, labels = predict_with_features(run, m)
            s, p, c = select(
                probs,
                feats,
                labels,
                run.splits.num_classes,
                std_ratio=o.std_ratio,
                centroid_margin=o.centroid_margin,
                seed=run.cfg.seed,
            )
            if not s.any():  # nothing selected: all labeled, as given
                p[:] = 1.0
            prob.append(p)
            metric.append(c)
        self.metric = metric
        return prob

    def labeled_mask(self, k: int) -> np.ndarray:
        """Network ``k`` trains on the peer's selected examples."""
        assert self.prob is not None
        return self.prob[1 - k] > 0

    def after_training(self) -> None:
        if self.prob is None or self.metric is None:
            return
        if self.run.accelerator.is_main_process:
            prob = np.stack(self.prob)
            np.savez(
                self.run.run_dir / "tabasco.npz",
                selected=prob > 0,
                prob=prob,
                metric=np.stack(self.metric),
            )

    def state_dict(self) -> dict[str, Any]:
        metric = None if self.metric is None else [torch.as_tensor(a) for a in self.metric]
        return {**super().state_dict(), "metric": metric}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        metric = state.get("metric")
        self.metric = None if metric is None else [a.numpy() for a in metric]
