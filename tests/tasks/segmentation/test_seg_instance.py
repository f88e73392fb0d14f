"""COCO reader (polygons, RLE), mask AP, and task ``instance_segmentation`` with ``method:
maskrcnn`` through the engine (tiny Mask R-CNN): steps, exact resume, mask AP of the units
against a hand value and against a recomputation from best_model.pt, noisy presets lower AP."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.engine.setup import build_task
from labelnoise.tasks.registry import get_task
from labelnoise.tasks.segmentation.coco import decode_rle, read_coco
from labelnoise.tasks.segmentation.instance import predict_instances
from labelnoise.tasks.segmentation.instance_adapter import InstanceNoiseOptions
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


SIZE = 32


def _write_blobs(root, *, n=6, seed=0):
    """ISBI-like pairs: 2-3 separated bright squares (255 in the mask) per image; returns the
    number of squares of each image."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for sub in ("image", "label"):
        (root / "train" / sub).mkdir(parents=True)
    counts = []
    for i in range(n):
        mask = np.zeros((SIZE, SIZE), dtype=bool)
        k = 2 + i % 2
        for j in range(k):
            x0, y0 = 2 + 10 * j + int(rng.integers(0, 3)), int(rng.integers(2, SIZE - 10))
            mask[y0 : y0 + 7, x0 : x0 + 7] = True
        image = np.where(mask, 220, 30) + rng.integers(0, 20, mask.shape)
        Image.fromarray(image.astype(np.uint8)).save(root / "train" / "image" / f"{i}.png")
        Image.fromarray((mask * 255).astype(np.uint8)).save(root / "train" / "label" / f"{i}.png")
        counts.append(k)
    return counts


RECIPE = {
    "task": {
        "name": "instance_segmentation",
        "dataset": "blobs",
        "image_size": SIZE,
        "val_count": 2,
        "width": 8,
        "min_area": 4,
    },
    "method": {"name": "maskrcnn"},
    "data": {"batch_size": 2, "eval_batch_size": 2},
    "optim": {"name": "adam", "lr": 2e-3},
    "train": {"epochs": 1, "progress": False, "num_threads": 1, "select_by": "last"},
    "detection": {"method": "none"},
}


def _cfg(tmp_path, out, **over):
    return resolve(
        RECIPE, {"data": {"data_dir": str(tmp_path / "data")}, "output_dir": str(out), **over}
    )


def test_instance_datasets_components_and_noise(tmp_path):
    counts = _write_blobs(tmp_path / "data" / "blobs")
    cls = get_task("instance_segmentation")
    clean = cls(cls.Config(dataset="blobs", image_size=SIZE, val_count=2))
    splits = clean.build_datasets(tmp_path / "data", seed=0)
    assert [len(splits.train[i]["target"]["labels"]) for i in range(4)] == counts[:4]
    assert [len(splits.test[i]["target"]["labels"]) for i in range(2)] == counts[4:]
    item = splits.val[0]
    assert torch.equal(item["target"]["masks"], item["clean_target"]["masks"])  # preset none
    assert item["target"]["masks"].sum(dim=(1, 2)).tolist() == [49] * counts[4]
    hard_noise = InstanceNoiseOptions(preset="hard")
    noisy = cls(cls.Config(dataset="blobs", image_size=SIZE, val_count=2, noise=hard_noise))
    hard = noisy.build_datasets(tmp_path / "data", seed=0)
    assert hard.info["mean_kept_mask_iou"] < 1.0 and hard.info["instances"] == sum(counts)
    again = noisy.build_datasets(tmp_path / "data", seed=0)  # seeded: the same noise
    assert all(
        torch.equal(hard.train[i]["target"]["masks"], again.train[i]["target"]["masks"])
        for i in range(4)
    )
    with pytest.raises(ValueError, match="task.min_area must be >= 0; got -1"):
        resolve({**RECIPE, "task": {**RECIPE["task"], "min_area": -1}})


class _Fixed(torch.nn.Module):
    """Eval-mode stand-in for Mask R-CNN returning fixed detections."""

    def __init__(self, outputs):
        super().__init__()
        self.outputs = outputs
        self.eval()

    def forward(self, images):
        return self.outputs[: len(images)]


def test_units_and_metrics_give_hand_computed_mask_ap():
    """Two annotated squares; detections: the first square (score 0.9) and a false positive
    (0.8): at every IoU threshold recall reaches 1/2 at precision 1, so AP = 51 / 101 (101
    recall points); an exact copy of both at any scores gives 1."""
    cls = get_task("instance_segmentation")
    adapter = cls(cls.Config(image_size=10))
    g = torch.zeros((2, 10, 10), dtype=torch.uint8)
    g[0, :5, :5] = g[1, 5:, 5:] = 1
    fp = torch.zeros((1, 10, 10), dtype=torch.uint8)
    fp[0, 0, 9] = 1
    batch = {
        "image": torch.zeros(1, 3, 10, 10),
        "target": [{"masks": g, "labels": torch.tensor([1, 1])}],
        "example_id": torch.tensor([0]),
    }

    def ap(masks, scores):
        model = _Fixed(
            [
                {
                    "masks": masks.float()[:, None] * 0.9,
                    "scores": torch.tensor(scores),
                    "labels": torch.ones(len(masks), dtype=torch.long),
                }
            ]
        )
        u = adapter.units(model, batch)
        assert u.pred.shape == (len(masks) + 2, 2 + 100) and u.target.tolist()[-2:] == [1, 1]
        return adapter.metrics(u)

    half = ap(torch.cat([g[:1], fp]), [0.9, 0.8])
    assert half["map"] == pytest.approx(51 / 101) and half["map_50"] == pytest.approx(51 / 101)
    assert ap(g, [0.3, 0.7]) == pytest.approx({"map": 1.0, "map_50": 1.0, "map_75": 1.0})
    assert adapter.primary_metric == "map"
    with pytest.raises(ValueError, match="trains with method: {name: maskrcnn}"):
        adapter.units(torch.nn.Module(), batch)  # a module in training mode


def test_maskrcnn_through_the_engine_steps_and_ap_as_recomputed(tmp_path):
    _write_blobs(tmp_path / "data" / "blobs")
    cfg = _cfg(tmp_path, tmp_path / "r")
    metrics = train(cfg)
    assert metrics["train"]["steps"] == 2 and metrics["method"] == "maskrcnn"
    losses = json.loads((tmp_path / "r" / "maskrcnn_losses.json").read_text())
    assert {"loss_classifier", "loss_mask", "loss_objectness"} <= set(losses)
    assert all(len(v) == 1 and np.isfinite(v[0]) for v in losses.values())
    task = build_task(cfg)
    model = task.adapter.build_model(task.splits)
    model.load_state_dict(torch.load(tmp_path / "r" / "best_model.pt", weights_only=True))
    test = [task.splits.test[i] for i in range(len(task.splits.test))]
    preds = predict_instances(model, [it["image"] for it in test])
    annotations = [
        {"masks": it["target"]["masks"].bool().numpy(), "labels": it["target"]["labels"].numpy()}
        for it in test
    ]
    ref = mask_average_precision(preds, annotations)
    assert metrics["test"] == pytest.approx(ref)
    assert {"noisy_map", "clean_map"} <= {k for k in metrics["val"]}


def test_maskrcnn_resumes_exactly(tmp_path, monkeypatch):
    from labelnoise.methods.maskrcnn import MaskRCNN

    _write_blobs(tmp_path / "data" / "blobs")
    two = {"train": {"epochs": 2}, "optim": {"name": "adam", "lr": 2e-3, "scheduler": "cosine"}}
    straight = train(_cfg(tmp_path, tmp_path / "a", **two))
    original, calls = MaskRCNN.step, []

    def crash_in_epoch_2(self, batch):
        calls.append(1)
        if len(calls) == 3:  # the first step after epoch 1's checkpoint
            raise KeyboardInterrupt
        return original(self, batch)

    cfg = _cfg(tmp_path, tmp_path / "b", **two)
    monkeypatch.setattr(MaskRCNN, "step", crash_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(MaskRCNN, "step", original)
    resumed = train(cfg, resume=True)
    assert resumed["test"] == straight["test"] and resumed["train"]["steps"] == 4
    a, b = (torch.load(tmp_path / d / "best_model.pt", weights_only=True) for d in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "a" / "maskrcnn_losses.json").read_text() == (
        tmp_path / "b" / "maskrcnn_losses.json"
    ).read_text()


def test_maskrcnn_config_errors_name_the_key():
    with pytest.raises(ValueError, match="loss.name must be 'ce' with method 'maskrcnn'"):
        resolve({**RECIPE, "loss": {"name": "gce"}})
    with pytest.raises(ValueError, match="detection.method must be 'none' with method 'maskrcnn'"):
        resolve({**RECIPE, "detection": {"method": "kfold"}})
    with pytest.raises(ValueError, match="method 'maskrcnn' does not run on task 'segmentation'"):
        resolve({**RECIPE, "task": {"name": "segmentation"}})


@pytest.mark.slow
def test_noisy_presets_lower_ap_monotonically(tmp_path):
    _write_blobs(tmp_path / "data" / "blobs", n=12)
    aps = []
    for preset in ("none", "medium", "hard"):
        cfg = _cfg(
            tmp_path,
            tmp_path / preset,
            task={"noise": {"preset": preset}, "val_count": 2},
            train={"epochs": 15},
        )
        aps.append(train(cfg)["test"]["map"])
    assert aps[0] > aps[1] > aps[2], aps
