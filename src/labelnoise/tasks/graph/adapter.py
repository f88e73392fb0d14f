"""``GraphAdapter`` ("graph"): node classification with noisy labels on the engine.

Items are nodes: ``{"node": node id, "example_id": position in its split, "target",
"clean_target"}`` (and ``"weight"`` when a method weights them); a batch is a set of node ids
(built in one indexing step, :class:`NodeDataset`). :meth:`GraphAdapter.units` runs one
full-graph forward pass of the model (which holds the graph as buffers; ``ppr_mlp`` only the
batch's rows of its precomputed features) and returns the units of the batch's nodes, so
every core loss and selector applies per node (``example_id`` is the node's index within its
split, as selectors expect ids in ``[0, len(split))``). With ``data.batch_size`` at least the
number of training nodes an epoch is one full-batch step, ERASE's training.

Noise (``noise.kind``): ``erase_symm`` / ``erase_asymm`` (ERASE's protocol, training labels
only, seed ``123 + 100 * noise.run``), or the core simulators ``symmetric`` / ``pair_flip``
on the training labels; ``none``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from labelnoise.common.noise import pair_flip_noise, symmetric_noise
from labelnoise.common.units import Units
from labelnoise.tasks.base import DatasetSplits, TaskAdapter
from labelnoise.tasks.graph.data import GraphData, normalize_features
from labelnoise.tasks.graph.edgelist import read_edgelist
from labelnoise.tasks.graph.models import build_model, ppr_features
from labelnoise.tasks.graph.noise import erase_noise, erase_seed
from labelnoise.tasks.graph.planetoid import read_planetoid

__all__ = [
    "GraphAdapter",
    "GraphConfig",
    "GraphNoiseConfig",
    "NodeDataset",
    "corrupt_graph",
    "load_graph",
    "node_split",
]

_KINDS = ("none", "erase_symm", "erase_asymm", "symmetric", "pair_flip")


@dataclass
class GraphNoiseConfig:
    """Label noise on the training nodes.

    Attributes:
        kind: ``none``, ``erase_symm``, ``erase_asymm``, ``symmetric``, ``pair_flip``.
        rate: noise rate ``r``.
        run: ERASE run index ``k`` (seed ``123 + 100 k``) for the ``erase_*`` kinds.
        seed: seed of the core simulators (null: the run seed).
    """

    kind: str = "none"
    rate: float = 0.0
    run: int = 0
    seed: int | None = None


@dataclass
class GraphConfig:
    """Options of the ``graph`` task.

    Attributes:
        dataset: Planetoid name (``cora``, ``citeseer``, ``pubmed``: raw files under
            ``data_dir/planetoid/<name>``), or a path to an ``.npz`` / CSV folder (relative
            paths are under ``data_dir``; see :mod:`~labelnoise.tasks.graph.edgelist`).
        undirected: add reverse edges when reading an edge list.
        normalize: row-normalise features (PyG's ``NormalizeFeatures``).
        model: ``gcn``, ``gat``, ``appnp``, or ``ppr_mlp`` (an MLP on the personalised-PageRank
            features of the graph, computed once; what the ``ppl`` method trains).
        hidden, dropout: width and dropout (null: the paper's).
    """

    dataset: str = "cora"
    undirected: bool = True
    normalize: bool = True
    model: str = "gcn"
    hidden: int | None = None
    dropout: float | None = None
    noise: GraphNoiseConfig = field(default_factory=GraphNoiseConfig)


def load_graph(dataset: str, data_dir: Path | None, *, undirected: bool = True) -> GraphData:
    """Read a Planetoid dataset by name or an edge-list file/folder by path."""
    root = Path(data_dir) if data_dir is not None else None
    if dataset.lower() in ("cora", "citeseer", "pubmed"):
        if root is None:
            raise FileNotFoundError(f"data_dir must be given for dataset {dataset!r}; got None")
        sub = root / "planetoid" / dataset.lower()
        return read_planetoid(sub if sub.is_dir() else root, dataset)
    path = Path(dataset)
    if not path.is_absolute() and root is not None:
        path = root / path
    return read_edgelist(path, undirected=undirected, name=path.stem)


def corrupt_graph(graph: GraphData, noise: GraphNoiseConfig, *, seed: int) -> Tensor:
    """``(N,)`` labels with the training labels corrupted as ``noise`` says."""
    if noise.kind not in _KINDS:
        raise ValueError(f"noise.kind must be one of {', '.join(_KINDS)}; got {noise.kind!r}")
    if noise.kind == "none":
        return graph.y.clone()
    k = graph.num_classes
    if noise.kind.startswith("erase_"):
        kind: Literal["symm", "asymm"] = "symm" if noise.kind == "erase_symm" else "asymm"
        return erase_noise(
            graph.y, graph.train_idx, k, noise.rate, kind=kind, seed=erase_seed(noise.run)
        ).noisy
    sim = symmetric_noise if noise.kind == "symmetric" else pair_flip_noise
    s = seed if noise.seed is None else noise.seed
    out = graph.y.clone()
    out[graph.train_idx] = sim(graph.y[graph.train_idx], k, noise.rate, seed=s).noisy
    return out


class NodeDataset(Dataset):
    """The nodes of one split as items; ``weight`` (optional ``(M,)``) adds a per-node
    ``"weight"`` that :meth:`GraphAdapter.units` passes on as ``Units.weight``.

    ``__getitems__`` returns a whole batch as one dict of tensors (what collating the items
    gives), so a loader over thousands of nodes builds no per-node dicts."""

    def __init__(
        self, nodes: Tensor, target: Tensor, clean: Tensor, weight: Tensor | None = None
    ) -> None:
        self.nodes, self.target, self.clean, self.weight = nodes, target, clean, weight

    def __len__(self) -> int:
        return int(self.nodes.numel())

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = {
            "node": self.nodes[i],
            "example_id": i,
            "target": self.target[i],
            "clean_target": self.clean[i],
        }
        if self.weight is not None:
            item["weight"] = self.weight[i]
        return item

    def __getitems__(self, indices: list[int]) -> dict[str, Any]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        batch = {
            "node": self.nodes[idx],
            "example_id": idx,
            "target": self.target[idx],
            "clean_target": self.clean[idx],
        }
        if self.weight is not None:
            batch["weight"] = self.weight[idx]
        return batch

    def tensors(self) -> dict[str, Tensor]:
        """The items as columns (the engine's in-memory fast path cuts batches from them)."""
        return self.__getitems__(list(range(len(self))))


def node_split(ds: Any) -> NodeDataset:
    """A graph split as one :class:`NodeDataset` (``example_id`` order): itself, or the
    items of a wrapped split (``data.limit``) stacked."""
    if isinstance(ds, NodeDataset):
        return ds
    items = [ds[i] for i in range(len(ds))]
    return NodeDataset(
        torch.stack([torch.as_tensor(it["node"]) for it in items]),
        torch.stack([torch.as_tensor(it["target"]) for it in items]),
        torch.stack([torch.as_tensor(it["clean_target"]) for it in items]),
    )


def node_labels(ds: Any, num_nodes: int) -> tuple[NodeDataset, Tensor, Tensor, Tensor]:
    """A training split's ``(split, nodes (M,), noisy (M,), labels (num_nodes,))``: the split
    as :func:`node_split`, its node ids and given labels, and a full-graph label vector that
    holds them at ``nodes`` (0 elsewhere; read only at ``nodes``)."""
    split = node_split(ds)
    nodes, noisy = split.nodes.long(), split.target.long()
    labels = torch.zeros(num_nodes, dtype=torch.long)
    labels[nodes] = noisy
    return split, nodes, noisy, labels


class GraphModel(nn.Module):
    """A GNN bound to its graph: ``forward(nodes) -> (len(nodes), K)`` logits of a
    full-graph pass (the graph travels with the module as buffers).

    In eval mode without gradients the full-graph logits are cached until a parameter
    changes (in-place updates bump ``Tensor._version``), so evaluating the validation split
    twice (noisy and clean labels) and the test split costs one pass.
    """

    def __init__(self, net: nn.Module, x: Tensor, edge_index: Tensor) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("x", x, persistent=False)
        self.register_buffer("edge_index", edge_index, persistent=False)
        self._cache: tuple[tuple[Any, ...], Tensor] | None = None

    def _key(self) -> tuple[Any, ...]:
        params = tuple((p.data_ptr(), p._version) for p in self.parameters())
        return (params, id(self.x), torch.is_autocast_enabled())

    def forward(self, nodes: Tensor) -> Tensor:
        if self.training or torch.is_grad_enabled():
            self._cache = None
            return self.net(self.x, self.edge_index)[nodes]
        key = self._key()
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self.net(self.x, self.edge_index))
        return self._cache[1][nodes]


class RowModel(nn.Module):
    """A decoupled model bound to its precomputed node features (``ppr_mlp`` on
    :func:`~labelnoise.tasks.graph.models.ppr_features`): ``forward(nodes) = net(z[nodes])``,
    only the batch's rows are computed."""

    z: Tensor

    def __init__(self, net: nn.Module, z: Tensor) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("z", z, persistent=False)

    def forward(self, nodes: Tensor) -> Tensor:
        return self.net(self.z[nodes])


class GraphAdapter(TaskAdapter):
    """Node classification: one unit per node (see the module docstring)."""

    name = "graph"
    Config = GraphConfig

    def build_datasets(self, data_dir: Path | None, *, seed: int) -> DatasetSplits:
        cfg: GraphConfig = self.config
        graph = load_graph(cfg.dataset, data_dir, undirected=cfg.undirected)
        if cfg.normalize:
            graph = normalize_features(graph)
        noisy = corrupt_graph(graph, cfg.noise, seed=seed)
        self.graph = graph
        tr, va, te = graph.train_idx, graph.val_idx, graph.test_idx
        info = {
            "num_nodes": graph.num_nodes,
            "num_edges": graph.num_edges,
            "num_train": int(tr.numel()),
            "num_val": int(va.numel()),
            "num_test": int(te.numel()),
            "noise": cfg.noise.kind,
            "noise_rate_realised": float((noisy[tr] != graph.y[tr]).double().mean()),
        }
        return DatasetSplits(
            train=NodeDataset(tr, noisy[tr], graph.y[tr]),
            val=NodeDataset(va, graph.y[va], graph.y[va]),
            test=NodeDataset(te, graph.y[te], graph.y[te]),
            num_classes=graph.num_classes,
            info=info,
        )

    def ppr_features(self) -> Tensor:
        """``(N, F)`` :func:`~labelnoise.tasks.graph.models.ppr_features` of the graph
        (computed once per adapter; the ``ppr_mlp`` model's input and PPL's representation)."""
        if getattr(self, "_ppr", None) is None:
            self._ppr = ppr_features(self.graph.x, self.graph.edge_index)
        return self._ppr

    def build_model(self, splits: DatasetSplits) -> nn.Module:
        cfg: GraphConfig = self.config
        g: GraphData = self.graph
        net = build_model(
            cfg.model, g.num_features, g.num_classes, hidden=cfg.hidden, dropout=cfg.dropout
        )
        if cfg.model == "ppr_mlp":
            return RowModel(net, self.ppr_features())
        # bag-of-words features are ~1 % dense: GCN / APPNP multiply (and drop out) the sparse
        # matrix; GAT densifies it anyway
        x = g.x if cfg.model == "gat" or g.x.is_sparse else g.x.to_sparse()
        return GraphModel(net, x, g.edge_index)

    collates_columns = True  # NodeDataset batches are its tensors() columns cut by index

    def collate(self, items: Any) -> dict[str, Any]:
        if isinstance(items, dict):  # a whole batch from NodeDataset.__getitems__
            return items
        return super().collate(items)

    def units(
        self, model: nn.Module, batch: dict[str, Any], *, target_key: str = "target"
    ) -> Units:
        logits = model(batch["node"].long())
        weight = batch.get("weight")
        return Units(
            logits,
            batch[target_key].long(),
            batch["example_id"].long(),
            None if weight is None else weight.float(),
        )
