"""Audio tagging with noisy labels: readers (FSDKaggle2019 CSVs, FSDD), log-mel features,
a small CNN, tag or clip (multi-label softmax) units, the per-tag small-loss selector for
curated + noisy training (trained by ``method: per_tag_small_loss``,
:mod:`labelnoise.methods.per_tag_small_loss`), lwlrap and mAP. Training goes through the
engine (:func:`labelnoise.engine.train`); :func:`predict_tags` is inference only.

torchaudio is imported here only (never from :mod:`labelnoise.common`).
"""

from labelnoise.tasks.audio.adapter import (
    AudioAdapter,
    AudioConfig,
    HoldoutConfig,
    TagNoiseConfig,
    holdout_split,
)
from labelnoise.tasks.audio.dataset import AugmentParams, ClipDataset
from labelnoise.tasks.audio.features import (
    LogMelParams,
    cached_log_mels,
    crop_or_pad,
    log_mel_transform,
    spec_augment,
)
from labelnoise.tasks.audio.io import BadAudioFile, load_audio
from labelnoise.tasks.audio.metrics import (
    average_precision_per_tag,
    lwlrap,
    mean_average_precision,
    per_tag_lwlrap,
)
from labelnoise.tasks.audio.model import SmallCNN, build_audio_model
from labelnoise.tasks.audio.predict import predict_tags
from labelnoise.tasks.audio.readers import (
    ClipRecord,
    load_clips,
    multi_hot,
    read_fsdd,
    read_tag_csv,
)
from labelnoise.tasks.audio.selection import PerTagSmallLossSelector
from labelnoise.tasks.audio.units import UnitsKind, clip_units, tag_units

__all__ = [
    "AudioAdapter",
    "AudioConfig",
    "AugmentParams",
    "BadAudioFile",
    "ClipDataset",
    "ClipRecord",
    "HoldoutConfig",
    "LogMelParams",
    "PerTagSmallLossSelector",
    "SmallCNN",
    "TagNoiseConfig",
    "UnitsKind",
    "average_precision_per_tag",
    "build_audio_model",
    "cached_log_mels",
    "clip_units",
    "crop_or_pad",
    "load_audio",
    "load_clips",
    "log_mel_transform",
    "holdout_split",
    "lwlrap",
    "mean_average_precision",
    "multi_hot",
    "per_tag_lwlrap",
    "predict_tags",
    "read_fsdd",
    "read_tag_csv",
    "spec_augment",
    "tag_units",
]
