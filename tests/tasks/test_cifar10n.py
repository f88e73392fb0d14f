"""CIFAR-10N task: dataset module, augmentation, models, adapter splits (tiny fake zips and the
real data). The reader's bad-input tests (unknown label set, label length, corrupted member)
live in tests/common/datasets/test_cifar10n.py."""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from labelnoise.common.datasets.cifar10n import CIFAR10_CLASSES, read_cifar10n
from labelnoise.tasks.cifar10n import Cifar10NAdapter, Cifar10NConfig, build_model
from labelnoise.tasks.cifar10n.data import Cifar10NDataset, augment, load_arrays
from labelnoise.tasks.registry import get_task
from tests.conftest import require_data

N_PER_CLASS = 3  # 30 training images, 10 test images


def _jpeg(value: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (value, value, value)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _fake_root(tmp_path):
    """cifar10/{train,test}.zip + CSVs and cifar10n/CIFAR-10_human.pt in the published layout;
    image brightness = 8 x standard training index (so the mapping is visible in pixels)."""
    cifar = tmp_path / "cifar10"
    cifar.mkdir()
    n = 10 * N_PER_CLASS
    clean_std = np.arange(n) % 10  # standard order: classes interleaved
    worst_std = (clean_std + (np.arange(n) % 3 == 0)) % 10  # every third label shifted
    rows = ["zip_index,path,label,class_name,cifar10_train_index"]
    with zipfile.ZipFile(cifar / "train.zip", "w", zipfile.ZIP_STORED) as z:
        for c, name in enumerate(CIFAR10_CLASSES):
            for k, i in enumerate(np.flatnonzero(clean_std == c)):
                z.writestr(f"{name}/{k:04d}.jpg", _jpeg(8 * int(i)))
                rows.append(f"{len(rows) - 1},{name}/{k:04d}.jpg,{c},{name},{i}")
    (cifar / "train_labels.csv").write_text("\n".join(rows) + "\n")
    rows = ["zip_index,path,label,class_name"]
    with zipfile.ZipFile(cifar / "test.zip", "w", zipfile.ZIP_STORED) as z:
        for c, name in enumerate(CIFAR10_CLASSES):
            z.writestr(f"{name}/0000.jpg", _jpeg(250))
            rows.append(f"{c},{name}/0000.jpg,{c},{name}")
    (cifar / "test_labels.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "cifar10n").mkdir()
    arrays = {"clean_label": clean_std, "worse_label": worst_std}
    with zipfile.ZipFile(tmp_path / "cifar10n" / "CIFAR-10_human.pt", "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(arrays, protocol=2))
    return tmp_path, clean_std, worst_std


def test_load_arrays_maps_labels_to_pixels_and_cache_matches(tmp_path):
    root, clean_std, worst_std = _fake_root(tmp_path)
    lazy = load_arrays(root, "worst", train_size=12, subset_seed=1)
    cached = load_arrays(root, "worst", train_size=12, subset_seed=1, cache_dir=tmp_path / "c")
    assert len(list((tmp_path / "c").glob("*.npy"))) == 2
    x = np.stack([lazy["x"][i] for i in range(12)])
    np.testing.assert_array_equal(x, cached["x"])
    std_index = np.round(x[:, 16, 16, 0] / 8).astype(int)  # brightness encodes the index
    np.testing.assert_array_equal(lazy["noisy"], worst_std[std_index])
    np.testing.assert_array_equal(lazy["clean"], clean_std[std_index])
    assert cached["x_test"].shape == (10, 32, 32, 3) and list(cached["y_test"]) == list(range(10))
    with pytest.raises(ValueError, match=r"train_size must be in \[1, 30\]; got 31"):
        load_arrays(root, "worst", train_size=31)


def test_adapter_splits_and_units(tmp_path):
    root, *_ = _fake_root(tmp_path)
    assert get_task("cifar10n") is Cifar10NAdapter
    adapter = Cifar10NAdapter(Cifar10NConfig(label_set="worst", val_fraction=0.2, width=8))
    splits = adapter.build_datasets(root, seed=0)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (24, 6, 10)
    assert splits.class_names == list(CIFAR10_CLASSES)
    noisy = torch.stack([splits.train[i]["target"] for i in range(24)])
    clean = torch.stack([splits.train[i]["clean_target"] for i in range(24)])
    assert splits.info["noise_rate_realised"] == pytest.approx(
        float((noisy != clean).double().mean())
    )
    batch = adapter.collate([splits.train[i] for i in range(4)])
    assert batch["x"].shape == (4, 3, 32, 32)
    model = adapter.build_model(splits).eval()
    u = adapter.units(model, batch)
    assert u.pred.shape == (4, 10) and torch.equal(u.example_id, torch.arange(4))
    with pytest.raises(FileNotFoundError, match="data.data_dir"):
        adapter.build_datasets(None, seed=0)


def test_dataset_label_length_must_match_images():
    x = np.zeros((3, 32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="length 3 .*got target 2, clean 3"):
        Cifar10NDataset(x, np.zeros(2, int), np.zeros(3, int))


def test_augment_is_a_padded_crop_and_flip():
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
def test_models_give_logits(name):
    model = build_model(name, 10, width=8).eval()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_unknown_model_lists_names():
    with pytest.raises(ValueError, match=r"model must be one of \['small_cnn', 'resnet18'"):
        build_model("vgg", 10)


def test_real_data_subset_has_the_worst_noise(data_dir):
    require_data(data_dir / "cifar10" / "train.zip")
    d = load_arrays(data_dir, "worst", train_size=4000, subset_seed=0)
    # independent of the module: the reader's label set, mapped through the CSV's index
    std = read_cifar10n(data_dir / "cifar10n" / "CIFAR-10_human.pt", "worst")
    import csv

    with open(data_dir / "cifar10" / "train_labels.csv", newline="") as f:
        train_index = np.array([int(r["cifar10_train_index"]) for r in csv.DictReader(f)])
    np.testing.assert_array_equal(d["noisy"], std[train_index][d["index"]])
    assert abs(float((d["noisy"] != d["clean"]).mean()) - 0.4021) < 0.03
    assert len(d["x"]) == 4000 and d["x"][0].shape == (32, 32, 3)
