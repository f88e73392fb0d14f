"""The edge-detection task adapter (BSDS500), registered as ``"edges"``.

Splits: BSDS ``train`` minus ``val_size`` seeded images -> train, those -> val, BSDS
``test_split`` (default ``val``; ``test`` where the held-out split is present) -> test (clean:
every annotator). Images at ``height x width`` (portrait ones transposed).
Noise (``noise.kind``): ``annotator`` -- the real setting: each training / validation image
keeps ONE annotator, drawn with the seed; ``consensus`` -- pixels marked by at least
``consensus_level`` of the annotators (the clean reference of the synthetic settings);
``displacement`` / ``drop`` / ``spurious`` -- :mod:`labelnoise.common.noise.edges` applied to
the consensus labels. ``clean_target`` always carries every annotator (a bitmask, see
:mod:`labelnoise.tasks.edges.data`), so clean metrics follow the BSDS protocol.

Methods (``method``): ``ce`` -- class-balanced BCE of HED (with ``loss: {name: bce}`` or the
default ``ce``, equal on two-class units); ``tolerance`` -- :func:`tolerance_targets`;
``pnt_edge`` -- :class:`~labelnoise.tasks.edges.pnt_edge.PNTEdgeNet`; ``ema_distill`` --
:class:`~labelnoise.tasks.edges.self_distill.MeanTeacherEdgeNet`; ``relax_negatives: r``
ignores non-edge pixels within ``r`` of a labelled edge for any method. Metrics: ODS, OIS, AP
(:mod:`labelnoise.tasks.edges.metrics`); model selection on ``ods``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from labelnoise.common._random import numpy_rng
from labelnoise.common.noise.edges import displacement_noise, drop_segments, spurious_edges
from labelnoise.common.units import IGNORE_INDEX, Units, two_class_units
from labelnoise.tasks.base import DatasetSplits, TaskAdapter
from labelnoise.tasks.edges.bsds import read_split
from labelnoise.tasks.edges.data import EdgeDataset, decode_bitmask, encode_bitmask, prepare
from labelnoise.tasks.edges.metrics import boundary_counts, edge_scores, thresholds_for
from labelnoise.tasks.edges.models import SmallHED
from labelnoise.tasks.edges.pnt_edge import PNTEdgeNet
from labelnoise.tasks.edges.self_distill import MeanTeacherEdgeNet
from labelnoise.tasks.edges.tolerance import class_balanced_weights, tolerance_targets

__all__ = ["EdgeAdapter", "EdgesConfig"]


@dataclass
class EdgeNoiseConfig:
    kind: Literal["annotator", "consensus", "displacement", "drop", "spurious"] = "annotator"
    consensus_level: float = 0.5
    max_shift: float = 2.0
    smoothness: float = 8.0
    rate: float = 0.3
    seed: int | None = None


@dataclass
class EdgesConfig:
    dataset: str = "bsds500"
    height: int = 96
    width: int = 144
    val_size: int = 20
    test_split: str = "val"
    width_mult: int = 16
    method: Literal["ce", "tolerance", "pnt_edge", "ema_distill"] = "ce"
    class_balanced: bool = True
    tolerance_radius: int = 1
    tolerance_pool: bool = False
    relax_negatives: int = 0
    pnt_max_shift: float = 4.0
    pnt_density_weight: float = 1.0
    pnt_window: int = 7
    pnt_warmup_epochs: float = 2.0
    distill_alpha: float = 0.8
    distill_decay: float = 0.99
    distill_warmup_epochs: float = 2.0
    distill_ramp_epochs: float = 4.0
    distill_eval_teacher: bool = False
    eval_thresholds: int = 25
    eval_correspondence: Literal["bipartite", "distance"] = "bipartite"
    noise: EdgeNoiseConfig = field(default_factory=EdgeNoiseConfig)


@lru_cache(maxsize=4)
def _load(root: str, split: str, size: tuple[int, int]) -> tuple[list, list]:
    """Prepared images and annotator maps of a split (cached per process)."""
    images, maps = [], []
    for item in read_split(root, split):
        x, m = prepare(item, size)
        images.append(x)
        maps.append(m)
    return images, maps


class EdgeAdapter(TaskAdapter):
    name = "edges"
    Config = EdgesConfig

    def _targets(self, maps: list[np.ndarray], rng: np.random.Generator, seed: int) -> list:
        n = self.config.noise
        if n.kind == "annotator":
            return [m[rng.integers(len(m))].astype(np.int64) for m in maps]
        labels = [(m.mean(0) >= n.consensus_level).astype(np.int64) for m in maps]
        if n.kind == "consensus":
            return labels
        out = []
        for i, lab in enumerate(labels):
            s = seed * 100_003 + i
            if n.kind == "displacement":
                r = displacement_noise(lab, max_shift=n.max_shift, smoothness=n.smoothness, seed=s)
            elif n.kind == "drop":
                r = drop_segments(lab, rate=n.rate, seed=s)
            else:
                r = spurious_edges(lab, rate=n.rate, seed=s)
            out.append(r.noisy.numpy())
        return out

    def build_datasets(self, data_dir: Path | None, *, seed: int) -> DatasetSplits:
        cfg = self.config
        if data_dir is None:
            raise FileNotFoundError("edges needs data.data_dir (the folder holding bsds500/)")
        root = Path(data_dir) / cfg.dataset
        if not (root / "images").is_dir():
            raise FileNotFoundError(f"BSDS500 folder not found: {root}")
        if cfg.height % 4 or cfg.width % 4:
            raise ValueError(
                f"height and width must be multiples of 4; got {cfg.height}x{cfg.width}"
            )
        size = (cfg.height, cfg.width)
        tr_x, tr_m = _load(str(root), "train", size)
        te_x, te_m = _load(str(root), cfg.test_split, size)
        noise_seed = cfg.noise.seed if cfg.noise.seed is not None else seed
        rng = numpy_rng(noise_seed)
        perm = rng.permutation(len(tr_x))
        va_idx, tr_idx = perm[: cfg.val_size], perm[cfg.val_size :]
        targets = self._targets(tr_m, rng, noise_seed)
        clean = [encode_bitmask(m) for m in tr_m]

        def subset(idx: np.ndarray) -> EdgeDataset:
            return EdgeDataset(
                [tr_x[i] for i in idx], [targets[i] for i in idx], [clean[i] for i in idx]
            )

        test_clean = [encode_bitmask(m) for m in te_m]
        train = subset(tr_idx)
        agree = np.mean(
            [(t > 0).sum() / max(int((c > 0).sum()), 1) for t, c in zip(train.target, train.clean)]
        )
        return DatasetSplits(
            train=train,
            val=subset(va_idx),
            test=EdgeDataset(te_x, test_clean, test_clean),
            num_classes=2,
            class_names=["background", "edge"],
            info={"noise": cfg.noise.kind, "label_to_union_pixel_ratio": float(agree)},
        )

    def build_model(self, splits: DatasetSplits) -> nn.Module:
        cfg = self.config
        net = SmallHED(width=cfg.width_mult)
        n_train = len(splits.train) if splits is not None else 0
        if cfg.method == "pnt_edge":
            net = PNTEdgeNet(
                net,
                max_shift=cfg.pnt_max_shift,
                density_weight=cfg.pnt_density_weight,
                window=cfg.pnt_window,
                warmup_images=round(cfg.pnt_warmup_epochs * n_train),
            )
        elif cfg.method == "ema_distill":
            net = MeanTeacherEdgeNet(
                net,
                decay=cfg.distill_decay,
                alpha=cfg.distill_alpha,
                warmup_images=round(cfg.distill_warmup_epochs * n_train),
                ramp_images=round(cfg.distill_ramp_epochs * n_train),
                eval_teacher=cfg.distill_eval_teacher,
            )
        return net

    def units(
        self, model: nn.Module, batch: dict[str, Any], *, target_key: str = "target"
    ) -> Units:
        cfg, image = self.config, batch["image"]
        target, ids = batch[target_key], batch["example_id"].long()
        if model.training and target_key == "target":
            net = getattr(model, "module", model)
            soft = None
            if cfg.method == "pnt_edge":
                logits, _ = net.noisy_logits(image, target)
            elif cfg.method == "ema_distill":
                logits, soft = net.train_logits(image, target)
            else:
                logits = model(image)
            if cfg.method == "tolerance":
                logits, target = tolerance_targets(
                    logits, target, radius=cfg.tolerance_radius, pool_positives=cfg.tolerance_pool
                )
            elif cfg.relax_negatives:
                logits, target = tolerance_targets(
                    logits, target, radius=cfg.relax_negatives, pool_positives=False
                )
            keep = target.reshape(-1) != IGNORE_INDEX
            if soft is not None and soft.is_floating_point():
                soft = torch.where(target == IGNORE_INDEX, soft.new_tensor(0.0), soft)
                u = two_class_units(logits, soft, example_id=ids)
                u = Units(u.pred[keep], u.target[keep], u.example_id[keep])
            else:
                u = two_class_units(logits, target, example_id=ids)
            if not cfg.class_balanced:
                return u
            w = class_balanced_weights(target).reshape(-1)[keep]
            return Units(u.pred, u.target, u.example_id, w)
        x = model(image).reshape(-1)
        n, hw = image.shape[0], image.shape[-2] * image.shape[-1]
        per_unit = ids.view(n, 1).expand(n, hw).reshape(-1)
        return Units(torch.stack([torch.zeros_like(x), x], 1), target.reshape(-1), per_unit)

    def eval_units(self, units: Units) -> Units:
        prob = torch.sigmoid(units.pred[:, 1] - units.pred[:, 0])[:, None]
        return Units(prob, units.target, units.example_id)

    def metrics(self, units: Units) -> dict[str, float]:
        """ODS / OIS / AP of ``units.pred (U, 1)`` probabilities (or ``(U, 2)`` logits) against
        bitmask targets, all annotators of each image."""
        cfg = self.config
        pred = units.pred.float()
        prob = pred[:, 0] if pred.shape[1] == 1 else torch.sigmoid(pred[:, 1] - pred[:, 0])
        ids = units.example_id.numpy()
        order = np.argsort(ids, kind="stable")
        _, starts = np.unique(ids[order], return_index=True)
        bounds = [*starts.tolist(), len(ids)]
        hw = cfg.height * cfg.width
        prob, target = prob.numpy()[order], units.target.numpy()[order]
        ts = thresholds_for(cfg.eval_thresholds)
        counts = []
        for a, b in zip(bounds[:-1], bounds[1:]):
            if b - a != hw:
                raise ValueError(f"units per image must be {cfg.height}x{cfg.width}; got {b - a}")
            counts.append(
                boundary_counts(
                    prob[a:b].reshape(cfg.height, cfg.width),
                    decode_bitmask(target[a:b].reshape(cfg.height, cfg.width)),
                    thresholds=ts,
                    method=cfg.eval_correspondence,
                )
            )
        s = edge_scores(np.stack(counts), ts)
        return {"ods": s["ods"], "ois": s["ois"], "ap": s["ap"]}

    @property
    def primary_metric(self) -> str:
        return "ods"
