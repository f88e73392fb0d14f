"""k-shot sampling, pseudo-labels, image decoding, preprocessing, checkpoint paths."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from labelnoise.tasks.clip.backbone import load_clip, preprocess
from labelnoise.tasks.clip.data import k_shot_split, read_image_folder, top_confident_per_class


def test_k_shot_is_class_balanced_and_reproducible():
    labels = np.random.default_rng(0).integers(0, 5, 400)
    tr, va = k_shot_split(labels, 8, num_classes=5, val_shots=3, seed=7)
    assert Counter(labels[tr].tolist()) == {c: 8 for c in range(5)}
    assert Counter(labels[va].tolist()) == {c: 3 for c in range(5)}
    assert not set(tr) & set(va) and len(set(tr)) == 40
    tr2, va2 = k_shot_split(labels, 8, num_classes=5, val_shots=3, seed=7)
    np.testing.assert_array_equal(tr, tr2)
    np.testing.assert_array_equal(va, va2)
    tr3, _ = k_shot_split(labels, 8, num_classes=5, val_shots=3, seed=8)
    assert not np.array_equal(tr, tr3)


def test_k_larger_than_smallest_class():
    labels = np.array([0] * 10 + [1] * 3)
    with pytest.raises(ValueError, match=r"smallest class size \(3 images labelled 'b'\)"):
        k_shot_split(labels, 4, num_classes=2, seed=0, class_names=("a", "b"))
    tr, _ = k_shot_split(labels, 4, num_classes=2, seed=0, with_replacement=True)
    assert Counter(labels[tr].tolist()) == {0: 4, 1: 4}


def test_top_confident_per_class_matches_a_direct_ranking():
    probs = torch.rand(60, 4, generator=torch.Generator().manual_seed(3)).softmax(-1)
    index, label = top_confident_per_class(probs, 5)
    conf, pred = probs.max(1)
    for c in range(4):
        ranked = sorted(range(60), key=lambda i: -float(conf[i]))
        want = [i for i in ranked if int(pred[i]) == c][:5]
        assert index[label == c].tolist() == want


def test_image_that_fails_to_decode_is_named(tmp_path):
    (tmp_path / "cat").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "cat" / "ok.png")
    (tmp_path / "cat" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    folder = read_image_folder(tmp_path)
    assert folder.class_names == ("cat",) and len(folder) == 2
    with pytest.raises(ValueError, match="broken.jpg"):
        folder.image(0)  # sorted: broken.jpg before ok.png


def test_checkpoint_path_that_does_not_exist(tmp_path, monkeypatch):
    import transformers

    def no_hub(*args, **kwargs):
        raise AssertionError("must not try the hub for a local path")

    monkeypatch.setattr(transformers.CLIPModel, "from_pretrained", no_hub)
    missing = tmp_path / "no" / "such" / "clip"
    with pytest.raises(FileNotFoundError, match="path that does not exist"):
        load_clip(str(missing))
    with pytest.raises(FileNotFoundError, match="path that does not exist"):
        load_clip("./clip-checkpoint")


def test_preprocess_matches_the_clip_image_processor(tiny_backbone):
    """Reference: transformers' CLIPImageProcessor (PIL resampling, so close, not equal)."""
    from transformers import CLIPImageProcessor

    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)) for _ in range(3)]
    same = [im.crop((0, 0, 32, 32)) for im in images]
    ref = tiny_backbone.processor(images=same, return_tensors="pt")["pixel_values"]
    torch.testing.assert_close(preprocess(tiny_backbone, same), ref, atol=1e-5, rtol=0)
    proc = CLIPImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 56, "width": 56})
    ref = proc(images=images, return_tensors="pt")["pixel_values"]
    backbone = type(tiny_backbone)(tiny_backbone.clip, tiny_backbone.tokenizer, proc, "x")
    ours = preprocess(backbone, images)
    assert ours.shape == ref.shape == (3, 3, 56, 56)
    assert float((ours - ref).abs().mean()) < 0.05


def test_local_checkpoint_folder_round_trip(tiny_backbone, tmp_path):
    """A saved checkpoint folder loads offline and encodes exactly as the original."""
    tiny_backbone.clip.save_pretrained(tmp_path)
    tiny_backbone.tokenizer.save_pretrained(tmp_path)
    tiny_backbone.processor.save_pretrained(tmp_path)
    loaded = load_clip(str(tmp_path))
    assert loaded.name == str(tmp_path)
    assert not any(p.requires_grad for p in loaded.clip.parameters())
    ids = tiny_backbone.tokenizer(["a photo of a cat."])["input_ids"]
    assert loaded.tokenizer(["a photo of a cat."])["input_ids"] == ids
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = tiny_backbone.clip.get_image_features(pixel_values=pixels).pooler_output
        got = loaded.clip.get_image_features(pixel_values=pixels).pooler_output
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
