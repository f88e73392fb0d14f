"""The regression adapter: splits, noise, units and metrics in target units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from labelnoise.tasks.registry import get_task
from labelnoise.tasks.regression import RegressionAdapter, RegressionConfig, RegressionNoiseConfig


def test_registered_and_builds_noisy_splits():
    assert get_task("regression") is RegressionAdapter
    cfg = RegressionConfig(noise=RegressionNoiseConfig("symmetric", 0.4), hidden=[8])
    adapter = RegressionAdapter(cfg)
    splits = adapter.build_datasets(None, seed=0)
    n = len(splits.train) + len(splits.val) + len(splits.test)
    assert n == 442 and splits.num_classes == 0
    assert 0.3 < splits.info["noise_rate_realised"] < 0.5
    test_items = [splits.test[i] for i in range(len(splits.test))]
    assert all(torch.equal(it["target"], it["clean_target"]) for it in test_items)
    batch = adapter.collate([splits.train[i] for i in range(5)])
    with torch.no_grad():
        units = adapter.units(adapter.build_model(splits), batch)
    assert units.pred.shape == (5, 1) and units.target.dtype == torch.float32
    m = adapter.metrics(units)
    ref = (units.pred[:, 0].double() - units.target.double()).abs().mean() * adapter.y_scale
    assert m["mae"] == pytest.approx(float(ref)) and adapter.primary_metric == "mae"


def test_variance_head_units_and_file_dataset(tmp_path):
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=40), "t": rng.normal(size=40)}).to_csv(
        tmp_path / "d.csv", index=False
    )
    adapter = RegressionAdapter(RegressionConfig(dataset="d.csv", target="t", variance_head=True))
    splits = adapter.build_datasets(tmp_path, seed=1)
    batch = adapter.collate([splits.train[i] for i in range(4)])
    assert adapter.units(adapter.build_model(splits), batch).pred.shape == (4, 2)
    with pytest.raises(ValueError, match="task.target must name the target column"):
        RegressionAdapter(RegressionConfig(dataset="d.csv")).build_datasets(tmp_path, seed=0)


def test_npz_dataset_data_seed_and_drop_corrupted_oracle(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 3)).astype(np.float32), rng.normal(size=50)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    cfg = RegressionConfig(dataset="d.npz", val_fraction=0.0, test_fraction=0.0)
    adapter = RegressionAdapter(cfg)
    splits = adapter.build_datasets(tmp_path, seed=3)
    assert len(splits.train) == 50 and splits.val is None and splits.test is None
    # the standardisation the adapter keeps is the one applied to the items
    order = np.random.default_rng(3).permutation(50)
    first = splits.train[0]
    np.testing.assert_allclose(
        first["x"].numpy(), (x[order[0]] - adapter.x_mean) / adapter.x_std, rtol=1e-6
    )
    np.testing.assert_allclose(adapter.x_mean, x.mean(0), rtol=1e-5, atol=1e-6)
    assert float(first["target"]) == pytest.approx(
        (y[order[0]] - adapter.y_center) / adapter.y_scale, rel=1e-6
    )
    np.savez(tmp_path / "bad.npz", x=x, z=y)
    with pytest.raises(ValueError, match="must hold arrays x and y"):
        RegressionAdapter(RegressionConfig(dataset="bad.npz")).build_datasets(tmp_path, seed=0)
    # friedman1: data_seed None draws the data with the run seed, an int fixes it
    f = {"dataset": "friedman1", "n_samples": 30, "test_fraction": 0.0, "val_fraction": 0.0}
    a0 = RegressionAdapter(RegressionConfig(**f, data_seed=None)).build_datasets(None, seed=0)
    a1 = RegressionAdapter(RegressionConfig(**f, data_seed=None)).build_datasets(None, seed=1)
    b1 = RegressionAdapter(RegressionConfig(**f, data_seed=0)).build_datasets(None, seed=1)
    assert not torch.equal(a0.train.clean, a1.train.clean)
    assert sorted(a0.train.clean.tolist()) == pytest.approx(sorted(b1.train.clean.tolist()))
    # the oracle: only the uncorrupted training rows, the same test split
    noise = RegressionNoiseConfig("symmetric", 0.4)
    full = RegressionAdapter(RegressionConfig(noise=noise)).build_datasets(None, seed=0)
    drop = RegressionNoiseConfig("symmetric", 0.4, drop_corrupted=True)
    kept = RegressionAdapter(RegressionConfig(noise=drop)).build_datasets(None, seed=0)
    clean_rows = int((full.train.target == full.train.clean).sum())
    assert len(kept.train) == clean_rows
    assert kept.info["noise_rate_realised"] == full.info["noise_rate_realised"]

    def raw(splits):  # test targets back in target units
        return (
            splits.test.clean.double() * splits.info["target_scale"] + splits.info["target_center"]
        )

    torch.testing.assert_close(raw(kept), raw(full), rtol=1e-6, atol=1e-4)  # same test rows
