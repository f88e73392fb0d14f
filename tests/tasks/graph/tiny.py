"""A tiny planted-partition graph as an ``.npz`` file, and recipes of the ``graph`` task on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def write_graph(root: Path, n: int = 90, k: int = 3, seed: int = 0) -> Path:
    """``root/g.npz``: dense within classes, sparse across; noisy class features; the first
    third of the nodes train, the second validate, the last test."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    same = y[:, None] == y[None, :]
    a = np.triu(rng.random((n, n)) < np.where(same, 0.15, 0.01), 1)
    src, dst = np.nonzero(a | a.T)
    x = np.abs(np.eye(k)[y] + rng.normal(0, 0.7, (n, k)))
    x = np.concatenate([x, rng.random((n, 5))], 1).astype(np.float32)
    third = n // 3
    root.mkdir(parents=True, exist_ok=True)
    np.savez(root / "g.npz", x=x, edge_index=np.stack([src, dst]), y=y,
             train_idx=np.arange(third), val_idx=np.arange(third, 2 * third),
             test_idx=np.arange(2 * third, n))  # fmt: skip
    return root / "g.npz"


def recipe(root: Path, out: Path, **sections: Any) -> dict[str, Any]:
    """A GCN + CE recipe on :func:`write_graph`'s graph with 30 % pair-flip training noise,
    one full-batch step per epoch; ``sections`` replace whole top-level sections."""
    base: dict[str, Any] = {
        "name": "tiny_graph",
        "task": {
            "name": "graph",
            "dataset": "g.npz",
            "model": "gcn",
            "noise": {"kind": "pair_flip", "rate": 0.3, "seed": 3},
        },
        "data": {"data_dir": str(root), "batch_size": 30, "eval_batch_size": 30},
        "optim": {"name": "adam", "lr": 0.02, "weight_decay": 0.0005},
        "train": {"epochs": 8, "select_by": "clean_val", "progress": False, "num_threads": 1},
        "detection": {"method": "none"},
        "output_dir": str(out),
    }
    return base | sections
