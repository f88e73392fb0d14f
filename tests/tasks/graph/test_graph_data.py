"""Boundary checks of graphs and the generic edge-list reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from labelnoise.tasks.graph.data import from_pyg, normalize_features, to_pyg, validate_graph
from labelnoise.tasks.graph.edgelist import read_edgelist


def _toy(n: int = 6):
    x = np.eye(n, dtype=np.float32) + 1.0
    ei = np.array([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])
    y = np.array([0, 1, 0, 1, 0, 1])
    return x, ei, y


def test_npz_and_csv_readers_agree(tmp_path: Path) -> None:
    x, ei, y = _toy()
    np.savez(tmp_path / "g.npz", x=x, edge_index=ei, y=y, train_idx=[0, 1], val_idx=[2, 3],
             test_idx=[4, 5])  # fmt: skip
    a = read_edgelist(tmp_path / "g.npz", undirected=True)
    d = tmp_path / "csv"
    d.mkdir()
    (d / "edges.csv").write_text("source,target\n" + "".join(f"{s},{t}\n" for s, t in ei.T))
    np.savetxt(d / "features.csv", x, delimiter=",")
    split = ["train", "train", "val", "val", "test", "test"]
    (d / "labels.csv").write_text(
        "node,label,split\n" + "".join(f"{i},{y[i]},{split[i]}\n" for i in range(6))
    )
    b = read_edgelist(d, undirected=True)
    assert a.num_edges == b.num_edges == 10
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.val_idx, b.val_idx)


def test_pyg_round_trip_and_row_normalisation() -> None:
    x, ei, y = _toy()
    g = validate_graph(x, ei, y, [0, 1], [2, 3], [4, 5])
    back = from_pyg(to_pyg(g))
    assert torch.equal(back.edge_index, g.edge_index) and torch.equal(back.test_idx, g.test_idx)
    assert torch.allclose(normalize_features(g).x.sum(1), torch.ones(6))


def test_labels_of_wrong_length() -> None:
    x, ei, y = _toy()
    with pytest.raises(ValueError, match=r"y must have one label per node \(6\); got 5"):
        validate_graph(x, ei, y[:5], [0, 1], [2], [3])


def test_edge_index_out_of_range(tmp_path: Path) -> None:
    x, ei, y = _toy()
    ei[1, 0] = 6
    np.savez(tmp_path / "g.npz", x=x, edge_index=ei, y=y, train_idx=[0, 1], val_idx=[2],
             test_idx=[3])  # fmt: skip
    with pytest.raises(ValueError, match=r"edge_index must be in \[0, 6\).*got 6"):
        read_edgelist(tmp_path / "g.npz")


def test_split_without_some_class() -> None:
    x, ei, y = _toy()
    with pytest.raises(
        ValueError, match=r"train_idx must hold .* 2 classes; got none of class \[1\]"
    ):
        validate_graph(x, ei, y, [0, 2], [1], [3])
