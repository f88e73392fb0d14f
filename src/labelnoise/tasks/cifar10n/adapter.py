"""CIFAR-10N through the reference classification adapter: only the data and the models differ.

Recipe section (``task: {name: cifar10n, ...}``; see :class:`Cifar10NConfig`)::

    task: {name: cifar10n, label_set: worst, train_size: 10000, model: small_cnn}

Train and validation splits carry the human labels of ``label_set`` as ``target`` and the
original CIFAR-10 labels as ``clean_target`` (so the engine reports the corruption mask,
the realised transition and detection scores); the test split is the clean CIFAR-10 test set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from torch import nn

from labelnoise.common.datasets.cifar10n import CIFAR10_CLASSES
from labelnoise.common.units import Units
from labelnoise.tasks.base import DatasetSplits
from labelnoise.tasks.cifar10n.data import Cifar10NDataset, augment, load_arrays
from labelnoise.tasks.cifar10n.models import build_model
from labelnoise.tasks.classification import ClassificationAdapter

__all__ = ["Cifar10NAdapter", "Cifar10NConfig"]


@dataclass
class Cifar10NConfig:
    """Options of the CIFAR-10N task.

    Attributes:
        label_set: ``aggre``, ``random1``, ``random2``, ``random3``, ``worst`` or ``clean``.
        train_size: random subset of the 50,000 training images (``None``: all); the
            validation split is taken from it.
        subset_seed: seed of that subset.
        val_fraction: share of the training images held out for validation (noisy labels).
        model: ``small_cnn``, ``resnet18`` or ``preact_resnet18`` (random init).
        width: channels of the small CNN's first block.
        dropout: dropout before the small CNN's head.
        augment: random crop (4-pixel reflect padding) + horizontal flip while training.
        cache_dir: decode the JPEG zips once into ``.npy`` files here (``None``: decode the
            images needed, every time).
    """

    label_set: str = "worst"
    train_size: int | None = None
    subset_seed: int = 0
    val_fraction: float = 0.1
    model: Literal["small_cnn", "resnet18", "preact_resnet18"] = "small_cnn"
    width: int = 32
    dropout: float = 0.0
    augment: bool = True
    cache_dir: str | None = None


class Cifar10NAdapter(ClassificationAdapter):
    """CIFAR-10 images with CIFAR-10N human labels; one unit per image, logits ``(N, 10)``."""

    name = "cifar10n"
    Config = Cifar10NConfig

    def build_datasets(self, data_dir: Path | None, *, seed: int) -> DatasetSplits:
        cfg: Cifar10NConfig = self.config
        if data_dir is None:
            raise FileNotFoundError(
                "task cifar10n needs data.data_dir (or $LABELNOISE_DATA) holding cifar10/ and "
                "cifar10n/; got none"
            )
        if not 0 <= cfg.val_fraction < 1:
            raise ValueError(f"task.val_fraction must be in [0, 1); got {cfg.val_fraction}")
        d = load_arrays(
            data_dir,
            cfg.label_set,
            train_size=cfg.train_size,
            subset_seed=cfg.subset_seed,
            cache_dir=cfg.cache_dir,
        )
        order = np.random.default_rng(seed).permutation(len(d["noisy"]))
        n_val = int(round(cfg.val_fraction * len(order)))
        va, tr = order[:n_val], order[n_val:]
        train = Cifar10NDataset(d["x"][tr], d["noisy"][tr], d["clean"][tr])
        val = Cifar10NDataset(d["x"][va], d["noisy"][va], d["clean"][va]) if n_val else None
        test = Cifar10NDataset(d["x_test"], d["y_test"], d["y_test"])
        info = {
            "label_set": cfg.label_set,
            "num_train": len(tr),
            "num_val": int(n_val),
            "num_test": len(test),
            "noise_rate_realised": float((d["noisy"][tr] != d["clean"][tr]).mean()),
        }
        return DatasetSplits(
            train, val, test, num_classes=10, class_names=list(CIFAR10_CLASSES), info=info
        )

    def build_model(self, splits: DatasetSplits) -> nn.Module:
        cfg: Cifar10NConfig = self.config
        return build_model(cfg.model, splits.num_classes, width=cfg.width, dropout=cfg.dropout)

    def units(
        self, model: nn.Module, batch: dict[str, Any], *, target_key: str = "target"
    ) -> Units:
        x = batch["x"]
        if model.training and self.config.augment:
            x = augment(x)
        return Units(model(x), batch[target_key], batch["example_id"].long())
