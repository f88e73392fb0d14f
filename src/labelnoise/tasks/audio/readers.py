"""Readers for audio-tagging data in its published formats.

* FSDKaggle2019 (DCASE 2019 Task 2, "Audio tagging with noisy labels and minimal
  supervision", Fonseca et al., 2019): a folder of audio files and a CSV with header
  ``fname,labels``, where ``labels`` holds comma-separated tags (quoted). The curated and the
  noisy sets come as separate CSVs (``train_curated.csv``, ``train_noisy.csv``); a CSV may
  also carry an optional ``curated`` (or ``noisy``) column of 0/1 flags per row.
* The Free Spoken Digit Dataset: ``recordings/{digit}_{speaker}_{index}.wav``, one tag (the
  digit) per clip.

A row with an empty label set is allowed (an all-negative clip). A tag outside the vocabulary
is a ``ValueError`` naming the CSV, the row and the tag.
"""

from __future__ import annotations

import csv
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from labelnoise.tasks.audio.io import BadAudioFile, load_audio

__all__ = [
    "ClipRecord",
    "LoadedClips",
    "load_clips",
    "multi_hot",
    "read_fsdd",
    "read_tag_csv",
]

log = logging.getLogger(__name__)

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}
_FSDD_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")


@dataclass(frozen=True)
class ClipRecord:
    """One clip: its file, its tags, whether it is curated (clean), and its speaker (FSDD)."""

    path: Path
    tags: tuple[str, ...]
    curated: bool = False
    speaker: str | None = None
    index: int | None = None
    uid: str | None = None  # the user's id of the clip (label_issues.csv); None: the file name
    data: bytes | None = None  # the file's bytes when a dataset embeds them


def _flag(value: str, *, csv_path: Path, row: int, column: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ValueError(f"{csv_path} row {row}: {column} must be 0/1 or true/false; got {value!r}")


def read_tag_csv(
    csv_path: str | Path,
    audio_dir: str | Path,
    *,
    vocabulary: Sequence[str] | None = None,
    curated: bool | None = None,
) -> tuple[list[ClipRecord], list[str]]:
    """Read a ``fname,labels`` CSV (FSDKaggle2019 format).

    Args:
        csv_path: the CSV; header with ``fname`` and ``labels``, optional ``curated`` or
            ``noisy`` column of 0/1 flags.
        audio_dir: folder holding the files named in ``fname``.
        vocabulary: the allowed tags (their order is the tag order); ``None``: the sorted
            union of the CSV's tags.
        curated: flag of every row (``train_curated.csv``: True, ``train_noisy.csv``: False);
            ``None``: the ``curated``/``noisy`` column, else False.

    Returns:
        ``(records, vocabulary)``.
    """
    csv_path, audio_dir = Path(csv_path), Path(audio_dir)
    if not csv_path.is_file():
        raise FileNotFoundError(f"csv_path must be an existing file; got {csv_path}")
    with csv_path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        if "fname" not in fields or "labels" not in fields:
            raise ValueError(f"{csv_path} must have columns fname and labels; got {fields}")
        rows = list(reader)
    allowed = None if vocabulary is None else {t: i for i, t in enumerate(vocabulary)}
    records = []
    for r, row in enumerate(rows, start=2):
        raw = row["labels"] or ""
        tags = tuple(t.strip() for t in raw.split(",") if t.strip())
        if allowed is not None:
            for t in tags:
                if t not in allowed:
                    raise ValueError(
                        f"{csv_path} row {r}: tags must be in the vocabulary "
                        f"({len(allowed)} tags); got {t!r}"
                    )
        flag = curated
        if flag is None and "curated" in fields:
            flag = _flag(row["curated"], csv_path=csv_path, row=r, column="curated")
        elif flag is None and "noisy" in fields:
            flag = not _flag(row["noisy"], csv_path=csv_path, row=r, column="noisy")
        records.append(ClipRecord(audio_dir / row["fname"], tags, bool(flag)))
    vocab = (
        list(vocabulary) if vocabulary is not None else sorted({t for c in records for t in c.tags})
    )
    return records, vocab


def read_fsdd(recordings_dir: str | Path) -> tuple[list[ClipRecord], list[str]]:
    """Read the Free Spoken Digit Dataset folder (``{digit}_{speaker}_{index}.wav``).

    Returns:
        ``(records, ["0", ..., "9"])`` sorted by (speaker, digit, index).
    """
    root = Path(recordings_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"recordings_dir must be an existing folder; got {root}")
    records = []
    for p in sorted(root.glob("*.wav")):
        m = _FSDD_NAME.match(p.name)
        if m is None:
            raise ValueError(
                f"FSDD file names must be {{digit}}_{{speaker}}_{{i}}.wav; got {p.name}"
            )
        digit, speaker, index = m.group(1), m.group(2), int(m.group(3))
        records.append(ClipRecord(p, (digit,), False, speaker, index))
    if not records:
        raise FileNotFoundError(f"recordings_dir must hold .wav files; got none in {root}")
    records.sort(key=lambda c: (c.speaker, c.tags[0], c.index))
    return records, [str(d) for d in range(10)]


def multi_hot(records: Sequence[ClipRecord], vocabulary: Sequence[str]) -> Tensor:
    """``(N, K)`` float 0/1 tag matrix (an empty tag set is an all-zero row)."""
    index = {t: i for i, t in enumerate(vocabulary)}
    out = torch.zeros(len(records), len(vocabulary))
    for n, c in enumerate(records):
        for t in c.tags:
            if t not in index:
                raise ValueError(f"tags must be in the vocabulary; got {t!r} for {c.path}")
            out[n, index[t]] = 1.0
    return out


@dataclass
class LoadedClips:
    """Waveforms of the readable clips; ``kept`` indexes the input records."""

    waves: list[Tensor]
    kept: list[int]
    skipped: list[str]
    resampled: int


def load_clips(
    records: Sequence[ClipRecord], *, sample_rate: int, skip_bad: bool = False
) -> LoadedClips:
    """Read every clip at ``sample_rate``.

    An unreadable or empty file raises (naming the file) unless ``skip_bad``: then it is left
    out, counted in ``skipped`` and logged. Resampled clips are counted and logged.
    """
    waves: list[Tensor] = []
    kept: list[int] = []
    skipped: list[str] = []
    rates: Counter[int] = Counter()
    for i, c in enumerate(records):
        try:
            wave, rate = load_audio(c.path, sample_rate=sample_rate, data=c.data)
        except BadAudioFile:
            if not skip_bad:
                raise
            skipped.append(str(c.path))
            continue
        if rate != sample_rate:
            rates[rate] += 1
        waves.append(wave)
        kept.append(i)
    for rate, n in sorted(rates.items()):
        log.warning("resampled %d clip(s) from %d Hz to %d Hz", n, rate, sample_rate)
    if skipped:
        log.warning("skipped %d unreadable or empty audio file(s): %s", len(skipped), skipped[:5])
    return LoadedClips(waves, kept, skipped, sum(rates.values()))
