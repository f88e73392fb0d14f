"""``graphcleaner_drop``: drop the training nodes a neighbourhood-aware detector flags, then
the standard step (graph node classification).

Before the loaders are built, every training node gets the evidence
``e_ic = lam * p_ic + (1 - lam) * a_ic`` (:func:`~labelnoise.tasks.graph.detection.
graph_label_quality`, after GraphCleaner, Li et al., ICCV 2023) from ``p`` the prototype
teacher's probabilities (:func:`~labelnoise.tasks.graph.robust.prototype_probs` on the PPR
features; no training) and ``a`` the leave-one-out label-propagation scores of the other
training labels; a node is flagged when another class beats its label. Flagged nodes are
dropped from the loss: they stay in the training split with per-unit weight 0
(``Units.weight``), so with one full batch per epoch the step is exactly the
:mod:`~labelnoise.methods.standard` step on the kept nodes, while the split's example ids (and
the training dynamics of every node) stay those of the task. With minibatches a batch's loss
is the mean over its kept nodes; a selector still ranks every node of the batch.

``graphcleaner.json`` in the run directory: the flagged examples (split positions) and every
training node's label quality (``e_i[y_i]``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from torch.utils.data import Dataset

from labelnoise._io import atomic_write
from labelnoise.methods.standard import Standard
from labelnoise.tasks.graph.adapter import GraphAdapter, NodeDataset, node_labels
from labelnoise.tasks.graph.detection import graph_label_quality
from labelnoise.tasks.graph.robust import prototype_probs

__all__ = ["GraphCleanerDrop", "GraphCleanerDropOptions"]


@dataclass
class GraphCleanerDropOptions:
    """Options of ``method: {name: graphcleaner_drop}``.

    Attributes:
        lam: weight of the teacher in ``[0, 1]`` (1: teacher only, 0: neighbours only;
            default 0.5).
        k, alpha: label-propagation steps and restart probability (default 10, 0.1).
        clean_iters, temperature: of the prototype teacher (default 0, 0.05).
    """

    lam: float = 0.5
    k: int = 10
    alpha: float = 0.1
    clean_iters: int = 0
    temperature: float = 0.05

    def __post_init__(self) -> None:
        if not 0 <= self.lam <= 1:
            raise ValueError(f"method.lam must be in [0, 1]; got {self.lam!r}")
        if self.k < 1:
            raise ValueError(f"method.k must be >= 1; got {self.k!r}")
        if not 0 < self.alpha <= 1:
            raise ValueError(f"method.alpha must be in (0, 1]; got {self.alpha!r}")
        if self.clean_iters < 0:
            raise ValueError(f"method.clean_iters must be >= 0; got {self.clean_iters!r}")
        if not self.temperature > 0:
            raise ValueError(f"method.temperature must be > 0; got {self.temperature!r}")


class GraphCleanerDrop(Standard):
    """The standard step without the flagged training nodes."""

    name = "graphcleaner_drop"
    Options = GraphCleanerDropOptions
    tasks = frozenset({"graph"})

    def train_dataset(self, train: Dataset) -> Dataset:
        o, adapter = self.options, self.run.adapter
        assert isinstance(adapter, GraphAdapter)
        graph = adapter.graph
        split, nodes, noisy, labels = node_labels(train, graph.num_nodes)
        teacher = prototype_probs(
            adapter.ppr_features(),
            nodes,
            labels,
            graph.num_classes,
            clean_iters=o.clean_iters,
            temperature=o.temperature,
        )
        self.quality, self.issue = graph_label_quality(
            labels, teacher, graph.edge_index, nodes, lam=o.lam, k=o.k, alpha=o.alpha
        )
        keep = (~self.issue).float()
        weight = keep if split.weight is None else keep * split.weight
        return NodeDataset(nodes, split.target, split.clean, weight)

    def label_issues(self) -> tuple[np.ndarray, np.ndarray]:
        """``(quality, is_issue)`` of the training nodes (``detection.method: method``)."""
        return self.quality.double().cpu().numpy(), self.issue.cpu().numpy().astype(bool)

    def after_training(self) -> None:
        if not self.run.accelerator.is_main_process:
            return
        with atomic_write(self.run.run_dir / "graphcleaner.json") as f:
            json.dump(
                {
                    "issues": self.issue.nonzero().flatten().tolist(),
                    "quality": self.quality.tolist(),
                },
                f,
            )
