"""CLIP prompt tuning under label noise: CoOp, a linear probe, zero-shot CLIP and PTNL's
self-labelling on a frozen ``transformers.CLIPModel`` (see :mod:`.adapter`)."""

from labelnoise.tasks.clip.adapter import ClipAdapter, ClipConfig, ClipItems, ClipNoiseConfig
from labelnoise.tasks.clip.backbone import (
    TINY_RANDOM,
    ClipBackbone,
    encode_images,
    load_clip,
    preprocess,
)
from labelnoise.tasks.clip.coop import (
    ClipClassifier,
    PromptLearner,
    encode_text_embeds,
    zeroshot_text_features,
)
from labelnoise.tasks.clip.data import (
    ImageFolderImages,
    k_shot_split,
    read_image_folder,
    top_confident_per_class,
)

__all__ = [
    "TINY_RANDOM",
    "ClipAdapter",
    "ClipBackbone",
    "ClipClassifier",
    "ClipConfig",
    "ClipItems",
    "ClipNoiseConfig",
    "ImageFolderImages",
    "PromptLearner",
    "encode_images",
    "encode_text_embeds",
    "k_shot_split",
    "load_clip",
    "preprocess",
    "read_image_folder",
    "top_confident_per_class",
    "zeroshot_text_features",
]
