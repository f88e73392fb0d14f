"""GraphAdapter: nodes as units, ERASE and core noise on training nodes only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from labelnoise.tasks.graph.adapter import GraphConfig, GraphNoiseConfig
from labelnoise.tasks.registry import get_task


def _npz(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 40
    y = np.arange(n) % 4
    src = np.arange(n)
    ei = np.stack([src, (src + 4) % n])  # ring within each class
    x = (np.eye(4)[y] + 0.1 * rng.random((n, 4))).astype(np.float32)
    np.savez(tmp_path / "g.npz", x=x, edge_index=ei, y=y, train_idx=np.arange(20),
             val_idx=np.arange(20, 30), test_idx=np.arange(30, 40))  # fmt: skip
    return tmp_path / "g.npz"


@pytest.mark.parametrize("kind", ["erase_asymm", "symmetric"])
def test_units_are_nodes_and_only_train_is_noisy(tmp_path: Path, kind: str) -> None:
    cls = get_task("graph")
    cfg = GraphConfig(dataset="g.npz", noise=GraphNoiseConfig(kind=kind, rate=0.4))
    adapter = cls(cfg)
    splits = adapter.build_datasets(_npz(tmp_path).parent, seed=0)
    assert splits.info["num_edges"] == 80 and 0.0 < splits.info["noise_rate_realised"] < 1.0
    assert all(splits.val[i]["target"] == splits.val[i]["clean_target"] for i in range(10))
    model = adapter.build_model(splits)
    batch = adapter.collate([splits.train[i] for i in (3, 7, 11)])
    units = adapter.units(model, batch)
    assert units.pred.shape == (3, 4) and units.example_id.tolist() == [3, 7, 11]
    assert torch.equal(units.target, batch["target"])
    clean = adapter.units(model, batch, target_key="clean_target")
    assert torch.equal(clean.target, batch["node"] % 4)


def test_unknown_noise_kind(tmp_path: Path) -> None:
    cls = get_task("graph")
    adapter = cls(GraphConfig(dataset="g.npz", noise=GraphNoiseConfig(kind="sym", rate=0.2)))
    with pytest.raises(ValueError, match="noise.kind must be one of .*; got 'sym'"):
        adapter.build_datasets(_npz(tmp_path).parent, seed=0)
