"""The full path on 20 synthetic clips: wav files -> log-mels -> model -> two-class units ->
core loss -> lwlrap; the per-tag small-loss selector; the adapter's noise and curated flags."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch
from sklearn.metrics import label_ranking_average_precision_score
from torch.utils.data import DataLoader

from labelnoise.common.losses import build_loss
from labelnoise.tasks.audio import (
    AudioAdapter,
    AudioConfig,
    PerTagSmallLossSelector,
    TagNoiseConfig,
)
from labelnoise.tasks.registry import get_task

FREQS = {"low": 300.0, "mid": 900.0, "high": 2500.0}


@pytest.fixture
def clips(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    sr = 8000
    t = np.arange(int(0.4 * sr)) / sr
    for i in range(20):
        tags = [k for k in FREQS if rng.random() < 0.4]
        wave = 0.01 * rng.normal(size=t.shape)
        for k in tags:
            wave += 0.3 * np.sin(2 * np.pi * FREQS[k] * t)
        soundfile.write(str(tmp_path / f"clip{i}.wav"), wave.astype(np.float32), sr)
        rows.append(f'clip{i}.wav,"{",".join(tags)}"')
    (tmp_path / "train.csv").write_text("fname,labels\n" + "\n".join(rows) + "\n")
    return tmp_path


def _config(**kw):
    return AudioConfig(
        dataset="train.csv",
        audio_dir=".",
        vocabulary=list(FREQS),
        val_fraction=0.0,
        test_fraction=0.25,
        n_mels=16,
        frames=16,
        channels=[4, 8],
        dropout=0.0,
        **kw,
    )


def test_twenty_clips_train_end_to_end(clips):
    torch.manual_seed(0)
    adapter = get_task("audio")(_config(augment=False))
    assert isinstance(adapter, AudioAdapter)
    splits = adapter.build_datasets(clips, seed=0)
    assert len(splits.train) == 15 and len(splits.test) == 5
    model = adapter.build_model(splits)
    loss_fn = build_loss("bce")
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    batch = adapter.collate([splits.train[i] for i in range(len(splits.train))])
    assert batch["x"].shape == (15, 1, 16, 16)
    losses = []
    for _ in range(15):
        units = adapter.units(model, batch)
        assert units.pred.shape == (45, 2)
        loss = loss_fn(units.pred, units.target, units.example_id).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.8 * losses[0]
    model.eval()
    test_batch = next(iter(DataLoader(splits.test, batch_size=5, collate_fn=adapter.collate)))
    with torch.no_grad():
        units = adapter.units(model, test_batch)
        logits = model(test_batch["x"]).numpy()
    metrics = adapter.metrics(units)
    truth = test_batch["target"].numpy().astype(int)
    has = truth.sum(1) > 0
    ref = label_ranking_average_precision_score(
        truth[has], logits[has], sample_weight=truth[has].sum(1)
    )
    assert metrics["lwlrap"] == pytest.approx(ref)
    assert 0.0 <= metrics["mAP"] <= 1.0


def test_adapter_noise_spares_curated_clips_and_weights_them(clips):
    cfg = _config(
        curated_fraction=0.5,
        curated_weight=3.0,
        noise=TagNoiseConfig(kind="tags", rate=0.4, add_rate=0.3),
    )
    adapter = AudioAdapter(cfg)
    splits = adapter.build_datasets(clips, seed=1)
    tr = splits.train
    wrong = (tr.target != tr.clean).any(1)
    assert wrong.any() and not (wrong & tr.curated).any()
    assert splits.info["add_rate"] == 0.3 and splits.info["drop_rate"] == 0.4
    batch = adapter.collate([tr[i] for i in range(len(tr))])
    units = adapter.units(adapter.build_model(splits), batch)
    expected = torch.where(batch["curated"], 3.0, 1.0).repeat_interleave(3)
    assert torch.equal(units.weight, expected)


def test_per_tag_small_loss_ranks_each_tag_and_label_apart():
    k, n = 3, 8
    g = torch.Generator().manual_seed(0)
    loss = torch.rand(n * k, generator=g)
    target = (torch.rand(n * k, generator=g) < 0.5).long()
    ids = torch.arange(n).repeat_interleave(k)
    curated = torch.zeros(n, dtype=torch.bool)
    curated[0] = True
    sel = PerTagSmallLossSelector(
        num_examples=n,
        num_tags=k,
        forget_rate=0.5,
        negative_forget_rate=0.25,
        num_gradual=0,
        curated=curated,
    )
    w = sel(loss, ids, step=0, target=target)
    expected = torch.ones(n * k)
    tag = torch.arange(n * k) % k
    for t in range(k):
        for lab, rate in ((1, 0.5), (0, 0.25)):
            at = ((tag == t) & (target == lab) & (ids != 0)).nonzero().flatten()
            keep = int(round((1 - rate) * len(at)))
            dropped = at[torch.argsort(loss[at], descending=True)[: len(at) - keep]]
            expected[dropped] = 0.0
    assert torch.equal(w, expected)
    assert torch.all(w[ids == 0] == 1)
