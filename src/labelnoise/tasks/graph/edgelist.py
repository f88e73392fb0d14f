"""A generic graph on disk: edge list + features + labels, as one NPZ or three CSV files.

* NPZ (``numpy.load(allow_pickle=False)``): arrays ``x (N, F)``, ``edge_index (2, E)`` (or
  ``edges (E, 2)``), ``y (N,)``, and either ``train_idx / val_idx / test_idx`` or boolean
  ``train_mask / val_mask / test_mask``.
* CSV folder: ``edges.csv`` (``source,target``), ``features.csv`` (one row per node, no
  header), ``labels.csv`` (``node,label,split`` with split in ``train / val / test / none``).

Edges are read as given (add both directions for an undirected graph: ``undirected=True``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from labelnoise.tasks.graph.data import GraphData, validate_graph

__all__ = ["read_edgelist"]


def _split_from_npz(z: np.lib.npyio.NpzFile, split: str) -> np.ndarray:
    if f"{split}_idx" in z.files:
        return z[f"{split}_idx"]
    if f"{split}_mask" in z.files:
        return np.flatnonzero(z[f"{split}_mask"])
    raise ValueError(f"npz must hold {split}_idx or {split}_mask; got keys {sorted(z.files)}")


def _read_npz(path: Path):
    with np.load(path, allow_pickle=False) as z:
        for key in ("x", "y"):
            if key not in z.files:
                raise ValueError(f"npz must hold {key!r}; got keys {sorted(z.files)}")
        if "edge_index" in z.files:
            ei = z["edge_index"]
        elif "edges" in z.files:
            ei = z["edges"].T
        else:
            raise ValueError(f"npz must hold 'edge_index' or 'edges'; got keys {sorted(z.files)}")
        splits = [_split_from_npz(z, s) for s in ("train", "val", "test")]
        return z["x"], ei, z["y"], splits


def _read_csv_dir(root: Path):
    paths = {k: root / f"{k}.csv" for k in ("edges", "features", "labels")}
    for k, p in paths.items():
        if not p.is_file():
            raise FileNotFoundError(f"graph file {k}.csv must exist; got no file at {p}")
    edges = np.loadtxt(paths["edges"], delimiter=",", dtype=np.int64, skiprows=1, ndmin=2)
    x = np.loadtxt(paths["features"], delimiter=",", dtype=np.float32, ndmin=2)
    table = np.loadtxt(paths["labels"], delimiter=",", dtype=str, skiprows=1, ndmin=2)
    node, label, split = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64), table[:, 2]
    if node.size != x.shape[0] or not np.array_equal(np.sort(node), np.arange(x.shape[0])):
        raise ValueError(
            f"labels.csv must list every node 0..{x.shape[0] - 1} once; got {node.size} rows"
        )
    y = np.empty(x.shape[0], dtype=np.int64)
    y[node] = label
    splits = [node[split == s] for s in ("train", "val", "test")]
    return x, edges.T, y, splits


def read_edgelist(
    path: str | Path,
    *,
    undirected: bool = False,
    num_classes: int | None = None,
    name: str = "graph",
) -> GraphData:
    """Read an NPZ file or a CSV folder (module docstring) into a :class:`GraphData`.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` (naming the argument)
    for labels of the wrong length, edges outside ``[0, N)`` or a training split missing a class.
    """
    path = Path(path)
    if path.is_dir():
        x, ei, y, (tr, va, te) = _read_csv_dir(path)
    elif path.is_file():
        x, ei, y, (tr, va, te) = _read_npz(path)
    else:
        raise FileNotFoundError(f"path must be an .npz file or a CSV folder; got nothing at {path}")
    ei = torch.as_tensor(np.asarray(ei, dtype=np.int64))
    if undirected and ei.dim() == 2 and ei.shape[0] == 2:
        ei = torch.unique(torch.cat([ei, ei.flip(0)], dim=1), dim=1)
    return validate_graph(x, ei, y, tr, va, te, num_classes=num_classes, name=name)
