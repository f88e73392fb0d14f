"""``graphcleaner``: GraphCleaner's trained mislabel detector, then a fresh network without the
detected training nodes (graph node classification).

Li, Zhou, Hooi et al., "GraphCleaner: Detecting Mislabelled Samples in Popular Graph Learning
Benchmarks", KDD 2023 (pieces in :mod:`labelnoise.tasks.graph.graphcleaner`). In the one loop::

    folds x base_epochs epochs: cross-fitted base models (the task's network 0, re-initialised
        per fold) with the configured loss on the training nodes outside fold f; P0 of the
        nodes of fold f = fold f's softmax at its best clean-validation epoch (out of sample,
        as cleanlab's confident joint needs); P0 of the other nodes = the folds' mean
        (``folds: 1``: one base model on every training node, P0 in sample)
    transition: cleanlab's confident joint of the training nodes' given labels and P0
        (labelnoise.common.detection), then its noise matrix P(given | true)
    held set (``held``): ``val`` (default; labels taken as correct, never trained on) or
        ``train``; sample_rate of it gets synthetic labels drawn from the transition
    detector: neighbourhood features (P0 and the known labels propagated 1..k hops, at the
        node's label) of the held set -> synthetic or not (logistic regression / MLP)
    detected: training nodes whose detector probability (features at their given label)
        exceeds ``threshold``
    epochs [folds x base_epochs, train.epochs): network 0 re-initialised (fresh optimizer state), the
        configured loss and selector on the training nodes, detected ones with weight 0
        (``drop: false`` keeps them: detection only); model selection restarts here

``graphcleaner.json`` in the run directory (as ``graphcleaner_drop``): ``issues`` (detected
training examples, split positions), ``quality`` (1 - detector probability per training node),
the estimated noise matrix and the number of synthetic mislabels.

Adapted to the ERASE protocol of this repository, where only the training labels are noisy and
the validation labels are clean: the paper estimates the transition on its (noisy) held
validation split and scores the test split; here the noise lives on the training nodes, so the
transition is estimated there and the training nodes are scored. The known-label matrix ``L``
holds the training labels, plus the validation labels when ``held: val``. Simplified: one P0
snapshot (best validation epoch) for both the features and the confident joint (the authors
take the features from the last epoch); the detector is scikit-learn's (no L1-loss training);
``threshold`` defaults to 0.5 (the authors' 0.97 is for their L1-trained MLP).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from labelnoise._io import atomic_write
from labelnoise.common.detection.confident_joint import compute_confident_joint
from labelnoise.common.detection.latent import estimate_latent
from labelnoise.methods.base import StepOutput
from labelnoise.methods.standard import Standard
from labelnoise.tasks.graph.adapter import GraphAdapter, node_labels
from labelnoise.tasks.graph.graphcleaner import (
    fit_detector,
    neighbourhood_features,
    sym_adjacency,
    synthetic_mislabels,
)

__all__ = ["GraphCleaner", "GraphCleanerOptions"]


@dataclass
class GraphCleanerOptions:
    """Options of ``method: {name: graphcleaner}``.

    Attributes:
        base_epochs: epochs of each base model, >= 1 (default 200, the authors').
        folds: cross-fitting folds of the base models, >= 1 (default 3; 1: in sample).
        k: hops of the neighbourhood features, in [1, 5] (default 3, the authors').
        sample_rate: share of the held set given synthetic labels, in (0, 1] (default 0.5).
        held: ``val`` or ``train`` (default ``val``).
        classifier: ``lr`` or ``mlp`` (default ``lr``).
        threshold: detector probability above which a node is detected, in (0, 1)
            (default 0.5).
        drop: give the detected nodes no loss in the retraining (default true).
    """

    base_epochs: int = 200
    folds: int = 3
    k: int = 3
    sample_rate: float = 0.5
    held: str = "val"
    classifier: str = "lr"
    threshold: float = 0.5
    drop: bool = True

    def __post_init__(self) -> None:
        if self.base_epochs < 1:
            raise ValueError(f"method.base_epochs must be >= 1; got {self.base_epochs!r}")
        if self.folds < 1:
            raise ValueError(f"method.folds must be >= 1; got {self.folds!r}")
        if not 1 <= self.k <= 5:
            raise ValueError(f"method.k must be in [1, 5]; got {self.k!r}")
        if not 0 < self.sample_rate <= 1:
            raise ValueError(f"method.sample_rate must be in (0, 1]; got {self.sample_rate!r}")
        if self.held not in ("val", "train"):
            raise ValueError(f"method.held must be 'val' or 'train'; got {self.held!r}")
        if self.classifier not in ("lr", "mlp"):
            raise ValueError(f"method.classifier must be 'lr' or 'mlp'; got {self.classifier!r}")
        if not 0 < self.threshold < 1:
            raise ValueError(f"method.threshold must be in (0, 1); got {self.threshold!r}")


class GraphCleaner(Standard):
    """Base model, trained detector, then the standard step without the detected nodes."""

    name = "graphcleaner"
    Options = GraphCleanerOptions
    tasks = frozenset({"graph"})
    single_process = True

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        from labelnoise.methods.registry import method_options

        o = method_options(cls.name, cfg.method.options)
        base = o.folds * o.base_epochs
        if cfg.train.epochs <= base:
            raise ValueError(
                f"train.epochs must exceed method.folds x method.base_epochs ({base}) for "
                f"method 'graphcleaner' (the final network trains after); got {cfg.train.epochs}"
            )
        if cfg.train.eval_every != 1:
            raise ValueError(
                f"train.eval_every must be 1 for method 'graphcleaner' (P0 is the base model's "
                f"best validation epoch); got {cfg.train.eval_every}"
            )
        if cfg.train.early_stopping is not None:
            raise ValueError(
                f"train.early_stopping must be null for method 'graphcleaner'; got "
                f"{cfg.train.early_stopping!r}"
            )

    def train_dataset(self, train: Dataset) -> Dataset:
        adapter = self.run.adapter
        assert isinstance(adapter, GraphAdapter)
        self.graph = adapter.graph
        _, self.train_nodes, self.noisy, _ = node_labels(train, self.graph.num_nodes)
        m = self.noisy.numel()
        self.keep = torch.ones(m)
        self.quality = torch.ones(m)
        self.best_probs: Tensor | None = None
        o, n, k = self.options, self.graph.num_nodes, self.graph.num_classes
        perm = torch.randperm(m, generator=torch.Generator().manual_seed(self.run.cfg.seed))
        self.fold = torch.empty(m, dtype=torch.long)
        self.fold[perm] = torch.arange(m) % o.folds
        self.p0 = torch.zeros(n, k)  # the folds' out-of-sample P0 (module docstring)
        self.info: dict[str, Any] = {}
        self.issues = torch.zeros(0, dtype=torch.long)
        return train

    def epoch_batches(self, epoch: int, skip: int) -> Iterable[Any] | None:
        o, state = self.options, self.run.state
        base = o.folds * o.base_epochs
        if 0 < epoch <= base and state.best_epoch == epoch:  # epoch - 1 is the fold's new best
            self.best_probs = self._probs()
        if 0 < epoch <= base and epoch % o.base_epochs == 0 and skip == 0:  # a fold ends
            self._end_fold(epoch // o.base_epochs - 1)
            if epoch == base:
                self._detect()
            self._restart()
            state.best_value, state.best_epoch, state.bad_evals = None, None, 0
        return None

    def _end_fold(self, f: int) -> None:
        """Keep fold ``f``'s best-validation probabilities: its held-out training nodes' rows,
        and its share of the mean on the other nodes."""
        probs = self.best_probs if self.best_probs is not None else self._probs()
        tr = self.train_nodes
        if self.options.folds == 1:
            self.p0 = probs.clone()
        else:
            others = torch.ones(self.graph.num_nodes, dtype=torch.bool)
            others[tr] = False
            self.p0[others] += probs[others] / self.options.folds
            mine = tr[self.fold == f]
            self.p0[mine] = probs[mine]
        self.best_probs = None

    def _probs(self) -> Tensor:
        """``(N, K)`` softmax of network 0 over every node (eval mode, no RNG drawn)."""
        model = self.nets[0].model
        was = model.training
        model.eval()
        with torch.no_grad():
            nodes = torch.arange(self.graph.num_nodes, device=self.run.accelerator.device)
            probs = F.softmax(model(nodes).float(), dim=1).cpu()
        model.train(was)
        return probs

    def _detect(self) -> None:
        o, g = self.options, self.graph
        p0 = self.p0.double().numpy()
        p0 = p0 / p0.sum(1, keepdims=True)
        tr, noisy = self.train_nodes.numpy(), self.noisy.numpy()
        n, k = g.num_nodes, g.num_classes
        cj = compute_confident_joint(noisy, p0[tr])
        assert isinstance(cj, np.ndarray)
        _, noise_matrix, _ = estimate_latent(cj, noisy)
        labels = np.zeros(n, dtype=np.int64)
        known = np.zeros((n, k))
        labels[tr] = noisy
        known[tr, noisy] = 1.0
        held = tr
        if o.held == "val":
            held = g.val_idx.numpy()
            labels[held] = g.y[held].numpy()
            known[held, labels[held]] = 1.0
        rng = np.random.default_rng(self.run.cfg.seed)
        corrupted, sampled = synthetic_mislabels(labels, held, noise_matrix, o.sample_rate, rng)
        s = sym_adjacency(g.edge_index.numpy(), n)
        y = np.isin(held, sampled).astype(np.int64)
        self.info = {"noise_matrix": noise_matrix.tolist(), "synthetic": int(y.sum())}
        if y.min() == y.max():  # nothing sampled (no class with estimated noise): detect none
            return
        x_fit = neighbourhood_features(s, p0, known, corrupted, o.k)[held]
        x_apply = neighbourhood_features(s, p0, known, labels, o.k)[tr]
        clf = fit_detector(x_fit, y, classifier=o.classifier, seed=self.run.cfg.seed)
        p_noisy = torch.from_numpy(clf.predict_proba(x_apply)[:, 1]).float()  # type: ignore[attr-defined]
        self.quality = 1.0 - p_noisy
        if o.drop:
            self.keep = (p_noisy <= o.threshold).float()
        self.issues = (p_noisy > o.threshold).nonzero().flatten()

    def _restart(self) -> None:
        net = self.nets[0]
        module = self.run.accelerator.unwrap_model(net.model)
        with torch.random.fork_rng():
            torch.manual_seed(self.run.cfg.seed + 7919)
            for m in module.modules():
                if m is not module and hasattr(m, "reset_parameters"):
                    m.reset_parameters()
        getattr(net.optimizer, "optimizer", net.optimizer).state.clear()

    def step(self, batch: Any) -> StepOutput:
        o, epoch = self.options, self.run.state.epoch
        if epoch >= o.folds * o.base_epochs:
            return self.weighted_step(self.nets[0].model, batch, example_weight=self.keep)
        if o.folds == 1:
            return self.weighted_step(self.nets[0].model, batch)
        outside = (self.fold != epoch // o.base_epochs).float()  # fold f's training nodes
        return self.weighted_step(self.nets[0].model, batch, example_weight=outside)

    def after_training(self) -> None:
        if not self.run.accelerator.is_main_process:
            return
        with atomic_write(self.run.run_dir / "graphcleaner.json") as f:
            out = {"issues": self.issues.tolist(), "quality": self.quality.tolist()}
            json.dump(out | self.info, f)

    def label_issues(self) -> tuple[np.ndarray, np.ndarray]:
        """``(quality, is_issue)`` of the training nodes: 1 - the detector's probability and
        the detected set (``detection.method: method`` scores them in ``metrics.json``)."""
        flagged = np.zeros(len(self.quality), dtype=bool)
        flagged[self.issues.cpu().numpy()] = True
        return self.quality.double().cpu().numpy(), flagged

    def state_dict(self) -> dict[str, Any]:
        return {
            "keep": self.keep,
            "quality": self.quality,
            "best_probs": self.best_probs,
            "p0": self.p0,
            "issues": self.issues,
            "info": json.dumps(self.info),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.keep, self.quality = state["keep"], state["quality"]
        self.best_probs, self.issues = state["best_probs"], state["issues"]
        self.p0 = state["p0"]
        self.info = json.loads(state["info"])
