"""``method: per_tag_small_loss`` (labelnoise.methods.per_tag_small_loss) through the engine
on synthetic clips: one step against a by-hand per-tag ranking, the curated flags of the
training split, exact resume (the selector's epoch is checkpointed), config-time errors."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from labelnoise.common.losses import build_loss
from labelnoise.common.selection import build_selector
from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.engine.setup import build_task
from labelnoise.methods import METHODS, Net
from labelnoise.tasks.audio import AudioAdapter, AudioConfig, SmallCNN, tag_units
from tests.tasks.audio.fixtures import RECIPE, write_clips

METHOD = {"name": "per_tag_small_loss", "forget_rate": 0.5, "negative_forget_rate": 0.25}
TASK = {**RECIPE["task"], "curated_fraction": 0.3, "noise": {"kind": "tags", "rate": 0.4}}


def _recipe(**method):
    return {**RECIPE, "task": TASK, "method": {**METHOD, "num_gradual": 1, **method}}


def test_step_drops_each_tag_and_labels_largest_noisy_losses():
    torch.manual_seed(0)
    n, k = 8, 3
    curated = torch.zeros(n, dtype=torch.bool)
    curated[:2] = True
    run = SimpleNamespace(
        adapter=AudioAdapter(AudioConfig(n_mels=8, frames=8, channels=[4], dropout=0.0)),
        state=SimpleNamespace(step=0),
        accelerator=SimpleNamespace(num_processes=1, gather=None),
        splits=SimpleNamespace(class_names=["a", "b", "c"]),
    )
    run.train_split = type("Clips", (), {"curated": curated, "__len__": lambda self: n})()
    opts = METHODS["per_tag_small_loss"].Options(
        forget_rate=0.5, negative_forget_rate=0.25, num_gradual=0
    )
    method = METHODS["per_tag_small_loss"](opts, run)
    model = SmallCNN(k, channels=(4,), dropout=0.0)
    method.setup(
        [Net(model, None, None, build_loss("bce"))], build_selector("none", num_examples=n)
    )
    assert torch.equal(method.selector.curated, curated) and method.selector.num_tags == k
    batch = {
        "x": torch.randn(n, 1, 8, 8),
        "target": (torch.rand(n, k) < 0.5).long(),
        "curated": curated,
        "example_id": torch.arange(n),
    }
    model.eval()  # fixed batch-norm statistics: the by-hand pass sees the same logits
    out = method.step(batch)
    u = tag_units(model(batch["x"]), batch["target"], example_id=batch["example_id"])
    loss = build_loss("bce")(u.pred, u.target, u.example_id)
    w = torch.ones(n * k)
    tag, ids = torch.arange(n * k) % k, u.example_id
    for t in range(k):
        for lab, rate in ((1, 0.5), (0, 0.25)):
            at = ((tag == t) & (u.target == lab) & ~curated[ids]).nonzero().flatten()
            keep = int(round((1 - rate) * len(at)))
            w[at[torch.argsort(loss[at], descending=True)[: len(at) - keep]]] = 0.0
    assert (w == 0).any() and (w[curated[ids]] == 1).all()
    torch.testing.assert_close(out.loss, (w * loss).sum() / w.sum())


def test_through_the_engine_with_the_splits_curated_flags(tmp_path):
    write_clips(tmp_path)
    over = {"data": {"data_dir": str(tmp_path)}, "output_dir": str(tmp_path / "r")}
    cfg = resolve(_recipe(), over)
    metrics = train(cfg)
    assert metrics["method"] == "per_tag_small_loss" and metrics["train"]["epochs"] == 3
    curated = build_task(cfg).splits.train.curated
    assert curated.any() and not curated.all()
    saved = torch.load(
        next((tmp_path / "r" / "checkpoints").iterdir()) / "loop_state.pt", weights_only=True
    )
    assert saved["selector"] == {"epoch": 3}  # the method's selector, stepped each epoch


def test_resume_after_an_interruption_is_exact(tmp_path, monkeypatch):
    import labelnoise.methods.per_tag_small_loss as mod

    write_clips(tmp_path)
    data = {"data": {"data_dir": str(tmp_path)}}
    a = train(resolve(_recipe(), {**data, "output_dir": str(tmp_path / "a")}))
    original = mod.PerTagSmallLoss.on_epoch_end

    def crash_at_1(self, epoch):
        if epoch == 1:
            raise KeyboardInterrupt
        original(self, epoch)

    cfg = resolve(_recipe(), {**data, "output_dir": str(tmp_path / "b")})
    monkeypatch.setattr(mod.PerTagSmallLoss, "on_epoch_end", crash_at_1)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(mod.PerTagSmallLoss, "on_epoch_end", original)
    b = train(cfg, resume=True)
    wa, wb = (torch.load(tmp_path / d / "best_model.pt", weights_only=True) for d in "ab")
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key
    assert a["test"] == b["test"]


@pytest.mark.parametrize(
    "change, match",
    [
        ({"method": {**METHOD, "forget_rate": 1.0}}, r"method\.forget_rate must be in \[0, 1\)"),
        (
            {"method": {**METHOD, "negative_forget_rate": -0.1}},
            r"method\.negative_forget_rate must be in \[0, 1\); got -0\.1",
        ),
        ({"method": {**METHOD, "num_gradual": -1}}, r"method\.num_gradual must be >= 0"),
        ({"method": {**METHOD, "exponent": 0}}, r"method\.exponent must be > 0"),
        ({"method": {**METHOD, "rate": 0.1}}, r"unknown key 'method\.rate'"),
        ({"selector": {"name": "small_loss"}}, r"selector\.name must be 'none'; got 'small_loss'"),
        ({"task": {**TASK, "units": "clip"}}, r"task\.units must be 'tags'; got 'clip'"),
        ({"task": {"name": "classification"}}, r"does not run on task 'classification'"),
    ],
)
def test_config_time_errors_name_the_key(change, match):
    with pytest.raises(ValueError, match=match):
        resolve({**_recipe(), **change})
