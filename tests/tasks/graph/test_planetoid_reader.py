"""Planetoid reader: PyG's constants for Cora, CiteSeer-style padding, and refused pickles."""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from labelnoise.tasks.graph.planetoid import read_planetoid
from tests.conftest import require_data


def test_cora_matches_pyg_constants(data_dir: Path) -> None:
    root = require_data(data_dir / "planetoid" / "cora")
    g = read_planetoid(root, "cora")
    assert (g.num_nodes, g.num_edges, g.num_features, g.num_classes) == (2708, 10556, 1433, 7)
    assert (len(g.train_idx), len(g.val_idx), len(g.test_idx)) == (140, 500, 1000)
    # every edge appears in both directions, no self loops (PyG's Cora is undirected)
    pairs = set(map(tuple, g.edge_index.T.tolist()))
    assert all((b, a) in pairs for a, b in pairs) and all(a != b for a, b in pairs)
    # class counts over the first 1,708 nodes (ally) from the data README
    assert torch.bincount(g.y[:1708]).tolist() == [221, 126, 274, 499, 277, 195, 116]


def _write_raw(root: Path, name: str, test_index: np.ndarray, n_all: int, rng) -> None:
    """Tiny Planetoid-format files written with the plain pickler, as the originals were."""
    f, k = 6, 3
    n_test = len(test_index)

    def onehot(n: int) -> np.ndarray:
        out = np.zeros((n, k), dtype=np.int32)
        out[np.arange(n), np.arange(n) % k] = 1
        return out

    objs = {
        "x": sp.csr_matrix(rng.random((3, f)).astype(np.float32)),
        "y": onehot(3),
        "allx": sp.csr_matrix(rng.random((n_all, f)).astype(np.float32)),
        "ally": onehot(n_all),
        "tx": sp.csr_matrix(rng.random((n_test, f)).astype(np.float32)),
        "ty": onehot(n_test),
    }
    n = int(test_index.max()) + 1
    graph: dict[int, list[int]] = {i: [(i + 1) % n, (i + 1) % n] for i in range(n)}
    graph[0].append(0)  # a self loop and a duplicate, both dropped as PyG does
    objs["graph"] = graph
    for key, obj in objs.items():
        (root / f"ind.{name}.{key}").write_bytes(pickle.dumps(obj, protocol=2))
    np.savetxt(root / f"ind.{name}.test.index", test_index, fmt="%d")


def test_citeseer_isolated_test_nodes_padded_like_pyg(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    # n_all = 503 so the 500 validation nodes fit; test ids 503..510 with 506 and 509 missing
    test_index = np.array([510, 503, 505, 504, 507, 508])
    _write_raw(tmp_path, "citeseer", test_index, 503, rng)
    g = read_planetoid(tmp_path, "citeseer")
    from torch_geometric.io.planetoid import read_planetoid_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = read_planetoid_data(str(tmp_path), "citeseer")  # trusted files: plain pickle
    assert g.num_nodes == ref.num_nodes == 511
    assert torch.equal(g.x, ref.x) and torch.equal(g.y, ref.y)
    assert torch.equal(g.test_idx.sort().values, ref.test_mask.nonzero().flatten())
    assert set(map(tuple, g.edge_index.T.tolist())) == set(map(tuple, ref.edge_index.T.tolist()))
    assert float(g.x[506].abs().sum()) == 0.0  # the padded isolated node


def test_missing_raw_file(tmp_path: Path) -> None:
    _write_raw(tmp_path, "cora", np.arange(503, 507), 503, np.random.default_rng(0))
    (tmp_path / "ind.cora.graph").unlink()
    with pytest.raises(FileNotFoundError, match="'graph' must exist"):
        read_planetoid(tmp_path, "cora")


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_refused_not_executed(tmp_path: Path) -> None:
    _write_raw(tmp_path, "cora", np.arange(503, 507), 503, np.random.default_rng(0))
    marker = tmp_path / "pwned"
    (tmp_path / "ind.cora.x").write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="got (posix|os|nt).system"):
        read_planetoid(tmp_path, "cora")
    assert not marker.exists()
