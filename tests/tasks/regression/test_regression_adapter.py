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


def test_linear_mixture_clean_weights_down_weight_corrupted_targets():
    noise = RegressionNoiseConfig("symmetric", 0.4)
    adapter = RegressionAdapter(RegressionConfig(noise=noise, clean_weights="linear_mixture"))
    splits = adapter.build_datasets(None, seed=0)
    items = [splits.train[i] for i in range(len(splits.train))]
    w = torch.stack([it["weight"] for it in items])
    bad = torch.stack([it["target"] != it["clean_target"] for it in items])
    assert w[bad].mean() < 0.5 < w[~bad].mean()
    batch = adapter.collate(items[:6])
    with torch.no_grad():
        model = adapter.build_model(splits)
        assert torch.equal(adapter.units(model, batch).weight, w[:6])
        assert adapter.units(model, batch, target_key="clean_target").weight is None
    assert "weight" not in splits.val[0] and "weight" not in splits.test[0]
    with pytest.raises(ValueError, match="task.clean_weights must be none or linear_mixture"):
        RegressionConfig(clean_weights="oracle")
