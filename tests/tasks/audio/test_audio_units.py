"""Clip units (multi-label softmax), tag units, and the per-epoch augmentation stream (set by\nthe engine's loop)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from labelnoise.common.losses import build_loss
from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.tasks.audio import (
    AudioAdapter,
    AudioConfig,
    AugmentParams,
    ClipDataset,
    clip_units,
    tag_units,
)
from labelnoise.tasks.base import DatasetSplits
from tests.tasks.audio.fixtures import RECIPE, write_clips


def _tags(n: int = 6, k: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(n, k, generator=g)
    target = torch.tensor(
        [[1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    )
    return logits, target


def test_clip_units_with_core_ce_is_multilabel_softmax():
    logits, target = _tags()
    u = clip_units(logits, target, example_id=torch.arange(10, 16))
    assert u.pred.shape == (6, 4) and u.example_id.tolist() == list(range(10, 16))
    assert u.weight.tolist() == [1.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    torch.testing.assert_close(u.target.sum(1), torch.ones(6))
    loss = build_loss("ce")(u.pred, u.target, u.example_id)
    # Reference: torch's soft-target cross-entropy on the normalised tag sets, and the
    # formula -sum_k t_k / |t| * log softmax_k written out; clips without a tag weigh 0.
    has = target.sum(1) > 0
    soft = target[has].float() / target[has].sum(1, keepdim=True)
    torch.testing.assert_close(
        loss[has], F.cross_entropy(logits[has], soft, reduction="none"), rtol=1e-5, atol=1e-6
    )
    by_hand = -(soft * torch.log_softmax(logits[has], 1)).sum(1)
    torch.testing.assert_close(loss[has], by_hand, rtol=1e-5, atol=1e-6)
    assert float((u.weight * loss)[~has].abs().sum()) == 0.0


def test_tag_units_and_bad_shapes():
    logits, target = _tags()
    u = tag_units(logits, target)
    assert u.pred.shape == (24, 2) and u.target.tolist() == target.reshape(-1).tolist()
    with pytest.raises(ValueError, match=r"units must be 'tags' or 'clip'; got 'x'"):
        tag_units(logits, target, kind="x")
    with pytest.raises(ValueError, match=r"must both have shape \(N, K\); got \(6, 4\) and \(6,\)"):
        clip_units(logits, target[:, 0])


def _dataset(n: int = 5, seed: int = 3) -> ClipDataset:
    g = torch.Generator().manual_seed(1)
    feats = [torch.randn(8, 20 + 3 * i, generator=g) for i in range(n)]
    target = torch.eye(n, 4)[:, :4]
    return ClipDataset(feats, target, frames=12, augment=AugmentParams(), seed=seed)


def test_augmentation_is_a_function_of_seed_epoch_and_index():
    a, b = _dataset(), _dataset()
    for i in range(5):  # a's history differs from b's: extra draws must not matter
        a[i], a[i]
    a.set_epoch(2)
    b.set_epoch(2)
    for i in reversed(range(5)):
        assert torch.equal(a[i]["x"], b[i]["x"])
        assert torch.equal(a[i]["x"], a[i]["x"])
    first = b[3]["x"]
    b.set_epoch(3)
    assert not torch.equal(first, b[3]["x"])
    assert not torch.equal(_dataset(seed=4)[3]["x"], _dataset(seed=3)[3]["x"])


def test_the_engine_sets_the_augmentation_epoch_and_trains_clip_units(tmp_path, monkeypatch):
    write_clips(tmp_path)
    seen: list[int] = []
    original = ClipDataset.set_epoch

    def record(self, epoch):
        if self.augment is not None:  # the training split
            seen.append(epoch)
        original(self, epoch)

    monkeypatch.setattr(ClipDataset, "set_epoch", record)
    recipe = {**RECIPE, "task": {**RECIPE["task"], "units": "clip"}, "loss": {"name": "ce"}}
    over = {"data": {"data_dir": str(tmp_path)}, "output_dir": str(tmp_path / "r")}
    metrics = train(resolve(recipe, over))
    # each epoch's augmentation before its batches (the loader may set it more than once)
    assert sorted(set(seen)) == [0, 1, 2] and seen == sorted(seen)
    assert metrics["train"]["epochs"] == 3
    assert metrics["test"]["lwlrap"] > 0


def test_adapter_clip_units_train_only():
    cfg = AudioConfig(units="clip", curated_weight=2.0, n_mels=16, frames=16, channels=[4])
    adapter = AudioAdapter(cfg)
    splits = DatasetSplits(train=None, val=None, test=None, num_classes=2, class_names=list("abc"))
    model = adapter.build_model(splits)
    batch = {
        "x": torch.randn(3, 1, 16, 16),
        "target": torch.tensor([[1, 0, 0], [0, 0, 0], [0, 1, 1]]),
        "curated": torch.tensor([True, False, False]),
        "example_id": torch.tensor([4, 5, 6]),
    }
    model.train()
    u = adapter.units(model, batch)
    assert u.pred.shape == (3, 3) and u.weight.tolist() == [2.0, 0.0, 1.0]
    model.eval()
    u = adapter.units(model, batch)
    assert u.pred.shape == (9, 2) and u.weight.tolist() == [2.0] * 3 + [1.0] * 6
