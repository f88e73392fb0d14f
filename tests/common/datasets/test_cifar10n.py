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
    CIFAR10N_LABEL_SETS,
    load_cifar10n,
    read_cifar10,
    read_cifar10n,
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
