"""Bad and unusual inputs of the audio readers: broken files, unknown tags, other sample
rates, empty label sets, the FSDD file-name convention."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile
import torch

from labelnoise.tasks.audio.io import BadAudioFile, load_audio
from labelnoise.tasks.audio.readers import load_clips, multi_hot, read_fsdd, read_tag_csv


def _tone(path, *, sr=8000, seconds=0.25, freq=440.0):
    t = np.arange(int(sr * seconds)) / sr
    soundfile.write(str(path), (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr)
    return path


def test_zero_length_file_names_the_file_and_is_skipped_only_when_configured(tmp_path):
    good = _tone(tmp_path / "good.wav")
    empty = tmp_path / "empty.wav"
    soundfile.write(str(empty), np.zeros(0, dtype=np.float32), 8000)
    with pytest.raises(BadAudioFile, match="empty.wav"):
        load_audio(empty, sample_rate=8000)
    records, _ = _csv(tmp_path, [("good.wav", "a"), ("empty.wav", "a")])
    with pytest.raises(ValueError, match="empty.wav"):
        load_clips(records, sample_rate=8000)
    loaded = load_clips(records, sample_rate=8000, skip_bad=True)
    assert loaded.kept == [0] and loaded.skipped == [str(empty)]
    assert len(loaded.waves) == 1 and loaded.waves[0].shape == (2000,)
    assert good.exists()


def test_unreadable_file_names_the_file(tmp_path):
    bad = tmp_path / "garbage.wav"
    bad.write_bytes(b"this is not audio at all")
    with pytest.raises(BadAudioFile, match="garbage.wav"):
        load_audio(bad, sample_rate=8000)
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        load_audio(tmp_path / "missing.wav", sample_rate=8000)


def _csv(tmp_path, rows, header="fname,labels", extra=None):
    lines = [header] + [
        f'{f},"{lab}"' + (f",{extra[i]}" if extra else "") for i, (f, lab) in enumerate(rows)
    ]
    p = tmp_path / "train.csv"
    p.write_text("\n".join(lines) + "\n")
    return read_tag_csv(p, tmp_path, vocabulary=None)


def test_tag_outside_the_vocabulary_is_an_error_naming_row_and_tag(tmp_path):
    p = tmp_path / "train.csv"
    p.write_text('fname,labels\na.wav,"Bark,Meow"\nb.wav,"Bark,Purr"\n')
    with pytest.raises(ValueError, match=r"row 3.*'Purr'"):
        read_tag_csv(p, tmp_path, vocabulary=["Bark", "Meow"])


def test_empty_label_set_is_an_all_negative_clip(tmp_path):
    records, vocab = _csv(tmp_path, [("a.wav", "Bark,Meow"), ("b.wav", ""), ("c.wav", "Meow")])
    assert vocab == ["Bark", "Meow"]
    assert records[1].tags == ()
    assert multi_hot(records, vocab).tolist() == [[1, 1], [0, 0], [0, 1]]


def test_curated_column_and_noisy_column(tmp_path):
    records, _ = _csv(
        tmp_path, [("a.wav", "x"), ("b.wav", "y")], header="fname,labels,noisy", extra=["1", "0"]
    )
    assert [r.curated for r in records] == [False, True]


def test_sample_rate_mismatch_is_resampled_and_logged(tmp_path, caplog):
    _tone(tmp_path / "hi.wav", sr=16000, seconds=0.5)
    _tone(tmp_path / "lo.wav", sr=8000, seconds=0.5)
    records, _ = _csv(tmp_path, [("hi.wav", "a"), ("lo.wav", "a")])
    with caplog.at_level(logging.WARNING, logger="labelnoise.tasks.audio.readers"):
        loaded = load_clips(records, sample_rate=8000)
    assert loaded.resampled == 1
    assert "resampled 1 clip(s) from 16000 Hz to 8000 Hz" in caplog.text
    hi, lo = loaded.waves
    assert hi.shape == lo.shape == (4000,)
    # same tone after resampling (away from the edges)
    assert torch.allclose(hi[200:-200], lo[200:-200], atol=0.02)


def test_fsdd_file_names(tmp_path):
    rec = tmp_path / "recordings"
    rec.mkdir()
    for name in ["3_theo_12.wav", "0_george_0.wav", "3_george_1.wav"]:
        _tone(rec / name)
    records, vocab = read_fsdd(rec)
    assert vocab == [str(d) for d in range(10)]
    assert [(r.speaker, r.tags, r.index) for r in records] == [
        ("george", ("0",), 0),
        ("george", ("3",), 1),
        ("theo", ("3",), 12),
    ]
    _tone(rec / "three_theo.wav")
    with pytest.raises(ValueError, match="three_theo.wav"):
        read_fsdd(rec)
