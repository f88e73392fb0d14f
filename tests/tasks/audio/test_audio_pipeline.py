"""The full path on 20 synthetic clips through the engine: wav files -> log-mels -> model ->
two-class units -> core loss -> lwlrap; the per-tag small-loss selector; the adapter's noise,
curated flags and held-out folds."""

from __future__ import annotations

import json

import pytest
import torch
from sklearn.metrics import label_ranking_average_precision_score

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.engine.setup import build_task
from labelnoise.tasks.audio import (
    AudioAdapter,
    AudioConfig,
    HoldoutConfig,
    PerTagSmallLossSelector,
    TagNoiseConfig,
    holdout_split,
    predict_tags,
)
from tests.tasks.audio.fixtures import FREQS, RECIPE, write_clips


@pytest.fixture
def clips(tmp_path):
    return write_clips(tmp_path)


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


def test_twenty_clips_train_end_to_end_through_the_engine(clips):
    recipe = {**RECIPE, "task": {**RECIPE["task"], "augment": False}}
    over = {
        "data": {"data_dir": str(clips), "batch_size": 15},
        "output_dir": str(clips / "run"),
        "train": {"epochs": 15},
    }
    cfg = resolve(recipe, over)
    metrics = train(cfg)
    task = build_task(cfg)
    assert isinstance(task.adapter, AudioAdapter)
    assert len(task.splits.train) == 15 and len(task.splits.test) == 5
    history = [json.loads(x) for x in (clips / "run" / "history.jsonl").read_text().splitlines()]
    assert len(history) == 15 and history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]
    # the engine's test lwlrap, recomputed with sklearn from the saved model's logits
    model = task.adapter.build_model(task.splits)
    model.load_state_dict(torch.load(clips / "run" / "best_model.pt", weights_only=True))
    logits, truth = predict_tags(model, task.splits.test)
    truth, logits = truth.numpy().astype(int), logits.numpy()
    has = truth.sum(1) > 0
    ref = label_ranking_average_precision_score(
        truth[has], logits[has], sample_weight=truth[has].sum(1)
    )
    assert metrics["test"]["lwlrap"] == pytest.approx(ref)
    assert 0.0 <= metrics["test"]["mAP"] <= 1.0


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


def test_holdout_folds_partition_the_training_clips(clips):
    noise = TagNoiseConfig(kind="tags", rate=0.4, add_rate=0.3)
    full = AudioAdapter(_config(noise=noise)).build_datasets(clips, seed=2).train
    seen = []
    for fold in range(3):
        cfg = _config(noise=noise, holdout=HoldoutConfig(folds=3, fold=fold))
        splits = AudioAdapter(cfg).build_datasets(clips, seed=2)
        kept, held = holdout_split(len(full), folds=3, fold=fold, seed=2 + 17)
        assert len(splits.train) + len(splits.test) == len(full) == 15
        # the held-out fold is the test split, with its noisy and clean tags, in order
        assert torch.equal(splits.test.target, full.target[held])
        assert torch.equal(splits.test.clean, full.clean[held])
        assert torch.equal(splits.train.target, full.target[kept])
        assert splits.info["holdout_clips"] == len(held)
        seen += held.tolist()
    assert sorted(seen) == list(range(15))


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"folds": 1}, r"task\.holdout\.folds must be 0 \(off\) or >= 2; got 1"),
        ({"folds": 2, "fold": 2}, r"task\.holdout\.fold must be in \[0, 1\]; got 2"),
    ],
)
def test_bad_holdout_names_the_key(kw, match):
    with pytest.raises(ValueError, match=match):
        resolve({**RECIPE, "task": {**RECIPE["task"], "holdout": kw}})
