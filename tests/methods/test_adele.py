"""``method: adele`` through the engine (labelnoise.methods.adele) on tiny synthetic PNG data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.engine.setup import build_task
from labelnoise.tasks.segmentation.data import stack_items

SIZE, N = 32, 10


def _write_dataset(root):
    """Cells are the bright 4 x 4 blocks of the image; every given mask marks the top-left
    8 x 8 corner membrane (0), the noise ADELE should correct where the image is bright."""
    from PIL import Image

    rng = np.random.default_rng(0)
    truth = []
    for sub in ("image", "label"):
        (root / "train" / sub).mkdir(parents=True)
    for i in range(N):
        blocks = rng.random((SIZE // 4, SIZE // 4)) < 0.5
        blocks[:2, :2] = True  # the corrupted corner is cell in every image
        cell = np.kron(blocks, np.ones((4, 4), dtype=bool))
        image = np.where(cell, 200, 40) + rng.integers(0, 20, cell.shape)
        noisy = cell.copy()
        noisy[:8, :8] = False
        Image.fromarray(image.astype(np.uint8)).save(root / "train" / "image" / f"{i}.png")
        Image.fromarray((noisy * 255).astype(np.uint8)).save(root / "train" / "label" / f"{i}.png")
        truth.append(cell.astype(np.int64))
    return torch.from_numpy(np.stack(truth))


RECIPE = {
    "name": "adele",
    "method": {"name": "adele", "r": 0.2, "tau": 0.6, "scales": [0.5, 1.0], "min_epochs": 3},
    "task": {
        "name": "segmentation",
        "dataset": "syn",
        "image_size": SIZE,
        "val_count": 2,
        "width": 4,
        "encoder_depth": 2,
    },
    "data": {"batch_size": 4, "eval_batch_size": 4},
    "optim": {"name": "adam", "lr": 0.02},
    "train": {"epochs": 8, "progress": False, "num_threads": 1, "select_by": "last"},
    "detection": {"method": "none"},
}


def _flip_scale_probs(model, x, scales):
    """Independent re-implementation of ADELE's correction probabilities."""
    views = []
    for s in scales:
        xs = x if s == 1 else F.interpolate(x, scale_factor=s, mode="bilinear")
        for flip in (False, True):
            out = model(xs.flip(-1) if flip else xs)
            out = out.flip(-1) if flip else out
            views.append(F.interpolate(out, size=x.shape[-2:], mode="bilinear").softmax(1))
    return torch.stack(views).mean(0)


def test_adele_recipe_corrects_the_noisy_corner(tmp_path):
    truth = _write_dataset(tmp_path / "syn")
    cfg = resolve(RECIPE, {"data": {"data_dir": str(tmp_path)}, "output_dir": str(tmp_path / "r")})
    metrics = train(cfg)
    assert metrics["test"]["miou"] > 0.5 and metrics["train"]["epochs"] == 8
    info = json.loads((tmp_path / "r" / "adele.json").read_text())
    assert len(info["iou_curve"]) == 8 and any(o is not None and o >= 3 for o in info["onset"])
    first = min(o for o in info["onset"] if o is not None)
    assert info["corrected_fraction"][first - 2] == 0 and info["corrected_fraction"][-1] > 0

    images, noisy = stack_items(build_task(cfg).splits.train)  # the original noisy masks
    assert (noisy != truth[:8]).any() and (noisy[:, 8:, :] == truth[:8, 8:, :]).all()
    labels = torch.load(tmp_path / "r" / "adele_labels.pt", weights_only=True)
    assert labels.shape == noisy.shape and (labels != noisy).any()
    model = build_task(cfg).adapter.build_model(build_task(cfg).splits)
    model.load_state_dict(torch.load(tmp_path / "r" / "best_model.pt", weights_only=True))
    model.eval()
    with torch.no_grad():
        probs = _flip_scale_probs(model, images, (0.5, 1.0))
    conf, pred = probs.max(1)
    active = torch.tensor([o is not None for o in info["onset"]])
    expected = torch.where((conf > 0.6) & active[pred], pred, noisy)
    assert (expected == labels).float().mean() > 0.999
    # toward the prediction and, here, toward the truth: the corner gets cell back
    assert (labels == truth[:8]).float().mean() > (noisy == truth[:8]).float().mean()
    saved = torch.load(
        next((tmp_path / "r" / "checkpoints").iterdir()) / "loop_state.pt", weights_only=True
    )
    assert (
        torch.equal(saved["method"]["target"], labels) and saved["method"]["onset"] == info["onset"]
    )


@pytest.mark.parametrize(
    "options, match",
    [
        ({"r": 1.5}, r"method\.r must be in \(0, 1\); got 1.5"),
        ({"tau": 1.0}, r"method\.tau must be in \[0, 1\)"),
        ({"scales": [0.5, 2.0]}, r"method\.scales must be positive and contain 1.0"),
        ({"scales": ["big"]}, r"method\.scales\[0\] must be a float"),
        ({"consistency_weight": -1}, r"method\.consistency_weight must be >= 0"),
        ({"min_epochs": 0}, r"method\.min_epochs must be >= 1"),
        ({"rr": 0.5}, r"unknown key 'method\.rr'"),
    ],
)
def test_bad_adele_options_name_the_field(tmp_path, options, match):
    with pytest.raises(ValueError, match=match):  # at config time, before any run starts
        resolve({**RECIPE, "method": {"name": "adele", **options}})


def test_adele_needs_the_segmentation_task(tmp_path):
    recipe = {**RECIPE, "task": {"name": "classification"}}
    with pytest.raises(
        ValueError, match="method 'adele' does not run on task 'classification'.*segmentation"
    ):
        resolve(recipe)


def test_resume_restores_the_corrected_masks(tmp_path, monkeypatch):
    import labelnoise.methods.adele as mod

    _write_dataset(tmp_path / "syn")
    short = {"data": {"data_dir": str(tmp_path)}, "train": {"epochs": 5}}
    straight = train(resolve(RECIPE, {**short, "output_dir": str(tmp_path / "a")}))
    original = mod.adele_epoch_end

    def crash_at_4(*args, epoch, **kwargs):
        if epoch == 4:
            raise KeyboardInterrupt
        return original(*args, epoch=epoch, **kwargs)

    cfg = resolve(RECIPE, {**short, "output_dir": str(tmp_path / "b")})
    monkeypatch.setattr(mod, "adele_epoch_end", crash_at_4)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(mod, "adele_epoch_end", original)
    resumed = train(cfg, resume=True)
    a, b = (json.loads((tmp_path / d / "adele.json").read_text()) for d in "ab")
    assert a == b and a["corrected_fraction"][-1] > 0
    assert torch.equal(*(torch.load(tmp_path / d / "adele_labels.pt") for d in "ab"))
    assert resumed["test"] == straight["test"]
