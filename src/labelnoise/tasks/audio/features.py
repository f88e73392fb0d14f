"""Log-mel features (torchaudio), random crop/pad, SpecAugment and an on-disk feature cache.

Features are ``(M, T)`` log-mel spectrograms in dB (``MelSpectrogram`` then
``AmplitudeToDB(top_db=80)``), computed once per clip; training crops/pads them to a fixed
number of frames and masks them (SpecAugment: Park et al., Interspeech 2019).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torchaudio
from torch import Tensor, nn

from labelnoise._io import atomic_write

__all__ = [
    "LazyLogMels",
    "LogMelParams",
    "cached_log_mels",
    "crop_or_pad",
    "log_mel_transform",
    "spec_augment",
]


@dataclass(frozen=True)
class LogMelParams:
    """Log-mel settings (defaults suit 8 kHz speech: 32 ms windows, 16 ms hop, 40 bands)."""

    sample_rate: int = 8000
    n_fft: int = 256
    hop_length: int = 128
    n_mels: int = 40
    f_min: float = 20.0
    f_max: float | None = None
    top_db: float = 80.0


def log_mel_transform(params: LogMelParams) -> nn.Sequential:
    """``waveform (S,)`` or ``(B, S)`` -> log-mel ``(M, T)`` / ``(B, M, T)`` in dB."""
    return nn.Sequential(
        torchaudio.transforms.MelSpectrogram(
            sample_rate=params.sample_rate,
            n_fft=params.n_fft,
            hop_length=params.hop_length,
            n_mels=params.n_mels,
            f_min=params.f_min,
            f_max=params.f_max,
        ),
        torchaudio.transforms.AmplitudeToDB(stype="power", top_db=params.top_db),
    )


@torch.no_grad()
def _compute(waves: Sequence[Tensor], params: LogMelParams, chunk: int = 64) -> list[Tensor]:
    """Mel power spectrograms of length-sorted chunks of zero-padded clips (one STFT call per
    chunk), trimmed to each clip's ``1 + S // hop`` frames, then dB per clip."""
    mel, to_db = log_mel_transform(params)
    order = sorted(range(len(waves)), key=lambda i: waves[i].shape[-1])
    out: list[Tensor] = [torch.empty(0)] * len(waves)
    for start in range(0, len(order), chunk):
        idx = order[start : start + chunk]
        longest = max(waves[i].shape[-1] for i in idx)
        batch = torch.zeros(len(idx), longest)
        for row, i in enumerate(idx):
            batch[row, : waves[i].shape[-1]] = waves[i].float()
        spec = mel(batch)
        for row, i in enumerate(idx):
            frames = 1 + waves[i].shape[-1] // params.hop_length
            out[i] = to_db(spec[row, :, :frames]).contiguous()
    return out


class LazyLogMels(Sequence):
    """Log-mels computed on first access and kept (no cost for clips never used)."""

    def __init__(self, waves: Sequence[Tensor], params: LogMelParams) -> None:
        self.waves = list(waves)
        self.params = params
        self._transform = log_mel_transform(params)
        self._memo: dict[int, Tensor] = {}

    def __len__(self) -> int:
        return len(self.waves)

    def __getitem__(self, i: int) -> Tensor:  # type: ignore[override]
        if i not in self._memo:
            with torch.no_grad():
                self._memo[i] = self._transform(self.waves[i].float()).contiguous()
        return self._memo[i]


def cached_log_mels(
    waves: Sequence[Tensor],
    params: LogMelParams,
    *,
    cache_dir: str | Path | None = None,
    key: str = "",
) -> list[Tensor]:
    """Log-mels of ``waves``, read from / written to ``cache_dir`` when given.

    The cache file name hashes ``key`` (e.g. the file list) and ``params``; it is written
    atomically with ``torch.save`` and read with ``weights_only=True``.
    """
    if cache_dir is None:
        return _compute(waves, params)
    digest = hashlib.sha256(
        json.dumps([key, asdict(params), len(waves)], sort_keys=True).encode()
    ).hexdigest()[:16]
    path = Path(cache_dir).expanduser() / f"logmel-{digest}.pt"
    if path.is_file():
        return list(torch.load(path, weights_only=True))
    feats = _compute(waves, params)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, mode="wb") as f:
        torch.save(feats, f)
    return feats


def crop_or_pad(feat: Tensor, frames: int, *, generator: torch.Generator | None = None) -> Tensor:
    """Crop or pad ``feat (M, T)`` to ``(M, frames)``.

    With a ``generator`` the crop offset (or the position of the clip inside the padding) is
    random; without one it is centred. Padding uses the clip's minimum (its silence level).
    """
    t = feat.shape[-1]
    if t == frames:
        return feat
    room = abs(t - frames)
    if generator is None:
        off = room // 2
    else:
        off = int(torch.randint(room + 1, (1,), generator=generator))
    if t > frames:
        return feat[..., off : off + frames]
    out = feat.new_full((*feat.shape[:-1], frames), float(feat.min()) if t else 0.0)
    out[..., off : off + t] = feat
    return out


def spec_augment(
    feat: Tensor,
    *,
    generator: torch.Generator,
    freq_masks: int = 2,
    freq_width: int = 8,
    time_masks: int = 2,
    time_width: int = 10,
) -> Tensor:
    """SpecAugment frequency and time masking of ``feat (M, T)`` (a copy), masks filled with
    the clip's mean. Each mask has a width drawn uniformly from ``[0, width]``."""
    out = feat.clone()
    fill = float(feat.mean())
    for dim, count, width in ((0, freq_masks, freq_width), (1, time_masks, time_width)):
        size = out.shape[dim]
        for _ in range(count):
            w = int(torch.randint(min(width, size) + 1, (1,), generator=generator))
            start = int(torch.randint(size - w + 1, (1,), generator=generator))
            out.narrow(dim, start, w).fill_(fill)
    return out
