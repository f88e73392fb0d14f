"""The edge-detection task adapter (BSDS500), registered as ``"edges"``.

Splits: BSDS ``train`` minus ``val_size`` seeded images -> train, those -> val, BSDS
``test_split`` (default ``val``; ``test`` where the held-out split is present) -> test (clean:
every annotator). Images at ``height x width`` (portrait ones transposed).
Noise (``noise.kind``): ``annotator`` -- the real setting: each training / validation image
keeps ONE annotator, drawn with the seed; ``consensus`` -- pixels marked by at least
``consensus_level`` of the annotators (the clean reference of the synthetic settings);
``displacement`` / ``drop`` / ``spurious`` -- :mod:`labelnoise.common.noise.edges` applied to
the consensus labels; ``all_annotators`` -- every annotator's own map, each its own label: the
target is the annotator bitmask and items carry ``"annotators"`` (``K``; annotators are slots
``0..K-1`` of the image, BSDS has no global ids, :mod:`labelnoise.tasks.edges.annotators`); the
standard training units are then one class-balanced BCE map per (image, annotator). ``clean_target`` always carries every annotator (a bitmask, see
:mod:`labelnoise.tasks.edges.data`), so clean metrics follow the BSDS protocol.

Loss (task options): class-balanced BCE of HED (``class_balanced``; with ``loss: {name:
bce}`` or the default ``ce``, equal on two-class units); ``tolerance_radius: r`` (> 0) makes it
tolerance-aware: non-edge pixels within ``r`` of a labelled edge are ignored
(:func:`~labelnoise.tasks.edges.tolerance.tolerance_targets`; ``tolerance_pool`` also lets the
best logit within ``r`` answer for a labelled edge pixel). It applies under every method.
Training methods are the recipe's ``method:`` (:mod:`labelnoise.methods`): ``standard``,
``pnt_edge`` (:mod:`labelnoise.methods.pnt_edge`), ``ema_distill``
(:mod:`labelnoise.methods.ema_distill`); they call :meth:`EdgeAdapter.train_units` on their
own logits (and soft targets). Metrics: ODS, OIS, AP (:mod:`labelnoise.tasks.edges.metrics`);
model selection on ``ods``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from labelnoise.common._random import numpy_rng
from labelnoise.common.noise.edges import displacement_noise, drop_segments, spurious_edges
from labelnoise.common.units import IGNORE_INDEX, Units, two_class_units
from labelnoise.tasks.base import DatasetSplits, TaskAdapter
from labelnoise.tasks.edges.annotators import AnnotatorEdgeDataset, annotator_units
from labelnoise.tasks.edges.bsds import read_split
from labelnoise.tasks.edges.data import EdgeDataset, decode_bitmask, encode_bitmask, prepare
from labelnoise.tasks.edges.metrics import boundary_counts, edge_scores, thresholds_for
from labelnoise.tasks.edges.models import SmallHED
from labelnoise.tasks.edges.tolerance import class_balanced_weights, tolerance_targets

__all__ = ["EdgeAdapter", "EdgesConfig"]


@dataclass
class EdgeNoiseConfig:
    kind: Literal[
        "annotator", "consensus", "displacement", "drop", "spurious", "all_annotators"
    ] = "annotator"
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
    class_balanced: bool = True
    tolerance_radius: int = 0
    tolerance_pool: bool = False
    eval_thresholds: int = 25
    eval_correspondence: Literal["bipartite", "distance"] = "bipartite"
    noise: EdgeNoiseConfig = field(default_factory=EdgeNoiseConfig)

    def __post_init__(self) -> None:
        if self.tolerance_radius < 0:
            raise ValueError(
                f"task.tolerance_radius must be >= 0 (0: off); got {self.tolerance_radius!r}"
            )


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
        if n.kind == "all_annotators":
            return [encode_bitmask(m) for m in maps]
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
            x, t, c = [tr_x[i] for i in idx], [targets[i] for i in idx], [clean[i] for i in idx]
            if cfg.noise.kind == "all_annotators":
                return AnnotatorEdgeDataset(x, t, c, [len(tr_m[i]) for i in idx])
            return EdgeDataset(x, t, c)

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

    def build_model(self, splits: DatasetSplits | None) -> nn.Module:
        return SmallHED(width=self.config.width_mult)

    def units(
        self, model: nn.Module, batch: dict[str, Any], *, target_key: str = "target"
    ) -> Units:
        """Training (``model.training`` and the noisy ``target``): :meth:`train_units` of
        ``model(image)``, with ``batch["soft_target"]`` when a method put one there. Else one
        unit per pixel, ``pred (U, 2)`` = ``[0, logit]`` and the bitmask target."""
        image, target, ids = batch["image"], batch[target_key], batch["example_id"].long()
        if model.training and target_key == "target" and "annotators" in batch:
            if batch.get("soft_target") is not None:
                raise ValueError(
                    "task.noise.kind all_annotators takes no soft targets (method ema_distill)"
                )
            maps, image_of, _, ids = annotator_units(target, batch["annotators"], ids)
            return self.train_units(model(image)[image_of], maps, ids)
        if model.training and target_key == "target":
            return self.train_units(model(image), target, ids, soft=batch.get("soft_target"))
        x = model(image).reshape(-1)
        n, hw = image.shape[0], image.shape[-2] * image.shape[-1]
        per_unit = ids.view(n, 1).expand(n, hw).reshape(-1)
        return Units(torch.stack([torch.zeros_like(x), x], 1), target.reshape(-1), per_unit)

    def train_units(
        self, logits: Tensor, target: Tensor, example_id: Tensor, *, soft: Tensor | None = None
    ) -> Units:
        """Two-class training units of edge ``logits (N, 1, H, W)`` and the 0/1 ``target``
        (same shape): the tolerance relaxation (``tolerance_radius``; ignored pixels are
        dropped), then HED's class-balanced weights of the relaxed target
        (``class_balanced``). ``soft``: float targets in ``[0, 1]`` of the same shape (an EMA
        teacher's mix) used instead of ``target`` on the kept pixels."""
        cfg = self.config
        if cfg.tolerance_radius:
            logits, target = tolerance_targets(
                logits, target, radius=cfg.tolerance_radius, pool_positives=cfg.tolerance_pool
            )
        keep = target.reshape(-1) != IGNORE_INDEX
        if soft is not None and soft.is_floating_point():
            soft = torch.where(target == IGNORE_INDEX, soft.new_tensor(0.0), soft)
            u = two_class_units(logits, soft, example_id=example_id)
            u = Units(u.pred[keep], u.target[keep], u.example_id[keep])
        else:
            u = two_class_units(logits, target, example_id=example_id)
        if not cfg.class_balanced:
            return u
        w = class_balanced_weights(target).reshape(-1)[keep]
        return Units(u.pred, u.target, u.example_id, w)

    def eval_units(self, units: Units) -> Units:
        prob = torch.sigmoid(units.pred[:, 1] - units.pred[:, 0])[:, None]
        return Units(prob, units.target, units.example_id)

    def metrics(self, units: Units) -> dict[str, float]:
        """ODS / OIS / AP of ``units.pred (U, 1)`` probabilities (or ``(U, 2)`` logits) against
        bitmask targets, all annotators of each image."""
        cfg = self.config
        pred = units.pred.float()
        prob_t = pred[:, 0] if pred.shape[1] == 1 else torch.sigmoid(pred[:, 1] - pred[:, 0])
        ids = units.example_id.numpy()
        order = np.argsort(ids, kind="stable")
        _, starts = np.unique(ids[order], return_index=True)
        bounds = [*starts.tolist(), len(ids)]
        hw = cfg.height * cfg.width
        prob, target = prob_t.numpy()[order], units.target.numpy()[order]
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
