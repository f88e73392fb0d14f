"""The reference classification adapter: data sources, noise, units, bad labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelnoise.tasks.base import DatasetSplits
from labelnoise.tasks.classification import (
    ClassificationAdapter,
    ClassificationConfig,
    NoiseConfig,
)


def _adapter(**kw) -> ClassificationAdapter:
    return ClassificationAdapter(ClassificationConfig(**kw))


def test_digits_splits_noise_and_clean_test():
    from sklearn.datasets import load_digits

    splits = _adapter(noise=NoiseConfig(kind="symmetric", rate=0.4)).build_datasets(None, seed=0)
    assert isinstance(splits, DatasetSplits) and splits.num_classes == 10
    n = len(load_digits().target)
    assert len(splits.train) + len(splits.val) + len(splits.test) == n
    noisy = torch.stack([splits.train[i]["target"] for i in range(len(splits.train))])
    clean = torch.stack([splits.train[i]["clean_target"] for i in range(len(splits.train))])
    rate = float((noisy != clean).double().mean())
    assert abs(rate - 0.4) < 0.05 and rate == splits.info["noise_rate_realised"]
    test = splits.test
    assert all(bool(test[i]["target"] == test[i]["clean_target"]) for i in range(len(test)))
    assert [splits.train[i]["example_id"] for i in range(5)] == [0, 1, 2, 3, 4]
    # Same seed, same data; another seed, another split.
    again = _adapter(noise=NoiseConfig(kind="symmetric", rate=0.4)).build_datasets(None, seed=0)
    assert torch.equal(again.train.target, splits.train.target)
    other = _adapter(noise=NoiseConfig(kind="symmetric", rate=0.4)).build_datasets(None, seed=1)
    assert not torch.equal(other.train.target, splits.train.target)


def test_pair_flip_moves_labels_to_the_next_class():
    splits = _adapter(noise=NoiseConfig(kind="pair_flip", rate=0.3)).build_datasets(None, seed=0)
    tr = splits.train
    flipped = tr.target != tr.clean
    assert flipped.any() and torch.equal(tr.target[flipped], (tr.clean[flipped] + 1) % 10)


def test_units_are_one_per_example_with_ids():
    adapter = _adapter(hidden=8)
    splits = adapter.build_datasets(None, seed=0)
    model = adapter.build_model(splits)
    batch = adapter.collate([splits.train[i] for i in (3, 4, 5)])
    u = adapter.units(model, batch)
    assert u.pred.shape == (3, 10) and u.example_id.tolist() == [3, 4, 5]
    assert torch.equal(
        adapter.units(model, batch, target_key="clean_target").target, batch["clean_target"]
    )
    assert set(adapter.metrics(u)) == {"accuracy"}


def test_npz_with_test_split(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "d.npz",
        x=rng.normal(size=(40, 5)),
        y=rng.integers(0, 3, 40),
        x_test=rng.normal(size=(10, 5)),
        y_test=rng.integers(0, 3, 10),
    )
    splits = _adapter(dataset="d.npz", num_classes=3).build_datasets(tmp_path, seed=0)
    assert len(splits.test) == 10 and len(splits.train) + len(splits.val) == 40
    assert splits.num_classes == 3


def test_labels_out_of_range_are_an_error(tmp_path):
    np.savez(tmp_path / "bad.npz", x=np.zeros((6, 2)), y=np.array([0, 1, 2, 12, 0, 1]))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 10\); got max 12"):
        _adapter(dataset=str(tmp_path / "bad.npz"), num_classes=10).build_datasets(None, seed=0)
    np.savez(tmp_path / "neg.npz", x=np.zeros((3, 2)), y=np.array([0, -1, 1]))
    with pytest.raises(ValueError, match="must be in"):
        _adapter(dataset=str(tmp_path / "neg.npz")).build_datasets(None, seed=0)


def test_missing_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _adapter(dataset="nowhere.npz").build_datasets(tmp_path, seed=0)


def test_image_folder_and_cnn(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(6):
            arr = rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)
            Image.fromarray(arr).save(tmp_path / cls / f"{i}.png")
    adapter = _adapter(
        dataset=str(tmp_path), image_size=8, hidden=16, val_fraction=0.25, test_fraction=0.25
    )
    splits = adapter.build_datasets(None, seed=0)
    assert splits.class_names == ["cat", "dog"] and splits.train[0]["x"].shape == (3, 8, 8)
    model = adapter.build_model(splits)
    u = adapter.units(model.eval(), adapter.collate([splits.train[0], splits.train[1]]))
    assert u.pred.shape == (2, 2)
