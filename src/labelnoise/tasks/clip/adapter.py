"""The CLIP prompt-tuning task: few-shot image classification with a frozen CLIP under label
noise (``task: {name: clip, ...}`` in a recipe).

Data: ``dataset: cifar10`` (the CIFAR-10 JPEG zips under the data root, with the real human
labels of CIFAR-10N via ``noise: {kind: cifar10n, label_set: worst}``) or an ImageFolder
directory (``root/train/<class>/*`` and ``root/test/<class>/*``, or one ``root/<class>/*``
folder whose images not drawn for training form the test split). ``shots`` images per class
are drawn by their noisy labels for training, ``val_shots`` more for (noisy) validation; the
test split keeps its clean labels.

Methods (the recipe's ``loss`` picks CE or a robust loss such as GCE):

* ``head: coop`` -- CoOp prompt tuning (:class:`~labelnoise.tasks.clip.coop.PromptLearner`);
* ``head: linear_probe`` -- a linear layer on the frozen image features;
* zero-shot CLIP -- ``head: coop`` with ``ctx_init: "a photo of a"`` and ``optim.lr: 0``
  (the prompt is then exactly the zero-shot template);
* ``labels: pseudo`` -- PTNL's unsupervised mode (Wu et al., ICCV 2023): the training labels
  are CLIP's own zero-shot predictions, the ``shots`` most confident per class.

The frozen image features are encoded once when the datasets are built (``cache_features``);
items then carry ``image_features (D,)`` instead of ``pixel_values (3, H, W)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from labelnoise.common.units import Units
from labelnoise.tasks.base import DatasetSplits, TaskAdapter
from labelnoise.tasks.clip.backbone import ClipBackbone, encode_images, load_clip, preprocess
from labelnoise.tasks.clip.coop import ClipClassifier, zeroshot_text_features
from labelnoise.tasks.clip.data import k_shot_split, top_confident_per_class
from labelnoise.tasks.clip.sources import (
    ClipNoiseConfig,
    first_per_class,
    interleave_classes,
    read_pool,
)

__all__ = ["ClipAdapter", "ClipConfig", "ClipItems", "ClipNoiseConfig"]


@dataclass
class ClipConfig:
    """Options of the CLIP task (a recipe's ``task:`` section).

    Attributes:
        model: ``tiny-random`` (2-layer random CLIP, offline), a local checkpoint folder or a
            hub id such as ``openai/clip-vit-base-patch32``.
        dataset: ``cifar10`` or an ImageFolder directory (relative paths: under the data root).
        class_names: names used in the prompts, one per class (default: the dataset's).
        shots: training images per class (k-shot, drawn by the noisy labels).
        val_shots: validation images per class (noisy labels too).
        with_replacement: draw the shots with replacement when a class is too small.
        test_per_class: keep the first this many test images per class (``None``: all).
        labels: ``noisy`` (the pool's labels) or ``pseudo`` (PTNL: CLIP zero-shot labels).
        pseudo_pool: images scored by the zero-shot pseudo-labeller (a seeded random subset
            of the training pool; ``None``: all).
        head: ``coop`` or ``linear_probe``.
        n_ctx: CoOp context length (ignored with ``ctx_init``).
        ctx_init: initial context words (e.g. ``a photo of a``); ``None``: random.
        class_specific: one context per class (CoOp's CSC).
        template: zero-shot prompt (pseudo-labels, linear-probe init, zero-shot accuracy).
        cache_features: encode the frozen image features once (else every step).
        encode_batch_size: images per forward pass when encoding.
        device: where to encode the features (``None``: CUDA when available).
        noise: see :class:`ClipNoiseConfig`.
    """

    model: str = "tiny-random"
    dataset: str = "cifar10"
    class_names: list[str] | None = None
    shots: int = 16
    val_shots: int = 4
    with_replacement: bool = False
    test_per_class: int | None = None
    labels: Literal["noisy", "pseudo"] = "noisy"
    pseudo_pool: int | None = None
    head: Literal["coop", "linear_probe"] = "coop"
    n_ctx: int = 16
    ctx_init: str | None = None
    class_specific: bool = False
    template: str = "a photo of a {}."
    cache_features: bool = True
    encode_batch_size: int = 256
    device: str | None = None
    noise: ClipNoiseConfig = field(default_factory=ClipNoiseConfig)


class ClipItems(Dataset):
    """Items ``{"image_features" | "pixel_values", "target", "clean_target", "example_id"}``.

    Args:
        target, clean: ``(N,)`` long labels.
        features: ``(N, D)`` cached image features, or None to decode and preprocess
            ``source.image(indices[i])`` on every access.
    """

    def __init__(
        self,
        target: torch.Tensor,
        clean: torch.Tensor,
        *,
        features: torch.Tensor | None = None,
        source: Any = None,
        indices: np.ndarray | None = None,
        backbone: ClipBackbone | None = None,
    ) -> None:
        self.target, self.clean, self.features = target, clean, features
        self.source, self.indices, self.backbone = source, indices, backbone

    def __len__(self) -> int:
        return int(self.target.shape[0])

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = {"target": self.target[i], "clean_target": self.clean[i], "example_id": i}
        if self.features is not None:
            item["image_features"] = self.features[i]
        else:
            # uncached items are built with source, indices and backbone (ClipAdapter._items)
            assert self.indices is not None and self.backbone is not None
            image = self.source.image(int(self.indices[i]))
            item["pixel_values"] = preprocess(self.backbone, [image])[0]
        return item


class ClipAdapter(TaskAdapter):
    """Few-shot classification with a frozen CLIP: one unit per image, logits ``(N, C)``."""

    name = "clip"
    Config = ClipConfig

    def __init__(self, config: ClipConfig) -> None:
        super().__init__(config)
        self._backbone: ClipBackbone | None = None

    @property
    def backbone(self) -> ClipBackbone:
        """The frozen CLIP, loaded once and shared by every model of this adapter."""
        if self._backbone is None:
            self._backbone = load_clip(self.config.model)
        return self._backbone

    def build_datasets(self, data_dir: Path | None, *, seed: int) -> DatasetSplits:
        cfg: ClipConfig = self.config
        pool, noisy, test_source, noise_info = read_pool(cfg.dataset, cfg.noise, data_dir, seed)
        names = _class_names(cfg, pool)
        num_classes = len(names)
        clean = torch.as_tensor(pool.labels, dtype=torch.long)
        backbone = self.backbone
        device = cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")
        encode = lambda src, idx: encode_images(  # noqa: E731
            backbone, src.image, idx, batch_size=cfg.encode_batch_size, device=device
        )
        text = zeroshot_text_features(backbone, names, cfg.template)
        scale = backbone.clip.logit_scale.exp().float().cpu()
        info: dict[str, Any] = {"model": backbone.name, "num_classes": num_classes, **noise_info}
        drawn: Mapping[str, tuple[np.ndarray, torch.Tensor, torch.Tensor | None]]
        if cfg.labels == "pseudo":
            drawn = _pseudo_label_shots(cfg, pool, encode, scale * text.cpu(), seed)
        else:
            tr, va = k_shot_split(
                noisy,
                cfg.shots,
                num_classes=num_classes,
                val_shots=cfg.val_shots,
                seed=seed,
                with_replacement=cfg.with_replacement,
                class_names=tuple(names),
            )
            drawn = {
                "train": (tr, torch.from_numpy(noisy[tr]), None),
                "val": (va, torch.from_numpy(noisy[va]), None),
            }
        if test_source is None:  # one folder: the images drawn for nothing else are the test
            used = np.zeros(len(pool), bool)
            used[np.concatenate([drawn["train"][0], drawn["val"][0]])] = True
            test_source, test_idx = pool, np.flatnonzero(~used)
        else:
            test_idx = np.arange(len(test_source))
        test_idx = test_idx[first_per_class(test_source.labels[test_idx], cfg.test_per_class)]
        test_idx = test_idx[interleave_classes(test_source.labels[test_idx])]
        test_clean = torch.as_tensor(test_source.labels, dtype=torch.long)
        items = {}
        for split, (idx, target, feats) in drawn.items():
            o = interleave_classes(target)
            feats = None if feats is None else feats[o]
            items[split] = self._items(pool, idx[o], target[o], clean[idx[o]], feats, encode)
        items["test"] = self._items(
            test_source, test_idx, test_clean[test_idx], test_clean[test_idx], None, encode
        )
        train = items["train"]
        info |= {
            "num_train": len(train),
            "num_val": len(items["val"]),
            "num_test": len(items["test"]),
            "noise_rate_train": float((train.target != train.clean).double().mean()),
        }
        if cfg.labels == "pseudo":
            info["pseudo_label_accuracy"] = 1.0 - info["noise_rate_train"]
        test = items["test"]
        if test.features is not None and len(test):
            zs = (F.normalize(test.features, dim=-1) @ text.cpu().t()).argmax(-1)
            info["zeroshot_test_accuracy"] = float((zs == test.clean).double().mean())
        return DatasetSplits(train, items["val"], test, num_classes, list(names), info)

    def _items(
        self,
        source: Any,
        idx: np.ndarray,
        target: torch.Tensor,
        clean: torch.Tensor,
        features: torch.Tensor | None,
        encode: Any,
    ) -> ClipItems:
        if self.config.cache_features:
            if features is None:
                features = encode(source, idx)
            return ClipItems(target.long(), clean, features=features)
        return ClipItems(target.long(), clean, source=source, indices=idx, backbone=self.backbone)

    def build_model(self, splits: DatasetSplits) -> ClipClassifier:
        cfg: ClipConfig = self.config
        assert splits.class_names is not None  # build_datasets always names the classes
        return ClipClassifier(
            self.backbone,
            splits.class_names,
            head=cfg.head,
            n_ctx=cfg.n_ctx,
            ctx_init=cfg.ctx_init,
            class_specific=cfg.class_specific,
            template=cfg.template,
        )

    def units(self, model: Any, batch: dict[str, Any], *, target_key: str = "target") -> Units:
        if "image_features" in batch:
            logits = model(image_features=batch["image_features"])
        else:
            logits = model(pixel_values=batch["pixel_values"])
        return Units(logits, batch[target_key].long(), batch["example_id"].long())


def _pseudo_label_shots(
    cfg: ClipConfig, pool: Any, encode: Any, classifier: torch.Tensor, seed: int
) -> dict[str, tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
    """PTNL's unsupervised mode: zero-shot CLIP labels ``cfg.pseudo_pool`` images of the pool
    (seeded subset; all when None) and keeps the ``shots`` (train) and next ``val_shots``
    (val) most confident images per predicted class. Returns ``split -> (pool index,
    pseudo-label, cached features)``."""
    cand = np.arange(len(pool))
    if cfg.pseudo_pool is not None and cfg.pseudo_pool < len(cand):
        cand = np.sort(np.random.default_rng(seed).choice(cand, cfg.pseudo_pool, replace=False))
    feats = encode(pool, cand)
    probs = (F.normalize(feats, dim=-1) @ classifier.t()).softmax(-1)
    top, pseudo = top_confident_per_class(probs, cfg.shots + cfg.val_shots)
    pick = top.numpy()
    is_tr = first_per_class(pseudo.numpy(), cfg.shots)
    return {
        split: (cand[pick[m]], pseudo[torch.from_numpy(m)], feats[torch.from_numpy(pick[m])])
        for split, m in (("train", is_tr), ("val", ~is_tr))
    }


def _class_names(cfg: ClipConfig, pool: Any) -> list[str]:
    """Prompt class names: the configured ones (checked against the dataset) or the dataset's
    (``_`` read as a space)."""
    n = len(pool.class_names)
    if cfg.class_names is None:
        return [name.replace("_", " ") for name in pool.class_names]
    if len(cfg.class_names) != n:
        raise ValueError(
            f"task.class_names must have {n} names, one per class of the dataset; "
            f"got {len(cfg.class_names)}: {list(cfg.class_names)}"
        )
    return [str(name) for name in cfg.class_names]
