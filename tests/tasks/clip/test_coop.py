"""CoOp on a tiny random CLIP: the text tower from embeddings, gradients, frozen class names."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from labelnoise.tasks.clip.coop import ClipClassifier, zeroshot_text_features

NAMES = ["cat", "dog", "sea lion"]


def _features(backbone, n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, backbone.clip.config.projection_dim, generator=g)


def test_template_context_gives_zeroshot_logits(tiny_backbone):
    """Reference: transformers' own get_text_features on the tokenised template."""
    model = ClipClassifier(tiny_backbone, NAMES, ctx_init="a photo of a")
    img = _features(tiny_backbone)
    text = zeroshot_text_features(tiny_backbone, NAMES, "a photo of a {}.")
    scale = tiny_backbone.clip.logit_scale.exp()
    expected = scale * F.normalize(img, dim=-1) @ text.t()
    torch.testing.assert_close(model(image_features=img), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("class_specific", [False, True])
def test_only_context_vectors_receive_gradients(tiny_backbone, class_specific):
    model = ClipClassifier(tiny_backbone, NAMES, n_ctx=4, class_specific=class_specific)
    assert [n for n, _ in model.named_parameters()] == ["prompt.ctx"]
    assert model.prompt.ctx.shape == ((3, 4, 32) if class_specific else (4, 32))
    logits = model(image_features=_features(tiny_backbone))
    F.cross_entropy(logits, torch.tensor([0, 1, 2] * 4)).backward()
    assert model.prompt.ctx.grad is not None and model.prompt.ctx.grad.abs().sum() > 0
    assert all(p.grad is None for p in tiny_backbone.clip.parameters())
    assert list(model.state_dict()) == ["prompt.ctx"]  # checkpoints hold the head only


def test_class_name_embeddings_unchanged_after_training(tiny_backbone):
    model = ClipClassifier(tiny_backbone, NAMES, n_ctx=4)
    emb = tiny_backbone.clip.text_model.embeddings.token_embedding
    table, suffix, ctx = emb.weight.clone(), model.prompt.suffix.clone(), model.prompt.ctx.clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    img, y = _features(tiny_backbone), torch.tensor([0, 1, 2] * 4)
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(model(image_features=img), y).backward()
        opt.step()
    assert not torch.allclose(model.prompt.ctx, ctx)
    assert torch.equal(emb.weight, table)
    assert torch.equal(model.prompt.suffix, suffix)
    # the suffix is the embedding of "<name>." + EOS + padding, read from the frozen table
    torch.testing.assert_close(model.prompt.suffix, emb(model.prompt.ids)[:, 5:])


def test_linear_probe_starts_as_zeroshot_and_trains_only_itself(tiny_backbone):
    model = ClipClassifier(tiny_backbone, NAMES, head="linear_probe", template="a {}")
    img = _features(tiny_backbone)
    text = zeroshot_text_features(tiny_backbone, NAMES, "a {}")
    expected = tiny_backbone.clip.logit_scale.exp() * F.normalize(img, dim=-1) @ text.t()
    torch.testing.assert_close(model(image_features=img), expected, atol=1e-5, rtol=0)
    assert sorted(n for n, _ in model.named_parameters()) == ["probe.bias", "probe.weight"]


def test_cached_features_match_pixels(tiny_backbone):
    model = ClipClassifier(tiny_backbone, NAMES, n_ctx=4)
    pixels = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    feats = tiny_backbone.clip.get_image_features(pixel_values=pixels).pooler_output
    torch.testing.assert_close(
        model(image_features=feats), model(pixel_values=pixels), atol=1e-5, rtol=0
    )
