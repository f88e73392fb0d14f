"""COCO reader (polygons, RLE), mask AP, tiny Mask R-CNN end to end, noisy presets lower AP."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from labelnoise.common.noise import instance_mask_noise
from labelnoise.tasks.segmentation.coco import decode_rle, read_coco
from labelnoise.tasks.segmentation.instance import (
    build_maskrcnn,
    predict_instances,
    to_target,
    train_maskrcnn,
)
from labelnoise.tasks.segmentation.mask_ap import mask_average_precision


def _rle_string(mask: np.ndarray) -> str:
    """Independent encoder: pycocotools' rleToString over column-major runs."""
    flat = mask.T.reshape(-1).astype(np.uint8)
    runs, cur, n = [], 0, 0
    for v in flat:
        if v != cur:
            runs.append(n)
            cur, n = v, 0
        n += 1
    runs.append(n)
    out = []
    for i, x in enumerate(runs):
        if i > 2:
            x -= runs[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if c & 0x10 else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def _synthetic(n=12, size=48, seed=0):
    """Squares (class 1, as polygons) and discs (class 2, as compressed RLE) on noise."""
    rng = np.random.default_rng(seed)
    images, anns, annotations = [], [], []
    yy, xx = np.mgrid[:size, :size]
    for i in range(n):
        img = rng.normal(0.2, 0.05, (3, size, size)).astype(np.float32)
        masks, labels = [], []
        for j in range(2):
            cx, cy = 12 + 24 * j + int(rng.integers(-3, 4)), int(rng.integers(12, size - 12))
            r = int(rng.integers(5, 9))
            if (i + j) % 2 == 0:
                m = (abs(xx - cx) <= r) & (abs(yy - cy) <= r)
                seg = [
                    [cx - r, cy - r, cx + r + 1, cy - r, cx + r + 1, cy + r + 1, cx - r, cy + r + 1]
                ]
                label = 1
            else:
                m = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
                seg = {"size": [size, size], "counts": _rle_string(m)}
                label = 2
            img[label - 1, m] = 0.9
            masks.append(m)
            labels.append(label)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i,
                    "category_id": label,
                    "segmentation": seg,
                }
            )
        images.append(torch.from_numpy(img))
        anns.append({"id": i, "file_name": f"{i}.png", "height": size, "width": size})
    coco = {"images": anns, "annotations": annotations, "categories": [{"id": 1}, {"id": 2}]}
    return images, coco


def test_rle_decoder_round_trip_and_uncompressed():
    rng = np.random.default_rng(0)
    m = rng.random((7, 5)) < 0.4
    np.testing.assert_array_equal(decode_rle({"size": [7, 5], "counts": _rle_string(m)}), m)
    np.testing.assert_array_equal(
        decode_rle({"size": [2, 2], "counts": [1, 2, 1]}), [[False, True], [True, False]]
    )


def test_read_coco_polygons_and_rle(tmp_path):
    _, coco = _synthetic(n=2)
    (tmp_path / "a.json").write_text(json.dumps(coco))
    imgs = read_coco(tmp_path / "a.json")
    assert [im.masks.shape for im in imgs] == [(2, 48, 48), (2, 48, 48)]
    assert imgs[0].labels.tolist() == [1, 2] and imgs[1].labels.tolist() == [2, 1]
    square = imgs[0].masks[0]
    assert square.sum() == int((imgs[0].boxes[0, 2] - imgs[0].boxes[0, 0]) ** 2)


def test_bad_coco_files_named(tmp_path):
    _, coco = _synthetic(n=1)
    coco["annotations"][0]["image_id"] = 99
    (tmp_path / "missing.json").write_text(json.dumps(coco))
    with pytest.raises(ValueError, match=r"missing\.json annotation 1: image_id must be .*got 99"):
        read_coco(tmp_path / "missing.json")
    _, coco = _synthetic(n=1)
    coco["annotations"][0]["segmentation"] = [[1, 1, 5, 5]]
    (tmp_path / "poly.json").write_text(json.dumps(coco))
    with pytest.raises(ValueError, match=r"poly\.json annotation 1: a polygon must have >= 3"):
        read_coco(tmp_path / "poly.json")


def test_mask_ap_hand_computed():
    g = np.zeros((2, 10, 10), dtype=bool)
    g[0, :5, :5] = g[1, 5:, 5:] = True
    tgt = [{"masks": g, "labels": np.array([1, 1])}]
    perfect = [{"masks": g, "scores": np.array([0.9, 0.8]), "labels": np.array([1, 1])}]
    assert mask_average_precision(perfect, tgt)["map"] == pytest.approx(1.0)
    fp = np.zeros((1, 10, 10), dtype=bool)
    fp[0, 0, 9] = True
    half = [
        {"masks": np.concatenate([g[:1], fp]), "scores": np.array([0.9, 0.8]), "labels": [1, 1]}
    ]
    assert mask_average_precision(half, tgt)["map"] == pytest.approx(51 / 101)
    p = g[:1].copy()
    p[0, :5, 5:7] = True  # IoU 25 / 35 = 0.714: counts at 0.50 ... 0.70
    res = mask_average_precision([{"masks": p, "scores": [1.0], "labels": [1]}], tgt)
    assert res["map"] == pytest.approx(5 / 10 * 51 / 101)
    assert res["map_50"] == pytest.approx(51 / 101) and res["map_75"] == 0


def _train_eval(images, targets, clean_targets, steps, seed=0):
    torch.manual_seed(seed)
    model = build_maskrcnn(3, image_size=48)
    losses = train_maskrcnn(model, images, targets, steps=steps, batch_size=4, lr=2e-3, seed=seed)
    preds = predict_instances(model, images)
    tg = [
        {"masks": t["masks"].bool().numpy(), "labels": t["labels"].numpy()} for t in clean_targets
    ]
    return losses, preds, mask_average_precision(preds, tg)


def test_tiny_maskrcnn_end_to_end(tmp_path):
    images, coco = _synthetic(n=6)
    (tmp_path / "c.json").write_text(json.dumps(coco))
    targets = [to_target(im.masks, im.labels) for im in read_coco(tmp_path / "c.json")]
    losses, preds, ap = _train_eval(images, targets, targets, steps=8)
    assert all(np.isfinite(losses)) and len(preds) == 6
    assert preds[0]["masks"].shape[1:] == (48, 48) and 0.0 <= ap["map"] <= 1.0


@pytest.mark.slow
def test_noisy_presets_lower_ap_monotonically(tmp_path):
    images, coco = _synthetic(n=10)
    (tmp_path / "c.json").write_text(json.dumps(coco))
    read = read_coco(tmp_path / "c.json")
    clean = [to_target(im.masks, im.labels) for im in read]
    aps = []
    for preset in ("none", "medium", "hard"):
        noisy = [
            to_target(
                *instance_mask_noise(
                    im.masks, im.labels, num_classes=3, preset=preset, seed=i
                ).kept()
            )
            for i, im in enumerate(read)
        ]
        aps.append(_train_eval(images, noisy, clean, steps=60)[2]["map"])
    assert aps[0] > aps[1] > aps[2], aps
