"""Planetoid raw files (Yang et al., 2016) read through an allow-listed unpickler.

The files ``ind.<name>.{x,y,tx,ty,allx,ally,graph}`` are Python-2 pickles and
``ind.<name>.test.index`` is text (kimiyoung/planetoid). A pickle can execute arbitrary code
on load, so :class:`PlanetoidUnpickler` resolves only the handful of NumPy / SciPy /
``collections`` names these files reference; any other global is refused before it is
called. The assembled graph matches PyG's ``Planetoid`` (``read_planetoid_data``): features
``[allx; tx]`` with the test rows put back in node order, CiteSeer's isolated test nodes padded
with zero rows, self loops dropped and duplicate edges merged, the standard split
(``len(y)`` train nodes, the next 500 validation nodes, the ``test.index`` nodes for test).
"""

from __future__ import annotations

import codecs
import collections
import io
import pickle
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from labelnoise.tasks.graph.data import GraphData, validate_graph

__all__ = ["PlanetoidUnpickler", "load_pickle", "read_planetoid"]

_RAW = ("x", "y", "tx", "ty", "allx", "ally", "graph")


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # NumPy < 2
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]
    return _reconstruct, scalar


_reconstruct, _scalar = _numpy_reconstruct()

#: (module, name) -> object. Protocol-2 pickles name NumPy's private modules and SciPy's
#: pre-1.8 ``scipy.sparse.csr``; newer pickles name the public paths.
_ALLOWED: dict[tuple[str, str], object] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy._core.multiarray", "scalar"): _scalar,
    ("scipy.sparse.csr", "csr_matrix"): sp.csr_matrix,
    ("scipy.sparse._csr", "csr_matrix"): sp.csr_matrix,
    ("scipy.sparse", "csr_matrix"): sp.csr_matrix,
    ("collections", "defaultdict"): collections.defaultdict,
    ("__builtin__", "list"): list,
    ("builtins", "list"): list,
    # Python-3 protocol-2 pickles store array bytes as latin-1 text re-encoded by this call.
    ("_codecs", "encode"): codecs.encode,
}


class PlanetoidUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals Planetoid's files need.

    Allowed: ``numpy.ndarray``, ``numpy.dtype``, NumPy's ``_reconstruct`` and ``scalar``,
    ``scipy.sparse`` ``csr_matrix``, ``collections.defaultdict``, ``list`` and ``_codecs.encode``. Any other
    global (``os.system``, ``builtins.eval``, ...) raises ``pickle.UnpicklingError``.
    """

    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"pickle global must be one of the allowed numpy/scipy/collections names; "
                f"got {module}.{name}"
            ) from None


def load_pickle(path: str | Path) -> object:
    """Load one Planetoid pickle with :class:`PlanetoidUnpickler` (``encoding='latin1'``)."""
    data = Path(path).read_bytes()
    return PlanetoidUnpickler(io.BytesIO(data), encoding="latin1").load()


def _dense(obj: object, name: str, path: Path) -> np.ndarray:
    if sp.issparse(obj):
        return np.asarray(obj.todense(), dtype=np.float32)  # type: ignore[attr-defined]
    if isinstance(obj, np.ndarray):
        return obj.astype(np.float32)
    raise ValueError(f"{path} ({name}) must hold an array or CSR matrix; got {type(obj).__name__}")


def _edges_from_dict(graph: dict, num_nodes: int) -> torch.Tensor:
    rows = [int(k) for k, v in graph.items() for _ in v]
    cols = [int(c) for v in graph.values() for c in v]
    ei = torch.tensor([rows, cols], dtype=torch.long).reshape(2, -1)
    ei = ei[:, ei[0] != ei[1]]
    if ei.numel() and (int(ei.min()) < 0 or int(ei.max()) >= num_nodes):
        bad = int(ei.max()) if int(ei.max()) >= num_nodes else int(ei.min())
        raise ValueError(f"graph must name node ids in [0, {num_nodes}); got {bad}")
    key = torch.unique(ei[0] * num_nodes + ei[1])
    return torch.stack([key // num_nodes, key % num_nodes])


def read_planetoid(root: str | Path, name: str) -> GraphData:
    """Read ``root/ind.<name>.*`` into a :class:`GraphData` with the standard Planetoid split.

    Args:
        root: folder holding the eight raw files.
        name: ``cora``, ``citeseer``, ``pubmed`` (case-insensitive).

    Returns:
        Raw (un-normalised) features; see :func:`~labelnoise.tasks.graph.data.normalize_features`.
        Cora: 2,708 nodes, 10,556 directed edges, 1,433 features, 7 classes, 140/500/1,000.
    """
    root = Path(root)
    prefix = name.lower()
    paths = {k: root / f"ind.{prefix}.{k}" for k in (*_RAW, "test.index")}
    for k, p in paths.items():
        if not p.is_file():
            raise FileNotFoundError(f"Planetoid raw file {k!r} must exist; got no file at {p}")
    raw = {k: load_pickle(paths[k]) for k in _RAW}
    if not isinstance(raw["graph"], dict):
        raise ValueError(f"{paths['graph']} must hold a dict; got {type(raw['graph']).__name__}")
    x, tx, allx = (_dense(raw[k], k, paths[k]) for k in ("x", "tx", "allx"))
    y, ty, ally = (_dense(raw[k], k, paths[k]) for k in ("y", "ty", "ally"))
    test_index = np.loadtxt(paths["test.index"], dtype=np.int64).reshape(-1)
    sorted_test = np.sort(test_index)
    if prefix == "citeseer":
        # Isolated test nodes have no row in tx/ty: pad zero rows as PyG does.
        span = int(test_index.max() - test_index.min()) + 1
        tx_ext = np.zeros((span, tx.shape[1]), dtype=np.float32)
        ty_ext = np.zeros((span, ty.shape[1]), dtype=np.float32)
        tx_ext[sorted_test - test_index.min()] = tx
        ty_ext[sorted_test - test_index.min()] = ty
        tx, ty = tx_ext, ty_ext
    features = np.concatenate([allx, tx])
    labels = np.concatenate([ally, ty]).argmax(1)
    if features.shape[0] <= int(test_index.max()):
        raise ValueError(
            f"test.index must name nodes in [0, {features.shape[0]}); got {int(test_index.max())}"
        )
    features[test_index] = features[sorted_test]
    labels[test_index] = labels[sorted_test]
    n, n_train = features.shape[0], y.shape[0]
    edge_index = _edges_from_dict(raw["graph"], n)
    return validate_graph(
        torch.from_numpy(features),
        edge_index,
        torch.from_numpy(labels),
        torch.arange(n_train),
        torch.arange(n_train, n_train + 500),
        torch.from_numpy(test_index),
        num_classes=y.shape[1],
        name=prefix,
    )
