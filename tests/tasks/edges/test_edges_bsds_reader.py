"""BSDS500 boundary reader: real files, consensus, and bad inputs named by file."""

import numpy as np
import pytest
import scipy.io

from labelnoise.tasks.edges.bsds import consensus, read_boundaries, read_split
from tests.conftest import require_data


def _write(path, maps):
    cell = np.empty((1, len(maps)), dtype=object)
    for k, b in enumerate(maps):
        seg = np.ones(b.shape, dtype=np.uint16)
        cell[0, k] = {"Segmentation": seg, "Boundaries": b}
    scipy.io.savemat(path, {"groundTruth": cell})


def test_roundtrip_and_consensus(tmp_path):
    a = np.zeros((6, 8), np.uint8)
    a[2, :] = 1
    b = a.copy()
    b[:, 3] = 1
    _write(tmp_path / "x.mat", [a, b])
    got = read_boundaries(tmp_path / "x.mat", shape=(6, 8))
    np.testing.assert_array_equal(got, np.stack([a, b]))
    c = consensus(got)
    assert c[2, 0] == 1.0 and c[0, 3] == 0.5 and c[0, 0] == 0.0


def test_mat_without_groundtruth(tmp_path):
    scipy.io.savemat(tmp_path / "bad.mat", {"other": np.zeros(3)})
    with pytest.raises(ValueError, match=r"bad\.mat.*groundTruth.*\['other'\]"):
        read_boundaries(tmp_path / "bad.mat")


def test_annotator_map_of_wrong_size(tmp_path):
    _write(tmp_path / "size.mat", [np.zeros((6, 8), np.uint8), np.zeros((6, 7), np.uint8)])
    with pytest.raises(ValueError, match=r"size\.mat: annotator 1 .*\(6, 8\); got \(6, 7\)"):
        read_boundaries(tmp_path / "size.mat")
    with pytest.raises(ValueError, match=r"annotator 0 .*\(5, 8\); got \(6, 8\)"):
        read_boundaries(tmp_path / "size.mat", shape=(5, 8))


def test_non_binary_boundary_map(tmp_path):
    b = np.zeros((4, 4), np.uint8)
    b[1, 1] = 3
    _write(tmp_path / "nb.mat", [b])
    with pytest.raises(ValueError, match=r"nb\.mat: annotator 0 .*binary.*\[3\]"):
        read_boundaries(tmp_path / "nb.mat")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.mat"):
        read_boundaries(tmp_path / "nothere.mat")


def test_real_val_image(data_dir):
    root = require_data(data_dir / "bsds500")
    (item,) = read_split(root, "val", limit=1)
    k, h, w = item.boundaries.shape
    assert item.image.shape == (h, w, 3) and {h, w} == {321, 481}
    assert 5 <= k <= 9 and set(np.unique(item.boundaries)) <= {0, 1}
    # the raw .mat read independently agrees
    g = scipy.io.loadmat(root / "groundTruth" / "val" / f"{item.image_id}.mat")["groundTruth"]
    np.testing.assert_array_equal(item.boundaries[0], g[0, 0]["Boundaries"][0, 0])
