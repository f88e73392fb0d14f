"""PNG pair reader, BSDS500 reader: formats as published and errors naming the file."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from labelnoise.common.units import IGNORE_INDEX
from labelnoise.tasks.segmentation import read_bsds500, read_bsds_mat, read_pairs
from tests.conftest import require_data


def _write(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


@pytest.fixture
def pairs(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        _write(tmp_path / "image" / f"{i}.png", rng.integers(0, 255, (8, 10), dtype=np.uint8))
        mask = np.where(rng.random((8, 10)) < 0.5, 0, 255).astype(np.uint8)
        mask[0, 0] = 7
        _write(tmp_path / "label" / f"{i}.png", mask)
    return tmp_path


def test_pairs_map_values_and_ignore(pairs):
    images, masks, stems = read_pairs(
        pairs / "image", pairs / "label", {0: 0, 255: 1}, ignore_value=7
    )
    raw = np.asarray(Image.open(pairs / "label" / "1.png"))
    assert stems == ["0", "1", "2"] and images[1].shape == (8, 10)
    assert masks[1].dtype == np.int64 and masks[1][0, 0] == IGNORE_INDEX
    np.testing.assert_array_equal(masks[1][raw == 255], 1)
    np.testing.assert_array_equal(masks[1][raw == 0], 0)


def test_values_outside_class_set_name_the_file(pairs):
    with pytest.raises(ValueError, match=r"label/0\.png values must be in \[0, 255\]; got \[7\]"):
        read_pairs(pairs / "image", pairs / "label", {0: 0, 255: 1})


def test_size_mismatch_names_the_file(pairs):
    _write(pairs / "label" / "2.png", np.zeros((9, 10), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"mask .*label/2\.png must have the size of image"):
        read_pairs(pairs / "image", pairs / "label", {0: 0, 255: 1}, ignore_value=7)


def test_empty_mask_folder_named(tmp_path, pairs):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"mask folder .*empty must hold image files"):
        read_pairs(pairs / "image", tmp_path / "empty", {0: 0, 255: 1})
    with pytest.raises(FileNotFoundError, match="missing"):
        read_pairs(pairs / "image", tmp_path / "missing", {0: 0, 255: 1})


def test_bsds_mat_fixture(tmp_path):
    from scipy.io import savemat

    segs = [np.arange(12, dtype=np.uint16).reshape(3, 4) % 3 + 1, np.ones((3, 4), np.uint16)]
    bnds = [np.eye(3, 4, dtype=np.uint8), np.zeros((3, 4), np.uint8)]
    cell = np.empty((1, 2), dtype=object)
    for k in range(2):
        cell[0, k] = {"Segmentation": segs[k], "Boundaries": bnds[k]}
    savemat(tmp_path / "1.mat", {"groundTruth": cell})
    s, b = read_bsds_mat(tmp_path / "1.mat")
    assert s.shape == (2, 3, 4) and s.dtype == np.uint16 and b.dtype == np.uint8
    np.testing.assert_array_equal(s[0], segs[0])
    np.testing.assert_array_equal(b[0], bnds[0])
    savemat(tmp_path / "bad.mat", {"other": np.zeros(2)})
    with pytest.raises(ValueError, match=r"bad\.mat must hold a variable 'groundTruth'"):
        read_bsds_mat(tmp_path / "bad.mat")


def test_real_isbi_and_bsds(data_dir):
    root = require_data(data_dir / "isbi2012" / "train")
    _, masks, stems = read_pairs(root / "image", root / "label", {0: 0, 255: 1}, names=["0"])
    assert masks[0].shape == (512, 512) and 0.6 < masks[0].mean() < 0.9
    bsds = require_data(data_dir / "bsds500")
    item = read_bsds500(bsds, "val", limit=1)[0]
    assert item.image.shape[:2] == item.segmentations.shape[1:]
    assert 4 <= item.segmentations.shape[0] <= 9 and item.segmentations.min() >= 1
    assert set(np.unique(item.boundaries)) <= {0, 1}
