"""The clip dataset: cached log-mels -> fixed-size (optionally augmented) inputs + tag targets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from labelnoise.tasks.audio.features import crop_or_pad, spec_augment

__all__ = ["AugmentParams", "ClipDataset"]


@dataclass(frozen=True)
class AugmentParams:
    """Training augmentation: random crop/pad position and SpecAugment masks."""

    random_crop: bool = True
    freq_masks: int = 2
    freq_width: int = 6
    time_masks: int = 2
    time_width: int = 8


class ClipDataset(Dataset):
    """Items ``{"x" (1, M, frames), "target" (K,), "clean_target" (K,), "curated", "example_id"}``.

    Args:
        features: ``N`` log-mels ``(M, T_n)`` in dB (a list or a
            :class:`~labelnoise.tasks.audio.features.LazyLogMels`); used relative to each
            clip's peak (``feat - feat.max()``), so loudness differences drop out.
        target: ``(N, K)`` 0/1 tags trained on (noisy for training).
        clean: ``(N, K)`` clean tags (``None``: same as ``target``).
        curated: ``(N,)`` bool, clips whose tags are trusted (DCASE's curated set).
        frames: input length ``T``.
        augment: augmentation, or ``None`` (centred crop, no masks: evaluation).
        seed: seed of the augmentation draws: item ``i`` in epoch ``e`` (see
            :meth:`set_epoch`) is augmented by a function of ``(seed, e, i)`` alone, so every
            method, run order and resumed run sees the same augmentation stream.
    """

    def __init__(
        self,
        features: Sequence[Tensor],
        target: Tensor,
        *,
        clean: Tensor | None = None,
        curated: Tensor | None = None,
        frames: int,
        augment: AugmentParams | None = None,
        seed: int = 0,
    ) -> None:
        n = len(features)
        if target.dim() != 2 or target.shape[0] != n:
            raise ValueError(f"target must have shape ({n}, K); got {tuple(target.shape)}")
        self.features = features
        self.target = target.float()
        self.clean = self.target if clean is None else clean.float()
        self.curated = torch.zeros(n, dtype=torch.bool) if curated is None else curated.bool()
        self.frames = int(frames)
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0
        self.ids: list[str] | None = None  # the user's clip ids (label_issues.csv), if any

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation draws of epoch ``epoch`` (the engine's loader calls this at
        each epoch start, through Accelerate's ``set_epoch``)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int) -> dict[str, Any]:
        feat = self.features[i]
        feat = feat - feat.max() if feat.numel() else feat
        if self.augment is None:
            x = crop_or_pad(feat, self.frames)
        else:
            g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) * 1_000_033 + i)
            a = self.augment
            x = crop_or_pad(feat, self.frames, generator=g if a.random_crop else None)
            if a.freq_masks or a.time_masks:
                x = spec_augment(
                    x,
                    generator=g,
                    freq_masks=a.freq_masks,
                    freq_width=a.freq_width,
                    time_masks=a.time_masks,
                    time_width=a.time_width,
                )
        return {
            "x": x.unsqueeze(0),
            "target": self.target[i],
            "clean_target": self.clean[i],
            "curated": self.curated[i],
            "example_id": i,
        }
