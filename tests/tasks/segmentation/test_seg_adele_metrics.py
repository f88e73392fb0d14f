"""ADELE pieces, segmentation metrics (vs sklearn / hand counts), the adapter contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, jaccard_score

from labelnoise.common.units import IGNORE_INDEX
from labelnoise.tasks.registry import get_task
from labelnoise.tasks.segmentation.adele import (
    correct_labels,
    fit_early_learning_curve,
    memorization_onset,
    multiscale_consistency,
    multiscale_probs,
)
from labelnoise.tasks.segmentation.loop import AdeleConfig, fit_segmentation
from labelnoise.tasks.segmentation.metrics import (
    boundary_f1,
    confusion_matrix,
    dice_scores,
    iou_scores,
    segmentation_metrics,
)
from labelnoise.tasks.segmentation.models import TinyUNet, build_smp_model


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


def test_adele_loop_corrects_flipped_region():
    torch.manual_seed(0)
    x = torch.randn(4, 1, 16, 16)
    y = (x[:, 0] > 0).long()
    noisy = y.clone()
    noisy[:, :4, :4] = 0
    res = fit_segmentation(
        torch.nn.Conv2d(1, 2, 1),
        x,
        noisy,
        num_classes=2,
        epochs=20,
        lr=0.5,
        adele=AdeleConfig(scales=(1.0,), tau=0.7, min_epochs=3),
        batch_size=4,
    )
    assert res.iou_curve.shape == (20, 2) and all(o is not None and o >= 3 for o in res.onset)
    assert (res.labels == y).float().mean() > (noisy == y).float().mean()


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
