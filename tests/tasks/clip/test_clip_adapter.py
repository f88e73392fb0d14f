"""The CLIP adapter: splits, cached vs uncached path, PTNL pseudo-labels, bad input, CIFAR-10N."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
import torch.nn.functional as F

from labelnoise.tasks.clip.adapter import ClipAdapter, ClipConfig, ClipNoiseConfig
from labelnoise.tasks.clip.coop import zeroshot_text_features
from tests.conftest import require_data


def _adapter(backbone, **options):
    adapter = ClipAdapter(ClipConfig(**options))
    adapter._backbone = backbone  # share the session's tiny CLIP
    return adapter


def test_noisy_k_shot_splits(tiny_backbone, image_folder):
    noise = ClipNoiseConfig(kind="symmetric", rate=0.5, seed=1)
    splits = _adapter(
        tiny_backbone, dataset=str(image_folder), shots=3, val_shots=1, noise=noise
    ).build_datasets(None, seed=0)
    assert splits.class_names == ["cat", "dog", "sea lion"]
    train = splits.train
    assert Counter(train.target.tolist()) == {0: 3, 1: 3, 2: 3}  # balanced on noisy labels
    assert len(splits.val) == 3 and len(splits.test) == 24 - 12
    assert splits.info["noise_rate_train"] == float((train.target != train.clean).double().mean())
    item = train[0]
    assert item["image_features"].shape == (16,) and item["example_id"] == 0
    assert train.target[:3].tolist() == [0, 1, 2]  # classes interleaved: prefixes are balanced


def test_cached_and_uncached_paths_give_the_same_logits(tiny_backbone, image_folder):
    splits = {}
    for cache in (True, False):
        a = _adapter(tiny_backbone, dataset=str(image_folder), shots=2, cache_features=cache)
        splits[cache] = a.build_datasets(None, seed=0)
    model = a.build_model(splits[False])
    batch = {
        k: a.collate([splits[c].test[i] for i in range(6)]) for k, c in [(1, True), (0, False)]
    }
    assert "pixel_values" in batch[0] and "image_features" in batch[1]
    cached, uncached = a.units(model, batch[1]), a.units(model, batch[0])
    torch.testing.assert_close(cached.pred, uncached.pred, atol=1e-5, rtol=0)
    assert torch.equal(cached.target, uncached.target)


def test_ptnl_pseudo_labels_are_confident_zero_shot_predictions(tiny_backbone, image_folder):
    a = _adapter(tiny_backbone, dataset=str(image_folder), labels="pseudo", shots=2, val_shots=1)
    splits = a.build_datasets(None, seed=0)
    text = zeroshot_text_features(tiny_backbone, splits.class_names, "a photo of a {}.")
    pred = (F.normalize(splits.train.features, dim=-1) @ text.t()).argmax(-1)
    assert torch.equal(pred, splits.train.target)
    assert all(n <= 2 for n in Counter(splits.train.target.tolist()).values())
    assert splits.info["pseudo_label_accuracy"] == float(
        (splits.train.target == splits.train.clean).double().mean()
    )


def test_class_names_must_match_the_classes(tiny_backbone, image_folder):
    a = _adapter(tiny_backbone, dataset=str(image_folder), class_names=["cat", "dog"])
    with pytest.raises(ValueError, match="class_names must have 3 names.*got 2"):
        a.build_datasets(None, seed=0)


def test_cifar10n_worst_labels_through_the_adapter(tiny_backbone, data_dir):
    require_data(data_dir / "cifar10n" / "CIFAR-10_human.pt")
    noise = ClipNoiseConfig(kind="cifar10n", label_set="worst")
    a = _adapter(tiny_backbone, shots=4, val_shots=0, test_per_class=1, noise=noise)
    splits = a.build_datasets(data_dir, seed=0)
    assert splits.info["noise_rate_pool"] == pytest.approx(0.4021, abs=5e-5)  # published
    assert Counter(splits.train.target.tolist()) == {c: 4 for c in range(10)}
    assert len(splits.test) == 10 and sorted(splits.test.clean.tolist()) == list(range(10))


def test_zero_shot_recipe_through_the_engine(tiny_backbone, image_folder, tmp_path):
    """Zero-shot CLIP as the engine runs it (template context, lr 0) = direct zero-shot."""
    from labelnoise.commands.train import run_recipe

    task = {"dataset": str(image_folder), "shots": 2, "val_shots": 1}
    recipe = {
        "task": {"name": "clip", "ctx_init": "a photo of a", **task},
        "optim": {"name": "sgd", "lr": 0.0, "momentum": 0.0},
        "train": {"epochs": 1, "select_by": "last", "progress": False, "num_threads": 1},
        "detection": {"method": "none"},
        "output_dir": str(tmp_path / "run"),
    }
    [(_, metrics)] = run_recipe(recipe, {}, report=False)
    direct = _adapter(tiny_backbone, **task).build_datasets(None, seed=0)
    assert metrics["test"]["accuracy"] == pytest.approx(direct.info["zeroshot_test_accuracy"])
