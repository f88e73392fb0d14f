"""Reading audio clips with ``soundfile`` (not ``torchaudio.load``) and resampling with
``torchaudio``.

An unreadable or empty file is a ``ValueError`` naming the file; a caller that is configured
to skip bad files catches :class:`BadAudioFile` and counts it. A sample rate other than the
target one is resampled (``torchaudio.functional.resample``).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio
from torch import Tensor

__all__ = ["BadAudioFile", "load_audio"]

log = logging.getLogger(__name__)


class BadAudioFile(ValueError):
    """An audio file that cannot be read or holds no samples."""


def load_audio(
    path: str | Path, *, sample_rate: int, data: bytes | None = None
) -> tuple[Tensor, int]:
    """Read a clip as mono float32 at ``sample_rate``.

    Args:
        path: an audio file soundfile can read (WAV, FLAC, OGG, ...).
        data: the file's bytes, when they are embedded in a dataset (a Hugging Face
            ``Audio`` cell); ``path`` then only names the clip in messages.
        sample_rate: target rate in Hz; other rates are resampled (logged at DEBUG;
            :func:`~labelnoise.tasks.audio.readers.load_clips` logs a summary).

    Returns:
        ``(waveform (S,), original_rate)``; channels are averaged.

    Raises:
        FileNotFoundError: the file does not exist.
        BadAudioFile: soundfile cannot read it, or it holds no samples.
    """
    p = Path(path)
    if data is None and not p.is_file():
        raise FileNotFoundError(f"audio file must exist; got {p}")
    source = io.BytesIO(data) if data is not None else str(p)
    try:
        samples, rate = soundfile.read(source, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as err:
        raise BadAudioFile(f"audio file must be readable by soundfile; got {p}: {err}") from err
    if samples.shape[0] == 0:
        raise BadAudioFile(f"audio file must hold at least one sample; got 0 samples in {p}")
    wave = torch.from_numpy(np.ascontiguousarray(samples.mean(axis=1)))
    if rate != sample_rate:
        log.debug("resampling %s from %d Hz to %d Hz", p, rate, sample_rate)
        wave = torchaudio.functional.resample(wave, int(rate), int(sample_rate))
    return wave, int(rate)
