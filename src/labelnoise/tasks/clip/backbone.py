"""The frozen CLIP backbone: loading a checkpoint (hub id, local folder, or a tiny random model),
its tokenizer and image processor, and encoding images once.

``load_clip("openai/clip-vit-base-patch32")`` reads a hub checkpoint (from the local cache when
``HF_HUB_OFFLINE=1``); ``load_clip("/models/clip")`` reads a local folder and never falls back
to the hub; ``load_clip("tiny-random")`` builds a 2-layer CLIP with random weights (fixed seed)
and a byte-level tokenizer made in memory, for tests and CPU smoke runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

__all__ = ["TINY_RANDOM", "ClipBackbone", "encode_images", "load_clip", "preprocess"]

#: The name that selects the tiny randomly initialised CLIP.
TINY_RANDOM = "tiny-random"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass
class ClipBackbone:
    """A frozen ``transformers.CLIPModel`` with its tokenizer and image processor.

    Attributes:
        clip: the model, in eval mode, every parameter frozen.
        tokenizer: a CLIP tokenizer (BOS ... EOS, padded with the pad token).
        processor: a ``CLIPImageProcessor`` (resize, center crop, normalise).
        name: what was loaded (hub id, path, or ``tiny-random``).
    """

    clip: Any
    tokenizer: Any
    processor: Any
    name: str

    @property
    def context_length(self) -> int:
        """Token positions of the text encoder (77 for OpenAI CLIP)."""
        return int(self.clip.config.text_config.max_position_embeddings)


def _freeze(clip: Any) -> Any:
    clip.eval()
    for p in clip.parameters():
        p.requires_grad_(False)
    return clip


def _tiny_random(seed: int) -> ClipBackbone:
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

    chars = sorted(ByteLevel.alphabet())
    tokens = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    tokenizer = CLIPTokenizer(vocab={t: i for i, t in enumerate(tokens)}, merges=[])
    text = dict(
        vocab_size=len(tokens),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=40,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    vision = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
    )
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
    with torch.random.fork_rng(devices=[]):  # the caller's global RNG state is left untouched
        torch.manual_seed(seed)
        clip = CLIPModel(config)
    processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    return ClipBackbone(_freeze(clip), tokenizer, processor, TINY_RANDOM)


def load_clip(model: str, *, seed: int = 0) -> ClipBackbone:
    """Load a frozen CLIP backbone.

    Args:
        model: ``tiny-random``; an existing local checkpoint folder; or a hub id
            (``org/name``), read from the Hugging Face cache or downloaded. A name that is not
            an existing path and does not look like a hub id (absolute, ``./``, ``~``, more
            than one ``/``) must exist locally: there is no hub fallback for paths.
        seed: weights seed of ``tiny-random`` (ignored otherwise).

    Raises:
        FileNotFoundError: a local path that does not exist, or hub weights that cannot be
            obtained (offline and not cached).
    """
    if model == TINY_RANDOM:
        return _tiny_random(seed)
    from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer

    path = Path(model).expanduser()
    local = path.exists()
    if not local and not _HUB_ID.match(model):
        raise FileNotFoundError(
            f"task.model must be 'tiny-random', an existing checkpoint folder or a hub id "
            f"(org/name); got {model!r}, a path that does not exist"
        )
    source = str(path) if local else model
    try:
        clip = CLIPModel.from_pretrained(source, local_files_only=local)
        tokenizer = CLIPTokenizer.from_pretrained(source, local_files_only=local)
        processor = CLIPImageProcessor.from_pretrained(source, local_files_only=local)
    except OSError as e:
        where = "local folder" if local else "hub id (not in the local cache and not downloadable)"
        raise FileNotFoundError(
            f"CLIP weights for task.model={model!r} could not be loaded from the {where}: {e}"
        ) from None
    return ClipBackbone(_freeze(clip), tokenizer, processor, model)


def _size_field(size: Any, key: str) -> int | None:
    """``size[key]`` of a processor's size (a dict or transformers' ``SizeDict``), or None."""
    try:
        value = size[key]
    except (KeyError, TypeError):
        return None
    return None if value is None else int(value)


def preprocess(
    backbone: ClipBackbone, images: Sequence[Any], *, device: str | torch.device | None = None
) -> torch.Tensor:
    """RGB PIL images -> ``(N, 3, H, W)`` float pixel values for the vision tower.

    The steps of the checkpoint's ``CLIPImageProcessor`` (resize the shortest edge, center
    crop, rescale, normalise with its ``image_mean`` / ``image_std``), batched in torch so
    they can run on the GPU: 50,000 CIFAR images upsampled to 224 px take seconds instead of
    minutes. Resizing is bicubic with antialiasing, rounded to 8-bit like PIL's; pixel values
    differ from the PIL-based processor by interpolation rounding only.
    """
    import numpy as np
    import torch.nn.functional as F

    p = backbone.processor
    short = _size_field(p.size, "shortest_edge")
    fixed = (_size_field(p.size, "height"), _size_field(p.size, "width"))
    crop = getattr(p, "do_center_crop", True) and p.crop_size is not None
    mean = torch.tensor(p.image_mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(p.image_std, device=device).view(1, 3, 1, 1)
    arrays = [np.asarray(im.convert("RGB"), dtype=np.uint8) for im in images]
    same = len({a.shape for a in arrays}) == 1
    groups = [np.stack(arrays)] if same and arrays else [a[None] for a in arrays]
    batch = []
    for group in groups:
        x = torch.from_numpy(group).to(device).permute(0, 3, 1, 2).float()
        h, w = x.shape[-2:]
        size: tuple[int, int]
        if short is not None:  # shortest edge -> short, aspect ratio kept
            scale = short / min(h, w)
            size = (short, int(w * scale)) if h <= w else (int(h * scale), short)
        elif fixed[0] is not None and fixed[1] is not None:
            size = (fixed[0], fixed[1])
        else:
            raise ValueError(
                f"the image processor's size must give 'shortest_edge' or 'height' and "
                f"'width'; got {p.size!r}"
            )
        if tuple(size) != (h, w):
            x = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)
            x = x.clamp(0, 255).round()
            h, w = x.shape[-2:]
        if crop:
            ch, cw = _size_field(p.crop_size, "height"), _size_field(p.crop_size, "width")
            if ch is None or cw is None:
                raise ValueError(
                    f"the image processor's crop_size must give 'height' and 'width'; "
                    f"got {p.crop_size!r}"
                )
            top, left = max(0, (h - ch) // 2), max(0, (w - cw) // 2)
            x = x[..., top : top + ch, left : left + cw]
        batch.append(x)
    pixels = torch.cat(batch) * float(p.rescale_factor)
    return (pixels - mean) / std


@torch.no_grad()
def encode_images(
    backbone: ClipBackbone,
    load_image: Any,
    indices: Sequence[int],
    *,
    batch_size: int = 256,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Projected (unnormalised) CLIP image features of ``load_image(i)`` for ``i in indices``.

    Args:
        load_image: ``i -> PIL.Image`` (RGB).
        indices: ``(N,)`` image indices.
        batch_size: images per forward pass.
        device: where to run the vision tower (default: where the model is).

    Returns:
        ``(N, D)`` float32 features on the CPU; the cache that prompt tuning reuses.
    """
    clip = backbone.clip
    device = torch.device(device) if device is not None else next(clip.parameters()).device
    clip.to(device)
    out = []
    idx = list(indices)
    for start in range(0, len(idx), batch_size):
        batch = [load_image(i) for i in idx[start : start + batch_size]]
        pixels = preprocess(backbone, batch, device=device)
        feats = clip.get_image_features(pixel_values=pixels).pooler_output
        out.append(feats.float().cpu())
    dim = int(clip.config.projection_dim)
    return torch.cat(out) if out else torch.zeros(0, dim)
