"""``GraphAdapter`` ("graph"): node classification with noisy labels for the generic engine.

Items are nodes: ``{"node": node id, "example_id": position in its split, "target",
"clean_target"}``; a batch is a set of node ids. :meth:`GraphAdapter.units` runs one
full-graph forward pass of the model (which holds the graph as buffers) and returns the units
of the batch's nodes, so every core loss and selector applies per node (``example_id`` is the
node's index within its split, as selectors expect ids in ``[0, len(split))``).

Noise (``noise.kind``): ``erase_symm`` / ``erase_asymm`` (ERASE's protocol, training labels
only, seed ``123 + 100 * noise.run``), or the core simulators ``symmetric`` / ``pair_flip``
on the training labels; ``none``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor, nn
from torch.utils.data import Dataset

from labelnoise.common.noise import pair_flip_noise, symmetric_noise
from labelnoise.common.units import Units
from labelnoise.tasks.base import DatasetSplits, TaskAdapter
from labelnoise.tasks.graph.data import GraphData, normalize_features
from labelnoise.tasks.graph.edgelist import read_edgelist
from labelnoise.tasks.graph.models import build_model
from labelnoise.tasks.graph.noise import erase_noise, erase_seed
from labelnoise.tasks.graph.planetoid import read_planetoid

__all__ = ["GraphAdapter", "GraphConfig", "GraphNoiseConfig", "corrupt_graph", "load_graph"]

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
        model: ``gcn``, ``gat``, ``appnp``.
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
        kind = noise.kind.removeprefix("erase_")
        return erase_noise(
            graph.y, graph.train_idx, k, noise.rate, kind=kind, seed=erase_seed(noise.run)
        ).noisy
    sim = symmetric_noise if noise.kind == "symmetric" else pair_flip_noise
    s = seed if noise.seed is None else noise.seed
    out = graph.y.clone()
    out[graph.train_idx] = sim(graph.y[graph.train_idx], k, noise.rate, seed=s).noisy
    return out


class NodeDataset(Dataset):
    """The nodes of one split as items."""

    def __init__(self, nodes: Tensor, target: Tensor, clean: Tensor) -> None:
        self.nodes, self.target, self.clean = nodes, target, clean

    def __len__(self) -> int:
        return int(self.nodes.numel())

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {
            "node": self.nodes[i],
            "example_id": i,
            "target": self.target[i],
            "clean_target": self.clean[i],
        }


class GraphModel(nn.Module):
    """A GNN bound to its graph: ``forward(nodes) -> (len(nodes), K)`` logits of a
    full-graph pass (the graph travels with the module as buffers)."""

    def __init__(self, net: nn.Module, x: Tensor, edge_index: Tensor) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("x", x, persistent=False)
        self.register_buffer("edge_index", edge_index, persistent=False)

    def forward(self, nodes: Tensor) -> Tensor:
        return self.net(self.x, self.edge_index)[nodes]


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

    def build_model(self, splits: DatasetSplits) -> nn.Module:
        cfg: GraphConfig = self.config
        g: GraphData = self.graph
        net = build_model(
            cfg.model, g.num_features, g.num_classes, hidden=cfg.hidden, dropout=cfg.dropout
        )
        return GraphModel(net, g.x, g.edge_index)

    def units(
        self, model: nn.Module, batch: dict[str, Any], *, target_key: str = "target"
    ) -> Units:
        logits = model(batch["node"].long())
        return Units(logits, batch[target_key].long(), batch["example_id"].long())
