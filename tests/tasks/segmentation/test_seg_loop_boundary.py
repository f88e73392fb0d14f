"""The segmentation task through the engine (:func:`labelnoise.engine.train`): per-pixel
stateful losses and selectors, both decisions of one run against an independent recomputation
from ``best_model.pt``, boundary-tolerant targets (``task.ignore_boundary``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy import ndimage
from sklearn.metrics import jaccard_score

from labelnoise.common.units import IGNORE_INDEX
from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.engine.setup import build_task
from labelnoise.tasks.registry import get_task
from labelnoise.tasks.segmentation.boundary import ignore_near_boundary
from labelnoise.tasks.segmentation.data import stack_items
from labelnoise.tasks.segmentation.metrics import boundary_f1
from labelnoise.tasks.segmentation.models import predict


def _reference_ignore(labels: np.ndarray, k: int) -> np.ndarray:
    """Independent: a pixel is ignored when the max and min class of its window differ."""
    out = labels.copy()
    for i, m in enumerate(labels):
        valid = m != IGNORE_INDEX
        size = 2 * k + 1
        hi = ndimage.maximum_filter(np.where(valid, m, -1), size=size, mode="constant", cval=-1)
        lo = ndimage.minimum_filter(
            np.where(valid, m, 10**6), size=size, mode="constant", cval=10**6
        )
        out[i][(hi != lo) & valid] = IGNORE_INDEX
    return out


@pytest.mark.parametrize("k", [0, 1, 2])
def test_ignore_near_boundary_matches_window_reference(k):
    g = torch.Generator().manual_seed(k)
    labels = torch.randint(0, 3, (2, 12, 12), generator=g)
    labels = torch.repeat_interleave(torch.repeat_interleave(labels[:, :6, :6], 2, 1), 2, 2)
    labels[0, 0, 0] = IGNORE_INDEX
    got = ignore_near_boundary(labels, k=k)
    assert torch.equal(got, torch.from_numpy(_reference_ignore(labels.numpy(), k)))
    assert (got[labels == IGNORE_INDEX] == IGNORE_INDEX).all()
    assert torch.equal(labels, ignore_near_boundary(labels, k=0)) or k > 0


def test_ignore_near_boundary_bad_input():
    with pytest.raises(ValueError, match="k must be >= 0"):
        ignore_near_boundary(torch.zeros(1, 4, 4, dtype=torch.long), k=-1)
    with pytest.raises(ValueError, match="labels must be an integer"):
        ignore_near_boundary(torch.zeros(4, 4), k=1)


SIZE = 32
RECIPE = {
    "task": {
        "name": "segmentation",
        "dataset": "syn",
        "image_size": SIZE,
        "val_count": 2,
        "width": 4,
        "encoder_depth": 2,
    },
    "data": {"batch_size": 4, "eval_batch_size": 4},
    "optim": {"name": "adam", "lr": 0.02, "scheduler": "cosine"},
    "train": {"epochs": 6, "progress": False, "num_threads": 1, "select_by": "last"},
    "detection": {"method": "none"},
}


def _cfg(data_dir, out, **over):
    over = {"data": {"data_dir": str(data_dir)}, "output_dir": str(out), **over}
    return resolve(RECIPE, over)


@pytest.mark.parametrize(
    "over",
    [
        {"loss": {"name": "elr", "lam": 3.0, "beta": 0.7}},
        {"selector": {"name": "small_loss", "forget_rate": 0.2, "num_gradual": 2}},
    ],
    ids=["elr", "small_loss"],
)
def test_engine_with_pixel_memory_loss_and_selector(isbi_like, tmp_path, over):
    """ELR keeps one memory slot per training pixel; a selector weights pixels; both learn."""
    data_dir, truth = isbi_like
    cfg = _cfg(data_dir, tmp_path / "r", **over)
    metrics = train(cfg)
    assert metrics["test"]["miou"] > 0.8, metrics["test"]
    if over["loss" if "loss" in over else "selector"].get("name") == "elr":
        state = torch.load(
            next((tmp_path / "r" / "checkpoints").iterdir()) / "loop_state.pt", weights_only=True
        )
        (memory,) = [v for v in state["losses"][0].values() if torch.is_tensor(v) and v.dim() == 2]
        assert memory.shape == (8 * SIZE * SIZE, 2)  # 8 training images x pixels, 2 classes


def test_unknown_selector_names_the_key():
    with pytest.raises(ValueError, match="selector.name must be one of"):
        resolve({**RECIPE, "selector": {"name": "nope"}})
    with pytest.raises(ValueError, match="task.ignore_boundary must be >= 0; got -1"):
        resolve({**RECIPE, "task": {**RECIPE["task"], "ignore_boundary": -1}})


def test_prior_match_run_reports_both_decisions_as_recomputed(isbi_like, tmp_path):
    """One run with ``decision: prior_match`` reports the prior-matched and the argmax
    metrics of its selected model; both equal an independent recomputation from
    best_model.pt (sklearn IoU; the two-class prior-matched rule is a quantile threshold on
    the logit margin over the training pixels)."""
    data_dir, truth = isbi_like
    cfg = _cfg(
        data_dir,
        tmp_path / "r",
        task={"decision": "prior_match", "noise": {"preset": "hard"}},
        train={"epochs": 3},
    )
    metrics = train(cfg)
    task = build_task(cfg)
    model = task.adapter.build_model(task.splits)
    model.load_state_dict(torch.load(tmp_path / "r" / "best_model.pt", weights_only=True))
    x_tr, y_tr = stack_items(task.splits.train)  # noisy training masks
    x_te, _ = stack_items(task.splits.test)
    y_te = truth[-2:]
    assert torch.equal(stack_items(task.splits.test)[1], y_te)
    margin_tr = predict(model, x_tr, output="logits").diff(dim=1)[:, 0]  # logit1 - logit0
    threshold = torch.quantile(margin_tr.flatten().double(), float((y_tr == 0).double().mean()))
    logits_te = predict(model, x_te, output="logits")
    decided = (logits_te.diff(dim=1)[:, 0].double() > threshold).long()
    for pred, suffix in ((decided, ""), (logits_te.argmax(1), "_argmax")):
        ref = jaccard_score(y_te.flatten(), pred.flatten(), average="macro")
        assert metrics["test"][f"miou{suffix}"] == pytest.approx(ref, abs=2e-3), suffix
        bf1 = np.mean([boundary_f1(p.numpy(), t.numpy()) for p, t in zip(pred, y_te)])
        assert metrics["test"][f"boundary_f1{suffix}"] == pytest.approx(bf1, abs=2e-2), suffix
    history = [json.loads(line) for line in (tmp_path / "r" / "history.jsonl").open()]
    assert history[-1]["test_miou"] == pytest.approx(metrics["test"]["miou_argmax"])
    assert "test_miou_argmax" not in history[-1]  # per-epoch evaluations are argmax only


def test_ignore_boundary_leaves_no_loss_on_a_checkerboard(tmp_path):
    """``task.ignore_boundary`` on masks that are all boundary within 9 px: every training
    pixel is cut from the batches (as :func:`ignore_near_boundary` says), the training loss is
    0; the split keeps the full noisy masks."""
    from PIL import Image

    root = tmp_path / "data" / "syn"
    for sub in ("image", "label"):
        (root / "train" / sub).mkdir(parents=True)
    board = ((np.arange(SIZE)[:, None] // 8 + np.arange(SIZE)[None] // 8) % 2).astype(np.uint8)
    for i in range(4):
        Image.fromarray((board * 200).astype(np.uint8)).save(root / "train" / "image" / f"{i}.png")
        Image.fromarray(board * 255).save(root / "train" / "label" / f"{i}.png")
    cfg = _cfg(
        tmp_path / "data",
        tmp_path / "r",
        task={"ignore_boundary": 9, "val_count": 1},
        train={"epochs": 1, "checkpoint_every": None},
    )
    _, masks = stack_items(build_task(cfg).splits.train)
    assert (ignore_near_boundary(masks, k=9) == IGNORE_INDEX).all()
    assert torch.equal(masks[0], torch.from_numpy(board.astype(np.int64)))  # split: unbanded
    train(cfg)
    history = [json.loads(line) for line in (tmp_path / "r" / "history.jsonl").open()]
    assert history[0]["train_loss"] == 0.0
    relaxed = ignore_near_boundary(masks, k=1)
    assert (relaxed == IGNORE_INDEX).float().mean() < 1  # k = 1 keeps square interiors


def test_adapter_flips_image_and_target_together_in_training_only():
    adapter_cls = get_task("segmentation")
    adapter = adapter_cls(adapter_cls.Config())
    target = torch.randint(0, 2, (2, 6, 6))
    batch = {"image": (2.0 * target - 1.0)[:, None], "target": target, "example_id": [0, 1]}
    batch["example_id"] = torch.tensor(batch["example_id"])
    model = torch.nn.Conv2d(1, 2, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([-1.0, 1.0]).view(2, 1, 1, 1))
        model.bias.zero_()
    model.eval()
    plain = adapter.units(model, batch)
    assert torch.equal(plain.target, target.reshape(-1))
    model.train()
    torch.manual_seed(0)
    orders = set()
    for _ in range(12):
        u = adapter.units(model, batch)
        assert torch.equal(u.pred.argmax(1), u.target)  # pixels stay paired with their labels
        orders.add(tuple(u.target.tolist()))
    assert len(orders) > 1
