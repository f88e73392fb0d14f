"""The audio-tagging task adapter (registered as ``"audio"``).

Data (``dataset``):

- ``fsdd``: the Free Spoken Digit Dataset under ``data_dir/fsdd/recordings`` as a 10-tag task
  (one tag per clip); speaker-disjoint split: ``test_speakers`` form the clean test split.
- a table (``.csv`` / ``.json`` / ``.jsonl`` / ``.parquet``) or a saved Hugging Face dataset
  with ``audio_column`` (paths or ``Audio`` cells) and ``tags_column`` (tag lists), the
  user's ids in ``id_column`` (:mod:`~labelnoise.tasks.audio.tables`);
- a ``fname,labels`` CSV (FSDKaggle2019 / DCASE 2019 Task 2 format), relative to
  ``data_dir``; audio in ``audio_dir`` (default: the folder named like the CSV, as
  ``train_curated.csv`` -> ``train_curated/``). ``noisy_csv`` adds clips flagged noisy,
  ``test_csv`` gives the test split (else ``test_fraction`` of the clips).

Units (``units``): each tag of a clip is a two-class unit
(:func:`~labelnoise.common.units.two_class_units`), or, with ``units: clip``, each clip is one
``K``-class unit with its tag set normalised to sum 1 as soft target (the core's ``ce`` is then
the multi-label softmax loss; :mod:`~labelnoise.tasks.audio.units`). ``clip`` units are the
training units only: in eval mode (metrics, label-issue detection) units stay per tag.
Curated clips can weigh ``curated_weight`` (a per-unit weight of the task, applied by every
method's step; per-tag small-loss selection that always keeps curated clips is the method
``per_tag_small_loss``). ``holdout`` trains on all training clips but one fold and tests on
that fold (out-of-sample predictions for label-issue detection). Noise: the core's
:func:`~labelnoise.common.noise.multilabel_noise` on the non-curated training and validation
clips. Metrics: lwlrap (primary) and mAP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from labelnoise.common._checks import check_rate
from labelnoise.common._random import make_generator
from labelnoise.common.noise import multilabel_noise
from labelnoise.common.units import Units
from labelnoise.tasks._hf import is_table_source
from labelnoise.tasks.audio.dataset import AugmentParams, ClipDataset
from labelnoise.tasks.audio.features import LazyLogMels, LogMelParams, cached_log_mels
from labelnoise.tasks.audio.metrics import clip_scores, lwlrap, mean_average_precision
from labelnoise.tasks.audio.model import build_audio_model
from labelnoise.tasks.audio.readers import (
    ClipRecord,
    load_clips,
    multi_hot,
    read_fsdd,
    read_tag_csv,
)
from labelnoise.tasks.audio.tables import is_fsdkaggle_csv, read_tag_table
from labelnoise.tasks.audio.units import UnitsKind, tag_units
from labelnoise.tasks.base import DatasetSplits, TaskAdapter

__all__ = [
    "AudioAdapter",
    "AudioConfig",
    "HoldoutConfig",
    "TagNoiseConfig",
    "holdout_split",
    "tag_noise_rates",
]


@dataclass
class TagNoiseConfig:
    """Simulated tag noise on non-curated training and validation clips.

    ``rate`` r: each positive tag goes missing with probability r, and spurious tags are
    added at ``add_rate`` so that they number r times the positive tags on average (so
    "40 % tag noise" = 40 % of the tags missing plus as many spurious tags as 40 % of the
    tags). ``drop_rate`` / ``add_rate`` override either part; ``swap_rate`` as the core.
    """

    kind: Literal["none", "tags"] = "none"
    rate: float = 0.0
    drop_rate: float | None = None
    add_rate: float | None = None
    swap_rate: float = 0.0
    seed: int | None = None


@dataclass
class HoldoutConfig:
    """Cross-validated predictions of the training clips.

    With ``folds >= 2`` the training split is partitioned into ``folds`` seeded folds
    (:func:`holdout_split`); the run trains on every fold but ``fold`` and its test split is
    fold ``fold`` itself (noisy tags as ``target``, clean tags as ``clean_target``), so the
    trained model predicts those clips out of sample (K-fold label-issue detection;
    ``benchmarks/audio_fsdd.py``). ``folds = 0`` (default): off. ``seed``: the partition's
    (default: the run seed + 17).
    """

    folds: int = 0
    fold: int = 0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.folds != 0 and self.folds < 2:
            raise ValueError(f"task.holdout.folds must be 0 (off) or >= 2; got {self.folds!r}")
        if self.folds and not 0 <= self.fold < self.folds:
            raise ValueError(
                f"task.holdout.fold must be in [0, {self.folds - 1}]; got {self.fold!r}"
            )


def holdout_split(n: int, *, folds: int, fold: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(kept, held)``: sorted positions in ``range(n)`` outside / inside fold ``fold`` of a
    ``folds``-way partition drawn with ``seed`` (``torch.randperm`` chunked in order)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    held = torch.zeros(n, dtype=torch.bool)
    held[torch.chunk(perm, folds)[fold]] = True
    return (~held).nonzero().squeeze(1), held.nonzero().squeeze(1)


@dataclass
class AudioConfig:
    """Options of the audio-tagging task (a recipe's ``task:`` section); see module doc."""

    dataset: str = "fsdd"
    audio_column: str = "audio"
    tags_column: str = "tags"
    id_column: str | None = None
    split: str = "train"
    test_split: str = "test"
    audio_dir: str | None = None
    noisy_csv: str | None = None
    test_csv: str | None = None
    vocabulary: list[str] | None = None
    test_speakers: list[str] = field(default_factory=lambda: ["theo", "yweweler"])
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    curated_fraction: float = 0.0
    curated_weight: float = 1.0
    units: UnitsKind = "tags"
    skip_bad_files: bool = False
    sample_rate: int = 8000
    n_fft: int = 256
    hop_length: int = 128
    n_mels: int = 40
    frames: int = 48
    cache_dir: str | None = None
    augment: bool = True
    spec_augment: bool = True
    channels: list[int] = field(default_factory=lambda: [16, 32, 64])
    dropout: float = 0.2
    backbone: str | None = None
    noise: TagNoiseConfig = field(default_factory=TagNoiseConfig)
    holdout: HoldoutConfig = field(default_factory=HoldoutConfig)


def tag_noise_rates(clean: torch.Tensor, rate: float) -> tuple[float, float]:
    """``(drop_rate, add_rate)`` for "``rate`` tag noise" on ``clean (N, K)`` (see
    :class:`TagNoiseConfig`)."""
    rate = check_rate("rate", rate)
    k = clean.shape[1]
    pos = float(clean.sum(1).mean())
    add = rate * pos / max(k - pos, 1e-12)
    return rate, min(add, 0.999)


class AudioAdapter(TaskAdapter):
    """Audio tagging with noisy labels; items of :class:`ClipDataset`."""

    name = "audio"
    Config = AudioConfig

    def _records(
        self, data_dir: Path | None
    ) -> tuple[list[ClipRecord], list[ClipRecord] | None, list[str]]:
        cfg = self.config
        root = Path(data_dir) if data_dir is not None else Path(".")
        if cfg.dataset == "fsdd":
            records, vocab = read_fsdd(root / "fsdd" / "recordings")
            test_spk = set(cfg.test_speakers)
            known = {r.speaker for r in records}
            if not test_spk <= known:
                raise ValueError(
                    f"test_speakers must be FSDD speakers {sorted(str(s) for s in known)}; "
                    f"got {sorted(test_spk)}"
                )
            train = [r for r in records if r.speaker not in test_spk]
            return train, [r for r in records if r.speaker in test_spk], vocab
        csv_path = root / cfg.dataset
        if is_table_source(csv_path) and not is_fsdkaggle_csv(csv_path):
            return read_tag_table(
                csv_path,
                audio_column=cfg.audio_column,
                tags_column=cfg.tags_column,
                id_column=cfg.id_column,
                vocabulary=cfg.vocabulary,
                split=cfg.split,
                test_split=cfg.test_split,
            )
        audio = root / cfg.audio_dir if cfg.audio_dir else csv_path.with_suffix("")
        records, vocab = read_tag_csv(csv_path, audio, vocabulary=cfg.vocabulary)
        if cfg.noisy_csv:
            p = root / cfg.noisy_csv
            noisy, _ = read_tag_csv(p, p.with_suffix(""), vocabulary=vocab, curated=False)
            records += noisy
        test = None
        if cfg.test_csv:
            p = root / cfg.test_csv
            test, _ = read_tag_csv(p, p.with_suffix(""), vocabulary=vocab, curated=True)
        return records, test, vocab

    def _features(
        self, records: list[ClipRecord], info: dict[str, Any], split: str
    ) -> tuple[list, list[ClipRecord]]:
        cfg = self.config
        loaded = load_clips(records, sample_rate=cfg.sample_rate, skip_bad=cfg.skip_bad_files)
        info[f"{split}_skipped_files"] = len(loaded.skipped)
        info[f"{split}_resampled_files"] = loaded.resampled
        kept = [records[i] for i in loaded.kept]
        if not kept:
            raise ValueError(f"{split} split must hold at least one readable clip; got 0")
        if cfg.cache_dir is None:
            return loaded.waves, kept
        params = LogMelParams(cfg.sample_rate, cfg.n_fft, cfg.hop_length, cfg.n_mels)
        key = "\n".join(str(r.path) for r in kept)
        return cached_log_mels(loaded.waves, params, cache_dir=cfg.cache_dir, key=key), kept

    def _pick(self, source: list, idx: Any) -> Any:
        """Features of clips ``idx``: from the cache, or computed lazily from waveforms."""
        cfg = self.config
        chosen = [source[int(i)] for i in idx]
        if cfg.cache_dir is not None:
            return chosen
        return LazyLogMels(
            chosen, LogMelParams(cfg.sample_rate, cfg.n_fft, cfg.hop_length, cfg.n_mels)
        )

    def build_datasets(self, data_dir: Path | None, *, seed: int) -> DatasetSplits:
        cfg = self.config
        for name in ("val_fraction", "test_fraction", "curated_fraction"):
            check_rate(name, getattr(cfg, name))
        train_recs, test_recs, vocab = self._records(data_dir)
        info: dict[str, Any] = {}
        feats, train_recs = self._features(train_recs, info, "train")
        clean = multi_hot(train_recs, vocab)
        g = make_generator(seed)
        n = len(train_recs)
        curated = torch.tensor([r.curated for r in train_recs])
        if cfg.curated_fraction > 0:
            curated |= torch.rand(n, generator=g) < cfg.curated_fraction
        target = clean.clone()
        if cfg.noise.kind == "tags":
            drop, add = tag_noise_rates(clean, cfg.noise.rate)
            drop = drop if cfg.noise.drop_rate is None else cfg.noise.drop_rate
            add = add if cfg.noise.add_rate is None else cfg.noise.add_rate
            seed_n = seed if cfg.noise.seed is None else cfg.noise.seed
            noisy = multilabel_noise(
                clean, drop_rate=drop, add_rate=add, swap_rate=cfg.noise.swap_rate, seed=seed_n
            ).noisy
            target = torch.where(curated[:, None], clean, noisy)
            info.update(drop_rate=drop, add_rate=add)
        info["tag_noise_rate"] = float((target != clean).float().mean())
        info["curated_clips"] = int(curated.sum())
        perm = torch.randperm(n, generator=g)
        if test_recs is None:
            n_test = int(round(cfg.test_fraction * n))
            test_idx, perm = perm[:n_test], perm[n_test:]
            test_feats, test_y = self._pick(feats, test_idx), clean[test_idx]
        else:
            test_src, kept = self._features(test_recs, info, "test")
            test_feats, test_y = self._pick(test_src, range(len(kept))), multi_hot(kept, vocab)
        n_val = int(round(cfg.val_fraction * len(perm)))
        val_idx, tr_idx = perm[:n_val].sort().values, perm[n_val:].sort().values
        aug = None
        if cfg.augment:
            aug = AugmentParams(
                freq_masks=2 if cfg.spec_augment else 0, time_masks=2 if cfg.spec_augment else 0
            )

        def subset(idx: torch.Tensor, augment: AugmentParams | None) -> ClipDataset:
            ds = ClipDataset(
                self._pick(feats, idx),
                target[idx],
                clean=clean[idx],
                curated=curated[idx],
                frames=cfg.frames,
                augment=augment,
                seed=seed,
            )
            # the user's id of each clip (label_issues.csv joins on it)
            ds.ids = [train_recs[int(i)].uid or train_recs[int(i)].path.name for i in idx]
            return ds

        test = ClipDataset(test_feats, test_y, frames=cfg.frames)
        if cfg.holdout.folds:
            h = cfg.holdout
            in_train, held = holdout_split(
                len(tr_idx),
                folds=h.folds,
                fold=h.fold,
                seed=seed + 17 if h.seed is None else h.seed,
            )
            test, tr_idx = subset(tr_idx[held], None), tr_idx[in_train]
            info["holdout_clips"] = len(held)
        info.update(train_clips=len(tr_idx), val_clips=len(val_idx), test_clips=len(test))
        return DatasetSplits(
            train=subset(tr_idx, aug),
            val=subset(val_idx, None) if n_val else None,
            test=test,
            num_classes=2,
            class_names=vocab,
            info=info,
        )

    def build_model(self, splits: DatasetSplits) -> nn.Module:
        cfg = self.config
        return build_audio_model(
            len(splits.class_names or []),
            n_mels=cfg.n_mels,
            backbone=cfg.backbone,
            channels=tuple(cfg.channels),
            dropout=cfg.dropout,
        )

    def units(
        self, model: nn.Module, batch: dict[str, Any], *, target_key: str = "target"
    ) -> Units:
        logits = model(batch["x"])
        ids = torch.as_tensor(batch["example_id"], device=logits.device).long()
        kind: UnitsKind = self.config.units if model.training else "tags"
        u = tag_units(logits, batch[target_key], example_id=ids, kind=kind)
        if self.config.curated_weight == 1.0 or "curated" not in batch:
            return u
        cur = batch["curated"].bool()
        cur = cur.repeat_interleave(logits.shape[1]) if kind == "tags" else cur
        w = torch.where(cur, self.config.curated_weight, 1.0).to(logits.dtype)
        return Units(u.pred, u.target, u.example_id, w if u.weight is None else w * u.weight)

    def metrics(self, units: Units) -> dict[str, float]:
        if len(units) == 0:
            return {"lwlrap": float("nan"), "mAP": float("nan")}
        k = int(torch.bincount(units.example_id).max())
        _, logits = clip_scores(units.pred, units.example_id, k)
        order = torch.sort(units.example_id, stable=True).indices
        truth = units.target[order].reshape(-1, k)
        return {"lwlrap": lwlrap(logits, truth), "mAP": mean_average_precision(logits, truth)}

    @property
    def primary_metric(self) -> str:
        return "lwlrap"
