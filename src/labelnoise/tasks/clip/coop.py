"""CoOp prompt learning and a linear probe on a frozen CLIP.

CoOp (Zhou et al., "Learning to Prompt for Vision-Language Models", IJCV 2022) replaces the
hand-written words of a prompt by ``n_ctx`` learnable context vectors in the token-embedding
space: ``[SOS] [V]_1 ... [V]_M <class name> . [EOS]``. The vectors are shared by all classes
(unified) or one set per class (class-specific, CSC). The class-name tokens, both encoders and
the logit scale stay frozen; the logits of an image are
``logit_scale.exp() * <normalised image feature, normalised text feature of each class>``.

The frozen CLIP is held outside the module's parameters (``model.parameters()`` and
``state_dict()`` are the trainable head only, so checkpoints stay small and several models
share one backbone); ``.to(device)`` moves it along.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labelnoise.tasks.clip.backbone import ClipBackbone

__all__ = ["ClipClassifier", "PromptLearner", "encode_text_embeds", "zeroshot_text_features"]


def _tokenize(backbone: ClipBackbone, texts: Sequence[str]) -> Tensor:
    """``(P, L)`` token ids padded to the context length; an over-long text is an error."""
    length = backbone.context_length
    ids = backbone.tokenizer(list(texts), padding="max_length", max_length=length)["input_ids"]
    for text, row in zip(texts, ids):
        if len(row) > length:
            raise ValueError(
                f"prompt must fit the text encoder's {length} tokens; got {len(row)} for {text!r}"
            )
    return torch.tensor(ids, dtype=torch.long)


def _eos_positions(ids: Tensor, eos_token_id: int) -> Tensor:
    """Where ``CLIPTextModel`` pools: the highest id (legacy ``eos_token_id == 2`` configs)
    or the first EOS token."""
    if eos_token_id == 2:
        return ids.argmax(-1)
    return (ids == eos_token_id).int().argmax(-1)


def encode_text_embeds(clip: Any, inputs_embeds: Tensor, ids: Tensor) -> Tensor:
    """CLIP's text tower from token embeddings instead of ids (``get_text_features`` takes ids).

    Args:
        clip: a ``transformers.CLIPModel``.
        inputs_embeds: ``(P, L, W)`` token embeddings (position embeddings are added here).
        ids: ``(P, L)`` token ids of the same prompts; they only locate the EOS token.

    Returns:
        ``(P, D)`` projected text features, identical to ``get_text_features(ids)`` when
        ``inputs_embeds`` is ``token_embedding(ids)``.
    """
    from transformers.masking_utils import create_causal_mask

    tm = clip.text_model
    h = tm.embeddings(inputs_embeds=inputs_embeds)
    mask = create_causal_mask(config=tm.config, inputs_embeds=h, attention_mask=None, cache=None)
    h = tm.encoder(inputs_embeds=h, attention_mask=mask, is_causal=True).last_hidden_state
    h = tm.final_layer_norm(h)
    eos = _eos_positions(ids.to(h.device), tm.eos_token_id)
    return clip.text_projection(h[torch.arange(h.shape[0], device=h.device), eos])


@torch.no_grad()
def zeroshot_text_features(
    backbone: ClipBackbone, class_names: Sequence[str], template: str = "a photo of a {}."
) -> Tensor:
    """``(C, D)`` L2-normalised text features of ``template.format(name)`` for each class
    (zero-shot CLIP; Radford et al., ICML 2021)."""
    clip = backbone.clip
    device = next(clip.parameters()).device
    ids = _tokenize(backbone, [template.format(n) for n in class_names]).to(device)
    return F.normalize(clip.get_text_features(input_ids=ids).pooler_output.float(), dim=-1)


class PromptLearner(nn.Module):
    """Learnable context vectors around fixed class-name tokens (CoOp, class token at the end).

    Buffers ``prefix (C, 1, W)`` (SOS) and ``suffix (C, L - 1 - M, W)`` (class name, ``.``,
    EOS, padding) are the frozen token embeddings; ``ctx`` is ``(M, W)`` (unified) or
    ``(C, M, W)`` (class-specific).

    Args:
        backbone: the frozen CLIP.
        class_names: ``C`` names, tokenised as they are.
        n_ctx: ``M`` context vectors (ignored when ``ctx_init`` is given).
        ctx_init: initialise from these words' embeddings (e.g. ``"a photo of a"``; ``M`` is
            their token count); ``None``: ``N(0, 0.02^2)`` as in CoOp.
        class_specific: one context per class (CSC) instead of one shared context.
        seed: seed of the random initialisation.
    """

    ids: Tensor
    prefix: Tensor
    suffix: Tensor

    def __init__(
        self,
        backbone: ClipBackbone,
        class_names: Sequence[str],
        *,
        n_ctx: int = 16,
        ctx_init: str | None = None,
        class_specific: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        emb = backbone.clip.text_model.embeddings.token_embedding
        if ctx_init:
            init_ids = backbone.tokenizer(ctx_init, add_special_tokens=False)["input_ids"]
            n_ctx, prefix_text = len(init_ids), ctx_init
        else:
            if n_ctx < 1:
                raise ValueError(f"n_ctx must be >= 1; got {n_ctx}")
            prefix_text = " ".join(["X"] * n_ctx)
        ids = _tokenize(backbone, [f"{prefix_text} {name}." for name in class_names])
        ids = ids.to(emb.weight.device)
        with torch.no_grad():
            embedded = emb(ids).float()
        self.register_buffer("ids", ids, persistent=False)
        self.register_buffer("prefix", embedded[:, :1].clone(), persistent=False)
        self.register_buffer("suffix", embedded[:, 1 + n_ctx :].clone(), persistent=False)
        num_classes, width = len(class_names), embedded.shape[-1]
        if ctx_init:
            ctx = embedded[0, 1 : 1 + n_ctx].clone()
            if class_specific:
                ctx = ctx.expand(num_classes, -1, -1).clone()
        else:
            shape = (num_classes, n_ctx, width) if class_specific else (n_ctx, width)
            g = torch.Generator().manual_seed(seed)
            ctx = (torch.randn(shape, generator=g) * 0.02).to(emb.weight.device)
        self.ctx = nn.Parameter(ctx)

    def forward(self) -> Tensor:
        """``(C, L, W)`` prompt embeddings."""
        ctx: Tensor = self.ctx
        if ctx.dim() == 2:
            ctx = ctx.expand(self.prefix.shape[0], -1, -1)
        return torch.cat([self.prefix, ctx.to(self.prefix.dtype), self.suffix], dim=1)


class ClipClassifier(nn.Module):
    """A frozen CLIP with a trainable head: CoOp prompts or a linear probe.

    ``forward(image_features=(N, D))`` (cached projected image features) or
    ``forward(pixel_values=(N, 3, H, W))`` returns ``(N, C)`` logits.

    Args:
        backbone: the frozen CLIP (shared, never updated).
        class_names: ``C`` class names (kept fixed).
        head: ``coop`` (learnable prompts, see :class:`PromptLearner`) or ``linear_probe``
            (a linear layer on L2-normalised image features, initialised to the zero-shot
            classifier ``logit_scale * text features`` of ``template``; Radford et al., 2021).
        n_ctx, ctx_init, class_specific, seed: see :class:`PromptLearner`.
        template: the zero-shot prompt of the linear probe's initialisation.
    """

    backbone: ClipBackbone  # set with object.__setattr__ in __init__, not a submodule

    def __init__(
        self,
        backbone: ClipBackbone,
        class_names: Sequence[str],
        *,
        head: Literal["coop", "linear_probe"] = "coop",
        n_ctx: int = 16,
        ctx_init: str | None = None,
        class_specific: bool = False,
        template: str = "a photo of a {}.",
        seed: int = 0,
    ) -> None:
        super().__init__()
        object.__setattr__(self, "backbone", backbone)  # not a submodule: frozen and shared
        self.head = head
        if head == "coop":
            self.prompt = PromptLearner(
                backbone,
                class_names,
                n_ctx=n_ctx,
                ctx_init=ctx_init,
                class_specific=class_specific,
                seed=seed,
            )
        elif head == "linear_probe":
            text = zeroshot_text_features(backbone, class_names, template)
            self.probe = nn.Linear(text.shape[1], text.shape[0])
            with torch.no_grad():
                self.probe.weight.copy_(backbone.clip.logit_scale.exp().float() * text)
                self.probe.bias.zero_()
        else:
            raise ValueError(f"head must be 'coop' or 'linear_probe'; got {head!r}")

    def _apply(self, fn: Any, recurse: bool = True) -> ClipClassifier:
        super()._apply(fn, recurse)
        self.backbone.clip._apply(fn, recurse)  # .to(device) moves the frozen CLIP too
        return self

    def text_features(self) -> Tensor:
        """``(C, D)`` L2-normalised text features of the learned prompts (CoOp head)."""
        clip = self.backbone.clip
        return F.normalize(encode_text_embeds(clip, self.prompt(), self.prompt.ids), dim=-1)

    def image_features(self, pixel_values: Tensor) -> Tensor:
        """``(N, D)`` projected image features (the uncached path)."""
        with torch.no_grad():
            return self.backbone.clip.get_image_features(pixel_values=pixel_values).pooler_output

    def forward(
        self, image_features: Tensor | None = None, pixel_values: Tensor | None = None
    ) -> Tensor:
        if image_features is None:
            if pixel_values is None:
                raise ValueError("ClipClassifier needs image_features or pixel_values; got none")
            image_features = self.image_features(pixel_values)
        img = F.normalize(image_features.float(), dim=-1)
        if self.head == "linear_probe":
            return self.probe(img)
        scale = self.backbone.clip.logit_scale.exp().float()
        return scale * img @ self.text_features().float().t()
