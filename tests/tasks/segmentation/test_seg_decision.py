"""The segmentation adapter's ``decision: prior_match`` (offsets fitted in after_training)."""

from __future__ import annotations

import pytest
import torch

from labelnoise.common.units import IGNORE_INDEX, Units
from labelnoise.tasks.base import DatasetSplits
from labelnoise.tasks.registry import get_task


def _units(n: int, seed: int) -> Units:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, 2, generator=g) + torch.tensor([0.0, 1.5])  # mostly class 1
    target = (torch.rand(n, generator=g) > 0.3).long()  # class 0 in ~30 % of the labels
    target[:10] = IGNORE_INDEX
    return Units(logits, target, torch.arange(n) // 100)


def test_prior_match_fits_offsets_on_train_units_and_moves_the_decision():
    cls = get_task("segmentation")
    adapter = cls(cls.Config(decision="prior_match"))
    train = _units(5000, 0)
    adapter.after_training(lambda: train)
    keep = train.target != IGNORE_INDEX
    pred = adapter.eval_units(Units(train.pred[keep], train.target[keep], train.example_id[keep]))
    assert pred.pred.shape == (int(keep.sum()), 2)  # [prior-matched, argmax]
    assert torch.equal(pred.pred[:, 1], train.pred[keep].argmax(1))
    frac = float((pred.pred[:, 0] == 0).double().mean())
    assert frac == pytest.approx(float((train.target[keep] == 0).double().mean()), abs=1e-3)
    assert float((train.pred.argmax(1) == 0).double().mean()) < 0.15  # argmax: far too few
    test = _units(3000, 1)  # same offsets on other units: still near the prior
    assert float((adapter.eval_units(test).pred[:, 0] == 0).double().mean()) == pytest.approx(
        0.3, abs=0.03
    )


def test_prior_match_metrics_report_both_decisions():
    """With offsets fitted, metrics() reads [decision, argmax] columns: ``miou`` of the
    decision, ``miou_argmax`` of the argmax, each equal to the metrics of that decision alone."""
    cls = get_task("segmentation")
    adapter = cls(cls.Config(decision="prior_match"))
    adapter.after_training(lambda: _units(5000, 0))
    u = _units(3000, 1)
    keep = u.target != IGNORE_INDEX
    both = adapter.metrics(adapter.eval_units(u))
    plain = cls(cls.Config())
    decided = adapter.eval_units(u).pred[:, 0]
    alone = plain.metrics(Units(decided, u.target, u.example_id))
    assert {k: both[k] for k in alone} == pytest.approx(alone)
    argmax = plain.metrics(Units(u.pred.argmax(1), u.target, u.example_id))
    assert {f"{k}_argmax": v for k, v in argmax.items()} == pytest.approx(
        {k: v for k, v in both.items() if k.endswith("_argmax")}
    )
    assert both["miou"] != both["miou_argmax"] and bool(keep.any())
    adapter.build_model(DatasetSplits(None, None, None, num_classes=2))  # a new run's model
    assert adapter.offsets is None  # stale offsets of an earlier run are dropped


def test_argmax_decision_never_runs_the_training_pass():
    cls = get_task("segmentation")
    adapter = cls(cls.Config())

    def fail():
        raise AssertionError("train_units must not be called for decision: argmax")

    adapter.after_training(fail)
    u = _units(100, 2)
    assert torch.equal(adapter.eval_units(u).pred, u.pred.argmax(1))


def test_units_carry_pixel_ids_that_follow_the_flips():
    cls = get_task("segmentation")
    adapter = cls(cls.Config(width=4, encoder_depth=2, image_size=8))
    net = adapter.build_model(DatasetSplits(None, None, None, num_classes=2))
    target = torch.randint(0, 2, (3, 8, 8))
    target[1, 2, 3] = IGNORE_INDEX
    batch = {"image": torch.randn(3, 1, 8, 8), "target": target, "example_id": torch.arange(3)}
    torch.manual_seed(0)
    seen = set()
    for _ in range(8):  # flips drawn at random in training mode
        u = adapter.units(net, batch)
        assert u.unit_id.shape == (3 * 64 - 1,) and torch.equal(u.loss_id, u.unit_id)
        assert torch.equal(target.reshape(-1)[u.unit_id], u.target)
        assert torch.equal(u.unit_id // 64, u.example_id)
        seen.add(tuple(u.unit_id[:3].tolist()))
    assert len(seen) > 1 and adapter.num_unit_ids(3) == 3 * 64
    plain = Units(u.pred, u.target, u.example_id)
    assert plain.unit_id is None and torch.equal(plain.loss_id, u.example_id)
    assert torch.equal(u[torch.tensor([0, 5])].unit_id, u.unit_id[[0, 5]])


def test_ignore_band_is_cut_from_training_batches_only():
    """``ignore_boundary``: training units drop the band (as :func:`ignore_near_boundary`
    marks it); evaluation units (and the prior-match pass over the training split) keep every
    pixel with its noisy label."""
    from labelnoise.tasks.segmentation.boundary import ignore_near_boundary

    cls = get_task("segmentation")
    adapter = cls(cls.Config(width=4, encoder_depth=2, image_size=8, ignore_boundary=1, flip=False))
    net = adapter.build_model(DatasetSplits(None, None, None, num_classes=2))
    target = torch.zeros(2, 8, 8, dtype=torch.long)
    target[:, 2:6, 2:6] = 1
    batch = {"image": torch.randn(2, 1, 8, 8), "target": target, "example_id": torch.arange(2)}
    banded = ignore_near_boundary(target, k=1)
    net.train()
    u = adapter.units(net, batch)
    assert torch.equal(u.target, banded[banded != IGNORE_INDEX])
    assert torch.equal(u.unit_id, torch.arange(128)[banded.reshape(-1) != IGNORE_INDEX])
    net.eval()
    assert torch.equal(adapter.units(net, batch).target, target.reshape(-1))
