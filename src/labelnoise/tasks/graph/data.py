"""The in-memory graph every reader returns, with its boundary checks.

A :class:`GraphData` is a node-classification graph: node features, a directed ``edge_index``
(PyG's convention: both directions of an undirected edge are stored), one label per node and
index tensors of the train / validation / test nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from labelnoise.common._checks import as_long_tensor, check_finite, check_labels

__all__ = ["GraphData", "from_pyg", "normalize_features", "to_pyg"]


@dataclass(frozen=True)
class GraphData:
    """A node-classification graph.

    Attributes:
        x: ``(N, F)`` float node features.
        edge_index: ``(2, E)`` long, directed edges ``source -> target``.
        y: ``(N,)`` long labels (clean where known).
        train_idx, val_idx, test_idx: long node ids of each split.
        num_classes: ``K``.
        name: display name.
    """

    x: Tensor
    edge_index: Tensor
    y: Tensor
    train_idx: Tensor
    val_idx: Tensor
    test_idx: Tensor
    num_classes: int
    name: str = "graph"

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.shape[1])

    @property
    def num_features(self) -> int:
        return int(self.x.shape[1])


def validate_graph(
    x: Any,
    edge_index: Any,
    y: Any,
    train_idx: Any,
    val_idx: Any,
    test_idx: Any,
    *,
    num_classes: int | None = None,
    name: str = "graph",
    require_all_classes: bool = True,
) -> GraphData:
    """Check and convert the pieces of a graph into a :class:`GraphData`.

    Raises ``ValueError`` naming the argument for: features that are not 2-D or not finite,
    labels of the wrong length or out of range, an ``edge_index`` that is not ``(2, E)`` or
    points outside ``[0, N)``, split indices out of range, and (``require_all_classes``) a
    training split with no node of some class.
    """
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.dim() != 2:
        raise ValueError(f"x must have shape (N, F); got {tuple(x.shape)}")
    check_finite("x", x)
    n = int(x.shape[0])
    y = as_long_tensor("y", y).reshape(-1)
    if y.shape[0] != n:
        raise ValueError(f"y must have one label per node ({n}); got {y.shape[0]}")
    k = int(y.max()) + 1 if num_classes is None else int(num_classes)
    check_labels("y", y, k)
    ei = as_long_tensor("edge_index", edge_index)
    if ei.dim() != 2 or ei.shape[0] != 2:
        raise ValueError(f"edge_index must have shape (2, E); got {tuple(ei.shape)}")
    if ei.numel() and (int(ei.min()) < 0 or int(ei.max()) >= n):
        bad = int(ei.min()) if int(ei.min()) < 0 else int(ei.max())
        raise ValueError(f"edge_index must be in [0, {n}) (the number of nodes); got {bad}")
    splits = {}
    for split, idx in (("train_idx", train_idx), ("val_idx", val_idx), ("test_idx", test_idx)):
        t = as_long_tensor(split, idx).reshape(-1)
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n):
            raise ValueError(f"{split} must be node ids in [0, {n}); got max {int(t.max())}")
        splits[split] = t
    if splits["train_idx"].numel() == 0:
        raise ValueError("train_idx must not be empty; got 0 nodes")
    if require_all_classes:
        counts = torch.bincount(y[splits["train_idx"]], minlength=k)
        missing = (counts == 0).nonzero().flatten().tolist()
        if missing:
            raise ValueError(
                f"train_idx must hold at least one node of each of the {k} classes; "
                f"got none of class {missing}"
            )
    return GraphData(x, ei, y, num_classes=k, name=name, **splits)


def normalize_features(graph: GraphData) -> GraphData:
    """Row-normalise features to sum 1 (PyG's ``NormalizeFeatures``; all-zero rows stay 0)."""
    s = graph.x.sum(dim=1, keepdim=True).clamp_min(1e-12)
    return replace(graph, x=graph.x / s)


def from_pyg(data: Any, *, name: str = "graph", num_classes: int | None = None) -> GraphData:
    """Read a ``torch_geometric.data.Data`` with ``x, edge_index, y`` and boolean
    ``train_mask / val_mask / test_mask`` (or ``*_idx`` index tensors)."""
    idx = {}
    for split in ("train", "val", "test"):
        if getattr(data, f"{split}_idx", None) is not None:
            idx[split] = getattr(data, f"{split}_idx")
        elif getattr(data, f"{split}_mask", None) is not None:
            idx[split] = getattr(data, f"{split}_mask").nonzero().flatten()
        else:
            raise ValueError(f"data must carry {split}_mask or {split}_idx; got neither")
    return validate_graph(
        data.x,
        data.edge_index,
        data.y,
        idx["train"],
        idx["val"],
        idx["test"],
        num_classes=num_classes,
        name=name,
    )


def to_pyg(graph: GraphData) -> Any:
    """The graph as a ``torch_geometric.data.Data`` with boolean split masks."""
    from torch_geometric.data import Data

    def mask(idx: Tensor) -> Tensor:
        m = torch.zeros(graph.num_nodes, dtype=torch.bool)
        m[idx] = True
        return m

    return Data(
        x=graph.x,
        edge_index=graph.edge_index,
        y=graph.y,
        train_mask=mask(graph.train_idx),
        val_mask=mask(graph.val_idx),
        test_mask=mask(graph.test_idx),
    )
