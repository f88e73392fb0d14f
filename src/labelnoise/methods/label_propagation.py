"""``label_propagation``: label-propagation pre-correction of the training labels, then the
standard step (graph node classification).

Before the loaders are built, each training label ``y_i`` is replaced by
``argmax_c a_ic`` when the leave-one-out label-propagation scores ``a_i`` of the *other*
training labels (``Y <- (1 - alpha) S Y + alpha Y0``, ``k`` steps, Zhou et al., NIPS 2004)
exceed ``a_i[y_i]`` by ``margin`` (:func:`~labelnoise.tasks.graph.propagation.lp_correct`;
ERASE, Chen et al., CIKM 2024, pre-corrects its labels by propagation). The run then trains
:mod:`~labelnoise.methods.standard`'s step (configured loss and selector) on the corrected
labels; the task's split keeps the original noisy labels (detection, outputs).

``label_propagation.json`` in the run directory: the training examples (split positions)
whose label was changed, their original and corrected labels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from torch.utils.data import Dataset

from labelnoise._io import atomic_write
from labelnoise.methods.standard import Standard
from labelnoise.tasks.graph.adapter import GraphAdapter, NodeDataset, node_labels
from labelnoise.tasks.graph.propagation import lp_correct

__all__ = ["LabelPropagation", "LabelPropagationOptions"]


@dataclass
class LabelPropagationOptions:
    """Options of ``method: {name: label_propagation}``.

    Attributes:
        k: propagation steps (default 10).
        alpha: restart probability in ``(0, 1]`` (default 0.1).
        margin: how much the neighbours' best class must beat the given label, in ``[0, 1)``
            (default 0.2).
    """

    k: int = 10
    alpha: float = 0.1
    margin: float = 0.2

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"method.k must be >= 1; got {self.k!r}")
        if not 0 < self.alpha <= 1:
            raise ValueError(f"method.alpha must be in (0, 1]; got {self.alpha!r}")
        if not 0 <= self.margin < 1:
            raise ValueError(f"method.margin must be in [0, 1); got {self.margin!r}")


class LabelPropagation(Standard):
    """The standard step on label-propagation-corrected training labels."""

    name = "label_propagation"
    Options = LabelPropagationOptions
    tasks = frozenset({"graph"})

    def train_dataset(self, train: Dataset) -> Dataset:
        o, adapter = self.options, self.run.adapter
        assert isinstance(adapter, GraphAdapter)
        graph = adapter.graph
        split, nodes, noisy, labels = node_labels(train, graph.num_nodes)
        fixed = lp_correct(
            labels,
            graph.edge_index,
            nodes,
            graph.num_classes,
            k=o.k,
            alpha=o.alpha,
            margin=o.margin,
        )[nodes]
        self.noisy, self.fixed = noisy, fixed
        return NodeDataset(nodes, fixed, split.clean, split.weight)

    def after_training(self) -> None:
        if not self.run.accelerator.is_main_process:
            return
        changed = (self.fixed != self.noisy).nonzero().flatten()
        with atomic_write(self.run.run_dir / "label_propagation.json") as f:
            json.dump(
                {
                    "changed": changed.tolist(),
                    "given": self.noisy[changed].tolist(),
                    "corrected": self.fixed[changed].tolist(),
                },
                f,
            )
