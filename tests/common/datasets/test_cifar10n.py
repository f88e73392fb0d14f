"""CIFAR-10 zips + CIFAR-10N label sets: the published noise rates, the mapping rule, bad input."""

from __future__ import annotations

import io
import os
import pickle
import zipfile

import numpy as np
import pytest
from PIL import Image

from labelnoise.common.datasets.cifar10n import (
    CIFAR10_CLASSES,
    CIFAR10N_LABEL_SETS,
    load_arrays,
    load_cifar10n,
    read_cifar10,
    read_cifar10n,
    read_cifar10n_workers,
)
from tests.conftest import require_data

# Data README, cifar10n/: noise rates against clean_label (Wei et al., ICLR 2022, Table 1).
PUBLISHED = {
    "aggre": 0.0901,
    "random1": 0.1723,
    "random2": 0.1812,
    "random3": 0.1764,
    "worst": 0.4021,
}


@pytest.fixture(scope="module")
def cifar_root(data_dir):
    require_data(data_dir / "cifar10" / "train.zip")
    require_data(data_dir / "cifar10n" / "CIFAR-10_human.pt")
    return data_dir


def test_published_noise_rates(cifar_root):
    label_file = cifar_root / "cifar10n" / "CIFAR-10_human.pt"
    images, worst = load_cifar10n(cifar_root, "worst")
    assert len(images) == 50_000 and worst.shape == (50_000,)
    for name, rate in PUBLISHED.items():
        noisy = images.align(read_cifar10n(label_file, name))
        assert abs(float((noisy != images.labels).mean()) - rate) < 5e-5, name
    # The README's rule, written independently: train/<c>/k.jpg is the k-th index i with
    # clean_label[i] == c.
    clean = read_cifar10n(label_file, "clean")
    k = np.array([int(p.split("/")[1][:4]) for p in images.paths])
    rule = np.empty(len(images), dtype=np.int64)
    for c in range(10):
        at = images.labels == c
        rule[at] = np.flatnonzero(clean == c)[k[at]]
    np.testing.assert_array_equal(rule, images.train_index)
    assert images.image(int(np.flatnonzero(images.train_index == 0)[0])).size == (32, 32)


def _jpeg(color) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(buf, format="JPEG")
    return buf.getvalue()


def _tiny_cifar(tmp_path, *, bad: str | None = None):
    folder = tmp_path / "cifar10"
    folder.mkdir()
    names = ["airplane/0000.jpg", "airplane/0001.jpg", "automobile/0000.jpg"]
    with zipfile.ZipFile(folder / "train.zip", "w", zipfile.ZIP_STORED) as z:
        for n in names:
            z.writestr(n, b"not a jpeg" if n == bad else _jpeg((200, 10, 10)))
    rows = ["zip_index,path,label,class_name,cifar10_train_index"]
    rows += [
        f"{i},{n},{int(n.startswith('auto'))},{n.split('/')[0]},{j}"
        for i, (n, j) in enumerate(zip(names, [1, 2, 0]))
    ]
    (folder / "train_labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def _label_file(tmp_path, arrays: dict) -> str:
    path = tmp_path / "human.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(arrays, protocol=2))
    return path


def test_tiny_layout_and_align(tmp_path):
    images = read_cifar10(_tiny_cifar(tmp_path))
    np.testing.assert_array_equal(images.labels, [0, 0, 1])
    lf = _label_file(
        tmp_path, {"clean_label": np.array([1, 0, 0]), "worse_label": np.array([0, 1, 1])}
    )
    np.testing.assert_array_equal(images.align(read_cifar10n(lf, "clean")), [0, 0, 1])
    np.testing.assert_array_equal(images.align(read_cifar10n(lf, "worst")), [1, 1, 0])
    arr = images.array([2, 0])
    assert arr.shape == (2, 32, 32, 3) and arr.dtype == np.uint8
    np.testing.assert_array_equal(arr[0], np.asarray(images.image(2)))
    assert abs(int(arr[0, 5, 5, 0]) - 200) < 8  # the JPEG's red, up to compression


def test_pixels_are_decoded_once_and_match_the_jpeg(tmp_path, monkeypatch):
    images = read_cifar10(_tiny_cifar(tmp_path))
    reference = [np.asarray(images.image(i)) for i in range(3)]
    decoded = []
    real = type(images).image
    monkeypatch.setattr(type(images), "image", lambda self, i: decoded.append(i) or real(self, i))
    for _ in range(3):  # three "epochs"
        for i in (2, 0, 1):
            np.testing.assert_array_equal(images.pixels(i), reference[i])
    assert sorted(decoded) == [0, 1, 2]  # each JPEG decoded once
    out = images.pixels(0)
    out[:] = 0  # a caller's copy: the kept pixels do not change
    np.testing.assert_array_equal(images.pixels(0), reference[0])
    assert pickle.loads(pickle.dumps(images))._memo is None  # not shipped to workers


def test_image_of_the_wrong_size_is_named(tmp_path):
    folder = _tiny_cifar(tmp_path)
    with zipfile.ZipFile(folder / "train.zip", "a") as z:
        buf = io.BytesIO()
        Image.new("RGB", (16, 8), (1, 2, 3)).save(buf, format="JPEG")
        z.writestr("automobile/0001.jpg", buf.getvalue())
    rows = (folder / "train_labels.csv").read_text()
    (folder / "train_labels.csv").write_text(rows + "3,automobile/0001.jpg,1,automobile,3\n")
    images = read_cifar10(folder)
    with pytest.raises(ValueError, match="automobile/0001.jpg.* must be 32x32 RGB; got 16x8"):
        images.pixels(3)


def test_unknown_label_set_lists_valid_names(tmp_path):
    with pytest.raises(ValueError, match="label_set must be one of .*'aggre'.*'worst'"):
        read_cifar10n(tmp_path / "x.pt", "worse")
    assert sorted(CIFAR10N_LABEL_SETS) == [
        "aggre",
        "clean",
        "random1",
        "random2",
        "random3",
        "worst",
    ]


def test_corrupted_member_is_named(tmp_path):
    images = read_cifar10(_tiny_cifar(tmp_path, bad="airplane/0001.jpg"))
    images.image(0)
    with pytest.raises(ValueError, match="airplane/0001.jpg"):
        images.image(1)


def test_label_length_must_match_images(tmp_path):
    images = read_cifar10(_tiny_cifar(tmp_path))
    lf = _label_file(tmp_path, {"aggre_label": np.array([0, 1, 1, 0])})
    with pytest.raises(ValueError, match="length 3 .* got shape \\(4,\\)"):
        images.align(read_cifar10n(lf, "aggre"))


def test_unsafe_pickle_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.getcwd, ())

    lf = _label_file(tmp_path, {"aggre_label": Evil()})
    with pytest.raises(ValueError, match="only hold numpy arrays; got global"):
        read_cifar10n(lf, "aggre")


# --- load_arrays and the worker ids -------------------------------------------------------

N_PER_CLASS = 3  # fake root: 30 training images, 10 test images


def _gray(value: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (value, value, value)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def fake_cifar10n_root(tmp_path):
    """``cifar10/{train,test}.zip`` + CSVs, ``cifar10n/CIFAR-10_human.pt`` and
    ``cifar10n/side_info_cifar10N.csv`` in the published layout (tests of the classification
    task use it too). Image brightness = 8 x standard training index, so the mapping is
    visible in the pixels; the worker of label set k on image i is ``100 k + i // 10``.

    Returns ``(root, clean_std, worst_std, random1_std)`` (labels in the standard order).
    """
    cifar = tmp_path / "cifar10"
    cifar.mkdir()
    n = 10 * N_PER_CLASS
    clean_std = np.arange(n) % 10  # standard order: classes interleaved
    worst_std = (clean_std + (np.arange(n) % 3 == 0)) % 10  # every third label shifted
    random1_std = (clean_std + (np.arange(n) % 5 == 0)) % 10
    rows = ["zip_index,path,label,class_name,cifar10_train_index"]
    with zipfile.ZipFile(cifar / "train.zip", "w", zipfile.ZIP_STORED) as z:
        for c, name in enumerate(CIFAR10_CLASSES):
            for k, i in enumerate(np.flatnonzero(clean_std == c)):
                z.writestr(f"{name}/{k:04d}.jpg", _gray(8 * int(i)))
                rows.append(f"{len(rows) - 1},{name}/{k:04d}.jpg,{c},{name},{i}")
    (cifar / "train_labels.csv").write_text("\n".join(rows) + "\n")
    rows = ["zip_index,path,label,class_name"]
    with zipfile.ZipFile(cifar / "test.zip", "w", zipfile.ZIP_STORED) as z:
        for c, name in enumerate(CIFAR10_CLASSES):
            z.writestr(f"{name}/0000.jpg", _gray(250))
            rows.append(f"{c},{name}/0000.jpg,{c},{name}")
    (cifar / "test_labels.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "cifar10n").mkdir()
    arrays = {"clean_label": clean_std, "worse_label": worst_std, "random_label1": random1_std}
    with zipfile.ZipFile(tmp_path / "cifar10n" / "CIFAR-10_human.pt", "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(arrays, protocol=2))
    side = [
        "Image-batch,Worker1-id,Work-time-in-seconds-1,Worker2-id,Work-time-in-seconds-2,"
        "Worker3-id,Work-time-in-seconds-3"
    ]
    side += [
        f"{a}--{a + 9},{a // 10},5,{100 + a // 10},5,{200 + a // 10},5" for a in range(0, n, 10)
    ]
    (tmp_path / "cifar10n" / "side_info_cifar10N.csv").write_text("\n".join(side) + "\n")
    return tmp_path, clean_std, worst_std, random1_std


def test_load_arrays_maps_labels_to_pixels_and_cache_matches(tmp_path):
    root, clean_std, worst_std, _ = fake_cifar10n_root(tmp_path)
    lazy = load_arrays(root, "worst", train_size=12, subset_seed=1)
    cached = load_arrays(root, "worst", train_size=12, subset_seed=1, cache_dir=tmp_path / "c")
    assert len(list((tmp_path / "c").glob("*.npy"))) == 2
    x = np.stack([lazy["x"][i] for i in range(12)])
    np.testing.assert_array_equal(x, cached["x"])
    std_index = np.round(x[:, 16, 16, 0] / 8).astype(int)  # brightness encodes the index
    np.testing.assert_array_equal(lazy["noisy"], worst_std[std_index])
    np.testing.assert_array_equal(lazy["clean"], clean_std[std_index])
    assert (lazy["worker"] == -1).all()  # the worst label has no single worker
    assert cached["x_test"].shape == (10, 32, 32, 3) and list(cached["y_test"]) == list(range(10))
    with pytest.raises(ValueError, match=r"train_size must be in \[1, 30\]; got 31"):
        load_arrays(root, "worst", train_size=31)


def test_worker_ids_follow_the_image(tmp_path):
    root, _, _, random1_std = fake_cifar10n_root(tmp_path)
    d = load_arrays(root, "random1")
    std_index = np.round(np.stack([d["x"][i] for i in range(30)])[:, 16, 16, 0] / 8).astype(int)
    np.testing.assert_array_equal(d["worker"], std_index // 10)  # Worker1-id of its batch
    np.testing.assert_array_equal(d["noisy"], random1_std[std_index])
    w = read_cifar10n_workers(root / "cifar10n" / "side_info_cifar10N.csv", 30)
    np.testing.assert_array_equal(w[:, 2], 200 + np.arange(30) // 10)


def test_worker_file_errors_name_the_problem(tmp_path):
    bad = tmp_path / "side.csv"
    bad.write_text("Image-batch,Worker1-id\n0--9,3\n")
    with pytest.raises(ValueError, match="missing \\['Worker2-id', 'Worker3-id'\\]"):
        read_cifar10n_workers(bad)
    bad.write_text("Image-batch,Worker1-id,Worker2-id,Worker3-id\n0--10,1,2,3\n")
    with pytest.raises(ValueError, match=r"line 2: Image-batch must lie in \[0, 5\); got 0--10"):
        read_cifar10n_workers(bad, 5)
    with pytest.raises(FileNotFoundError, match="side-info file must exist"):
        read_cifar10n_workers(tmp_path / "none.csv")


def test_real_worker_ids(cifar_root):
    """The published side info, read independently: 747 workers, 10 images per row, and the
    README's facts (5,000 rows; each image has three workers)."""
    import csv

    path = cifar_root / "cifar10n" / "side_info_cifar10N.csv"
    w = read_cifar10n_workers(path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5000 and (w >= 0).all()
    assert len(np.unique(w)) == 747
    for r in (rows[0], rows[1234], rows[-1]):
        a, b = (int(v) for v in r["Image-batch"].split("--"))
        expect = [int(r["Worker1-id"]), int(r["Worker2-id"]), int(r["Worker3-id"])]
        assert (w[a : b + 1] == expect).all()
    d = load_arrays(cifar_root, "random2", train_size=50, subset_seed=3)
    images, _ = load_cifar10n(cifar_root, "random2")
    np.testing.assert_array_equal(d["worker"], w[images.train_index[d["index"]], 1])
