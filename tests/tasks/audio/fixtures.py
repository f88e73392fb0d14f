"""Twenty synthetic clips (sines at three frequencies = three tags, plus noise) in the
FSDKaggle2019 CSV format, and a tiny recipe that trains on them through the engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FREQS = {"low": 300.0, "mid": 900.0, "high": 2500.0}

RECIPE = {
    "name": "audio_tiny",
    "task": {
        "name": "audio",
        "dataset": "train.csv",
        "audio_dir": ".",
        "vocabulary": list(FREQS),
        "val_fraction": 0.0,
        "test_fraction": 0.25,
        "n_mels": 16,
        "frames": 16,
        "channels": [4, 8],
        "dropout": 0.0,
    },
    "loss": {"name": "bce"},
    "data": {"batch_size": 5, "eval_batch_size": 8},
    "optim": {"name": "adam", "lr": 0.03},
    "train": {"epochs": 3, "select_by": "last", "progress": False, "num_threads": 1},
    "detection": {"method": "none"},
}


def write_clips(root: Path, n: int = 20) -> Path:
    """Write ``clip<i>.wav`` and ``train.csv`` (``fname,labels``) under ``root``."""
    import soundfile

    rng = np.random.default_rng(0)
    rows = []
    sr = 8000
    t = np.arange(int(0.4 * sr)) / sr
    for i in range(n):
        tags = [k for k in FREQS if rng.random() < 0.4]
        wave = 0.01 * rng.normal(size=t.shape)
        for k in tags:
            wave += 0.3 * np.sin(2 * np.pi * FREQS[k] * t)
        soundfile.write(str(root / f"clip{i}.wav"), wave.astype(np.float32), sr)
        rows.append(f'clip{i}.wav,"{",".join(tags)}"')
    (root / "train.csv").write_text("fname,labels\n" + "\n".join(rows) + "\n")
    return root
