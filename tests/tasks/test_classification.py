"""The reference classification adapter: data sources, noise, units, bad labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from labelnoise.tasks.base import DatasetSplits, TensorDataset
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


# --- the cifar10n dataset ------------------------------------------------------------------


def test_cifar10n_dataset_splits_units_and_workers(tmp_path):
    from labelnoise.common.datasets.cifar10n import CIFAR10_CLASSES
    from tests.common.datasets.test_cifar10n import fake_cifar10n_root

    root, clean_std, worst_std, random1_std = fake_cifar10n_root(tmp_path)
    adapter = _adapter(dataset="cifar10n", label_set="worst", val_fraction=0.2, model="small_cnn")
    splits = adapter.build_datasets(root, seed=0)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (24, 6, 10)
    assert splits.class_names == list(CIFAR10_CLASSES) and splits.num_classes == 10
    # every item's labels are the ones of its image (brightness = 8 x standard index)
    for ds in (splits.train, splits.val):
        for i in range(len(ds)):
            item = ds[i]
            std = round(float(item["x"][0, 16, 16]) * 0.2470 / 8 * 255 + 0.4914 * 255 / 8)
            assert int(item["target"]) == worst_std[std]
            assert int(item["clean_target"]) == clean_std[std]
            assert item["example_id"] == i and "worker_id" not in item
    noisy, clean = splits.train.target, splits.train.clean
    assert splits.info["noise_rate_realised"] == pytest.approx(
        float((noisy != clean).double().mean())
    )
    assert all(int(splits.test[i]["target"]) == i for i in range(10))  # clean, one per class
    batch = adapter.collate([splits.train[i] for i in range(4)])
    model = adapter.build_model(splits).eval()
    u = adapter.units(model, batch)
    assert u.pred.shape == (4, 10) and torch.equal(u.example_id, torch.arange(4))
    # random1: each item carries the worker who wrote its label
    splits = _adapter(dataset="cifar10n", label_set="random1", val_fraction=0.0).build_datasets(
        root, seed=0
    )
    for i in range(len(splits.train)):
        item = splits.train[i]
        std = round(float(item["x"][0, 16, 16]) * 0.2470 / 8 * 255 + 0.4914 * 255 / 8)
        assert int(item["worker_id"]) == std // 10 and int(item["target"]) == random1_std[std]
    with pytest.raises(FileNotFoundError, match="data.data_dir"):
        adapter.build_datasets(None, seed=0)


def test_cifar10n_test_split_prefix_is_class_balanced(data_dir):
    """The published test set is sorted by class; the split visits the classes round-robin
    (so data.eval_limit keeps every class), and ``index`` is each image's position there."""
    import csv

    adapter = _adapter(dataset="cifar10n", label_set="worst", train_size=100, val_fraction=0.0)
    test = adapter.build_datasets(data_dir, seed=0).test
    rows = list(csv.DictReader((data_dir / "cifar10" / "test_labels.csv").open()))
    assert len(test) == len(rows) == 10000 and int(rows[0]["label"]) == int(rows[999]["label"])
    first = [int(test[i]["target"]) for i in range(30)]
    assert np.bincount(first, minlength=10).tolist() == [3] * 10
    for i in (0, 1, 17, 9999):
        assert int(test[i]["target"]) == int(rows[int(test.index[i])]["label"])
    assert sorted(np.asarray(test.index).tolist()) == list(range(10000))


def test_cifar10n_options_are_checked():
    with pytest.raises(ValueError, match="task.label_set must be one of .*'worst'.*got 'worse'"):
        ClassificationConfig(dataset="cifar10n", label_set="worse")
    with pytest.raises(ValueError, match=r"task.val_fraction must be in \[0, 1\); got 1.0"):
        ClassificationConfig(val_fraction=1.0)
    from labelnoise.tasks.classification import ImageArrayDataset

    with pytest.raises(ValueError, match="length 3 .*got target 2, clean 3"):
        ImageArrayDataset(np.zeros((3, 32, 32, 3), np.uint8), np.zeros(2, int), np.zeros(3, int))


def test_cifar10n_is_not_a_separate_task():
    from labelnoise.tasks.registry import TASKS

    assert "cifar10n" not in TASKS
    with pytest.raises(ValueError, match="task.name must be one of"):
        from labelnoise.config import resolve

        resolve({"task": {"name": "cifar10n"}})


def test_augment_is_a_padded_crop_and_flip():
    from labelnoise.tasks.classification import augment

    x = torch.randn(5, 3, 32, 32)
    out = augment(x, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)  # the same draws, in the same order
    dy, dx = torch.randint(0, 9, (5,), generator=g), torch.randint(0, 9, (5,), generator=g)
    flip = torch.rand(5, generator=g) < 0.5
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4), mode="reflect")
    for i in range(5):
        ref = padded[i, :, dy[i] : dy[i] + 32, dx[i] : dx[i] + 32]
        torch.testing.assert_close(out[i], ref.flip(2) if flip[i] else ref)


@pytest.mark.parametrize("name", ["small_cnn", "resnet18", "preact_resnet18"])
def test_cifar_models_give_logits(name):
    splits = DatasetSplits(
        train=TensorDataset(
            torch.zeros(2, 3, 32, 32), torch.zeros(2).long(), torch.zeros(2).long()
        ),
        val=None,
        test=None,
        num_classes=10,
    )
    adapter = _adapter(model=name, width=8, augment=True)
    model = adapter.build_model(splits)
    batch = {"x": torch.randn(2, 3, 32, 32), "target": torch.zeros(2).long()}
    batch["example_id"] = torch.arange(2)
    assert adapter.units(model.train(), batch).pred.shape == (2, 10)
    flat = DatasetSplits(
        TensorDataset(torch.zeros(2, 5), torch.zeros(2).long(), torch.zeros(2).long()),
        None,
        None,
        10,
    )
    with pytest.raises(
        ValueError, match=r"task.model '.*' needs \(3, 32, 32\) images; got x of shape \(5,\)"
    ):
        adapter.build_model(flat)


def test_cifar10n_real_data_label_sets(data_dir):
    """The real data: each label set's labels on a 300-image subset are the published array
    at the images' standard indices (read independently through the CSV), with the
    published noise rates roughly; random2 items carry the CSV's Worker2-id."""
    import csv

    from labelnoise.common.datasets.cifar10n import read_cifar10n
    from tests.conftest import require_data

    require_data(data_dir / "cifar10" / "train.zip")
    require_data(data_dir / "cifar10n" / "CIFAR-10_human.pt")
    with open(data_dir / "cifar10" / "train_labels.csv", newline="") as f:
        train_index = np.array([int(r["cifar10_train_index"]) for r in csv.DictReader(f)])
    subset = np.sort(np.random.default_rng(0).permutation(50_000)[:300])  # subset_seed 0
    with open(data_dir / "cifar10n" / "side_info_cifar10N.csv", newline="") as f:
        worker2 = np.repeat([int(r["Worker2-id"]) for r in csv.DictReader(f)], 10)
    clean_std = read_cifar10n(data_dir / "cifar10n" / "CIFAR-10_human.pt", "clean")
    for label_set, rate in (("worst", 0.4021), ("aggre", 0.0901), ("random2", 0.1812)):
        adapter = _adapter(dataset="cifar10n", label_set=label_set, train_size=300, val_fraction=0)
        splits = adapter.build_datasets(data_dir, seed=0)
        np.testing.assert_array_equal(np.sort(splits.train.index), subset)  # zip positions
        std = train_index[splits.train.index]
        given = read_cifar10n(data_dir / "cifar10n" / "CIFAR-10_human.pt", label_set)[std]
        np.testing.assert_array_equal(splits.train.target.numpy(), given)
        np.testing.assert_array_equal(splits.train.clean.numpy(), clean_std[std])
        assert abs(float((given != clean_std[std]).mean()) - rate) < 0.08, label_set
        assert len(splits.test) == 10_000
        if label_set == "random2":
            np.testing.assert_array_equal(splits.train.worker.numpy(), worker2[std])
        else:
            assert splits.train.worker is None


# --- the benchmarks build RunConfigs from recipes and train through the engine ----------------

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _benchmark(name: str):
    import importlib
    import sys

    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module(name)


def test_robust_digits_rows_are_recipe_variants(tmp_path):
    from labelnoise.common.transition import TransitionMatrix

    rd = _benchmark("robust_digits")
    for name in rd.METHODS:  # every row resolves (names a variant; options valid)
        cfg = rd.build_config(name, "symmetric", 1, str(tmp_path / "x"))
        assert cfg.seed == 1 and cfg.task.options.noise.kind == "symmetric"
    cfg = rd.build_config("forward (true T)", "pair_flip", 3, str(tmp_path / "f"))
    assert cfg.loss.name == "forward" and cfg.task.options.noise.rate == 0.4
    np.testing.assert_allclose(
        cfg.loss.options["transition"], TransitionMatrix.pair_flip(10, 0.4).numpy()
    )
    # the written-out recipe is the same run: same task, same true T
    from labelnoise.config import load_recipe, resolve

    written = resolve(load_recipe(rd.ROOT / "recipes/classification/digits_forward_pair_flip.yaml"))
    assert written.task.options == cfg.task.options and written.loss.name == "forward"
    np.testing.assert_allclose(written.loss.options["transition"], cfg.loss.options["transition"])
    jocor = rd.build_config("jocor", "symmetric", 0, str(tmp_path / "j"))
    assert jocor.method.name == "coteaching" and jocor.selector.options["variant"] == "jocor"
    # the protocol: 1,200 training digits, no validation, the same 597 test digits every seed
    a = ClassificationAdapter(cfg.task.options).build_datasets(None, seed=0)
    b = ClassificationAdapter(cfg.task.options).build_datasets(None, seed=4)
    assert (len(a.train), a.val, len(a.test)) == (1200, None, 597)
    assert torch.equal(a.test.x, b.test.x) and not torch.equal(a.train.target, b.train.target)
    assert "forward" in rd.describe(
        "forward (true T)", rd.overrides("forward (true T)", "pair_flip", 3)
    )
    acc = rd.run_one("co-teaching", "pair_flip", 0, {"train.max_steps": 2, "data.limit": 64})
    assert 0.0 <= acc <= 1.0


def test_cifar10n_benchmark_rows_run_through_the_engine(tmp_path):
    from types import SimpleNamespace

    from tests.common.datasets.test_cifar10n import fake_cifar10n_root

    bench = _benchmark("cifar10n")
    root, *_ = fake_cifar10n_root(tmp_path)
    smoke = ["data.limit=16", "train.max_steps=2", "data.batch_size=8", "detection.epochs=1"]
    a = SimpleNamespace(seed=0, train_size=20, epochs=1, num_gradual=1, set=smoke)

    def spec(method):
        over = bench.overrides_of(a, method)
        return {"overrides": over, "data_dir": str(root), "cache_dir": str(tmp_path / "c")}

    cfg = bench.build_config("worst", "dividemix", spec("dividemix"), str(tmp_path / "d"))
    assert (cfg.method.name, cfg.method.options["lambda_u"]) == ("dividemix", 25.0)
    assert cfg.task.options.dataset == "cifar10n" and cfg.task.options.train_size == 20
    assert cfg.detection.method == "none" and cfg.train.select_by == "last"
    co = bench.build_config("aggre", "coteaching", spec("coteaching"), str(tmp_path / "a"))
    assert co.selector.options == {"forget_rate": 0.1, "num_gradual": 1}
    clean = bench.build_config("clean", "ce", spec("ce"), str(tmp_path / "k"))
    assert clean.task.options.label_set == "clean"
    r = bench._job(("worst", "ce", spec("ce")))  # with the recipe's k-fold detection
    assert 0.0 <= r["acc"] <= 1.0 and r["recipe"].startswith("recipes/cifar10n/worst_small_cnn")
    assert r["probs"].shape == (16, 10) and np.allclose(r["probs"].sum(1), 1.0)
    assert len(r["labels"]) == len(r["corrupted"]) == 16
    names = [name for name, _ in bench._detection_rows(r)]
    assert "cleanlab find_label_issues (mask)" in names
    r = bench._job(("worst", "dividemix", spec("dividemix")))
    assert "probs" not in r and 0.0 <= r["acc"] <= 1.0
