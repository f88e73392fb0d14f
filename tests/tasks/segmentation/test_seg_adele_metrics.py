"""ADELE pieces, segmentation metrics (vs sklearn / hand counts), the adapter contract."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, jaccard_score

from labelnoise.common.units import IGNORE_INDEX
from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.engine.setup import build_task
from labelnoise.tasks.registry import get_task
from labelnoise.tasks.segmentation.adele import (
    correct_labels,
    fit_early_learning_curve,
    memorization_onset,
    multiscale_consistency,
    multiscale_probs,
)
from labelnoise.tasks.segmentation.data import stack_items
from labelnoise.tasks.segmentation.metrics import (
    boundary_f1,
    confusion_matrix,
    dice_scores,
    iou_scores,
    segmentation_metrics,
)
from labelnoise.tasks.segmentation.models import TinyUNet, build_smp_model, predict


def test_iou_dice_match_sklearn():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 3, 500), rng.integers(0, 3, 500)
    y[:20] = IGNORE_INDEX
    cm = confusion_matrix(torch.from_numpy(p), torch.from_numpy(y), 3)
    keep = y != IGNORE_INDEX
    np.testing.assert_allclose(iou_scores(cm), jaccard_score(y[keep], p[keep], average=None))
    np.testing.assert_allclose(dice_scores(cm), f1_score(y[keep], p[keep], average=None))
    assert segmentation_metrics(cm)["pixel_accuracy"] == pytest.approx((y == p)[keep].mean())


def test_boundary_f1():
    t = np.zeros((20, 20), dtype=int)
    t[:, 10:] = 1
    assert boundary_f1(t, t) == 1.0
    shifted = np.zeros_like(t)
    shifted[:, 12:] = 1
    assert boundary_f1(shifted, t, tolerance=2) == 1.0
    far = np.zeros_like(t)
    far[:, 15:] = 1
    assert boundary_f1(far, t, tolerance=2) == 0.0
    assert boundary_f1(np.zeros_like(t), t) == 0.0


def test_curve_fit_and_onset():
    t = np.arange(1, 31)
    curve = 0.8 * (1 - np.exp(-0.3 * t**1.0))
    a, b, c = fit_early_learning_curve(curve)
    assert (a, b, c) == pytest.approx((0.8, 0.3, 1.0), rel=1e-3)
    # f'(t) / f'(1) = exp(-0.3 (t - 1)): below 0.1 from t = 1 + ln(10) / 0.3 = 8.68
    assert not memorization_onset(curve[:8])
    assert memorization_onset(curve[:9])
    assert not memorization_onset(np.linspace(0.1, 0.9, 12))


def test_correct_labels_only_confident_active_classes():
    labels = torch.tensor([[[0, 0, 1, IGNORE_INDEX]]])
    probs = torch.tensor([[[[0.1, 0.5, 0.05, 0.05]], [[0.9, 0.5, 0.95, 0.95]]]])
    out = correct_labels(labels, probs, active=torch.tensor([False, True]))
    assert out.tolist() == [[[1, 0, 1, IGNORE_INDEX]]]
    out = correct_labels(labels, probs, active=torch.tensor([False, False]))
    assert torch.equal(out, labels)


def test_multiscale_consistency_zero_for_equal_views_and_grads():
    p = torch.softmax(torch.randn(2, 3, 4, 4), 1)
    assert float(multiscale_consistency([p, p])) == pytest.approx(0.0, abs=1e-6)
    model = TinyUNet(width=2, depth=1)
    probs = multiscale_probs(model, torch.randn(1, 1, 8, 8), scales=(0.5, 1.0))
    assert len(probs) == 4 and probs[0].shape == (1, 2, 8, 8)
    loss = multiscale_consistency(probs)
    loss.backward()
    assert float(loss.detach()) > 0 and all(
        torch.isfinite(q.grad).all() for q in model.parameters()
    )


def test_adele_through_the_engine_fits_the_decision_on_the_original_masks(isbi_like, tmp_path):
    """``method: adele`` with ``decision: prior_match``: the masks it trains on are corrected,
    but the offsets are fitted on the ORIGINAL noisy masks' class frequencies (recomputed here
    from best_model.pt: the predicted membrane fraction on the training images equals it)."""
    data_dir, _ = isbi_like
    recipe = {
        "method": {"name": "adele", "r": 0.2, "tau": 0.6, "scales": [1.0], "min_epochs": 3},
        "task": {
            "name": "segmentation",
            "dataset": "syn",
            "image_size": 32,
            "val_count": 2,
            "width": 4,
            "encoder_depth": 2,
            "decision": "prior_match",
            "noise": {"preset": "hard"},
        },
        "data": {"batch_size": 4, "eval_batch_size": 4, "data_dir": str(data_dir)},
        "optim": {"name": "adam", "lr": 0.02},
        "train": {"epochs": 6, "progress": False, "num_threads": 1, "select_by": "last"},
        "detection": {"method": "none"},
        "output_dir": str(tmp_path / "r"),
    }
    cfg = resolve(recipe)
    metrics = train(cfg)
    assert {"miou", "miou_argmax", "boundary_f1", "boundary_f1_argmax"} <= set(metrics["test"])
    task = build_task(cfg)
    images, noisy = stack_items(task.splits.train)
    corrected = torch.load(tmp_path / "r" / "adele_labels.pt", weights_only=True)
    info = json.loads((tmp_path / "r" / "adele.json").read_text())
    assert len(info["iou_curve"]) == 6 and all(len(v) == 2 for v in info["iou_curve"])
    model = task.adapter.build_model(task.splits)
    model.load_state_dict(torch.load(tmp_path / "r" / "best_model.pt", weights_only=True))
    margin = predict(model, images, output="logits").diff(dim=1)[:, 0].flatten().double()
    x_te, y_te = stack_items(task.splits.test)
    margin_te = predict(model, x_te, output="logits").diff(dim=1)[:, 0].double()

    def miou_with_prior(masks):  # two classes: the rule is a quantile threshold on the margin
        threshold = torch.quantile(margin, float((masks == 0).double().mean()))
        pred = (margin_te > threshold).long()
        return jaccard_score(y_te.flatten(), pred.flatten(), average="macro")

    assert metrics["test"]["miou"] == pytest.approx(miou_with_prior(noisy), abs=2e-3)
    assert (corrected != noisy).any()  # ADELE relabelled some pixels ...
    assert (corrected == 0).sum() != (noisy == 0).sum()  # ... so their prior differs


def test_smp_builder_and_adapter_units():
    model = build_smp_model(encoder="resnet18", encoder_depth=3, in_channels=1, num_classes=2)
    assert model(torch.randn(1, 1, 32, 32)).shape == (1, 2, 32, 32)
    with pytest.raises(ValueError, match="arch must be"):
        build_smp_model(arch="NoSuchNet")
    adapter_cls = get_task("segmentation")
    adapter = adapter_cls(adapter_cls.Config(width=4, encoder_depth=2))
    batch = {
        "image": torch.randn(2, 1, 8, 8),
        "target": torch.randint(0, 2, (2, 8, 8)),
        "example_id": torch.tensor([5, 7]),
    }
    batch["target"][0, 0, 0] = IGNORE_INDEX
    from labelnoise.tasks.base import DatasetSplits

    net = adapter.build_model(DatasetSplits(None, None, None, num_classes=2))
    units = adapter.units(net, batch)
    assert units.pred.shape == (127, 2) and set(units.example_id.tolist()) == {5, 7}
    m = adapter.metrics(adapter.eval_units(units))
    assert m == pytest.approx(adapter.metrics(units)) and adapter.primary_metric == "miou"
