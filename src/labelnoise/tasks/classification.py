"""Plain classification: the reference task adapter (and the worked example of docs/new_task.md).

Inputs are feature vectors or images; one unit per example. Data sources (``dataset``):

- ``digits``: scikit-learn's bundled 8x8 digits (1,797 images, 10 classes; no download);
- ``something.npz``: arrays ``x`` (``(N, D)`` or ``(N, C, H, W)`` floats) and ``y`` (``(N,)``
  ints), optionally ``x_test`` / ``y_test``; a relative path is read under ``data_dir``;
- a folder in torchvision's ImageFolder layout (``class_name/image.png``), resized to
  ``image_size``; with ``train/`` and ``test/`` subfolders when the data has a test split.

The noise section corrupts the training and validation labels with the core simulators;
the test split stays clean. Items: ``{"x", "target", "clean_target", "example_id"}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from labelnoise.common._checks import as_long_tensor, check_labels
from labelnoise.common._random import numpy_rng
from labelnoise.common.noise.class_conditional import (
    class_conditional,
    pair_flip_noise,
    symmetric_noise,
)
from labelnoise.common.transition import TransitionMatrix
from labelnoise.common.units import Units
from labelnoise.tasks.base import DatasetSplits, TaskAdapter, TensorDataset

__all__ = ["ClassificationAdapter", "ClassificationConfig", "NoiseConfig", "TensorDataset"]


@dataclass
class NoiseConfig:
    """Simulated label noise on the training and validation splits.

    Attributes:
        kind: ``none``, ``symmetric`` (to any other class), ``pair_flip`` (class i -> i+1;
            Han et al., 2018) or ``matrix`` (the row-stochastic ``matrix`` below).
        rate: flip probability for ``symmetric`` / ``pair_flip``.
        matrix: ``T[i][j] = P(noisy = j | clean = i)`` for ``kind: matrix``.
        seed: noise seed; ``None`` uses the run seed.
    """

    kind: Literal["none", "symmetric", "pair_flip", "matrix"] = "none"
    rate: float = 0.0
    matrix: list[list[float]] | None = None
    seed: int | None = None


@dataclass
class ClassificationConfig:
    """Options of the classification task (a recipe's ``task:`` section).

    Attributes:
        dataset: ``digits``, a ``.npz`` file or an ImageFolder directory (see module doc).
        num_classes: ``C``; labels outside ``[0, C)`` are an error. ``None``: the largest
            label + 1 (or the ImageFolder's classes).
        val_fraction: share of the training data held out for validation (noisy labels too).
        test_fraction: share held out as the clean test split when the data has none.
        standardize: z-score feature vectors with the training split's statistics.
        model: ``mlp``, ``linear`` or ``cnn`` (``auto``: cnn for images, mlp otherwise).
        hidden: width of the hidden layers.
        dropout: dropout probability in the MLP / CNN head.
        image_size: side of the resized images of an ImageFolder.
        noise: simulated noise (see :class:`NoiseConfig`).
    """

    dataset: str = "digits"
    num_classes: int | None = None
    val_fraction: float = 0.2
    test_fraction: float = 0.25
    standardize: bool = True
    model: Literal["auto", "mlp", "linear", "cnn"] = "auto"
    hidden: int = 128
    dropout: float = 0.0
    image_size: int = 32
    noise: NoiseConfig = field(default_factory=NoiseConfig)


class ClassificationAdapter(TaskAdapter):
    """Plain classification: one unit per example, logits ``(N, C)``."""

    name = "classification"
    Config = ClassificationConfig

    def build_datasets(self, data_dir: Path | None, *, seed: int) -> DatasetSplits:
        cfg: ClassificationConfig = self.config
        x, y, x_test, y_test, class_names = _read(cfg, data_dir)
        if cfg.num_classes is not None:
            num_classes = cfg.num_classes
        elif class_names is not None:
            num_classes = len(class_names)
        else:
            num_classes = int(max(int(y.max()), int(y_test.max()) if y_test is not None else 0)) + 1
        check_labels("labels", y, num_classes)
        if y_test is not None:
            check_labels("test labels", y_test, num_classes)
        rng = numpy_rng(seed)
        order = torch.from_numpy(rng.permutation(len(y)))
        if x_test is None:
            n_test = int(round(cfg.test_fraction * len(y)))
            test_idx, order = order[:n_test], order[n_test:]
            x_test, y_test = x[test_idx], y[test_idx]
        n_val = int(round(cfg.val_fraction * len(order)))
        val_idx, train_idx = order[:n_val], order[n_val:]
        x_tr, y_tr, x_val, y_val = x[train_idx], y[train_idx], x[val_idx], y[val_idx]
        if cfg.standardize and x.dim() == 2:
            mean, std = x_tr.mean(0), x_tr.std(0).clamp_min(1e-6)
            x_tr, x_val, x_test = (x_tr - mean) / std, (x_val - mean) / std, (x_test - mean) / std
        noise_seed = seed if cfg.noise.seed is None else cfg.noise.seed
        noisy_tr, t = _corrupt(y_tr, num_classes, cfg.noise, noise_seed)
        noisy_val, _ = _corrupt(y_val, num_classes, cfg.noise, noise_seed + 1)
        info = {
            "num_train": len(y_tr),
            "num_val": len(y_val),
            "num_test": len(y_test),
            "noise": cfg.noise.kind,
            "noise_rate_realised": float((noisy_tr != y_tr).double().mean()),
        }
        if t is not None:
            info["transition"] = t.numpy().tolist()
        return DatasetSplits(
            train=TensorDataset(x_tr, noisy_tr, y_tr),
            val=TensorDataset(x_val, noisy_val, y_val) if n_val else None,
            test=TensorDataset(x_test, y_test, y_test),
            num_classes=num_classes,
            class_names=class_names,
            info=info,
        )

    def build_model(self, splits: DatasetSplits) -> nn.Module:
        cfg: ClassificationConfig = self.config
        x0 = splits.train[0]["x"]
        kind = cfg.model
        if kind == "auto":
            kind = "cnn" if x0.dim() == 3 else "mlp"
        c = splits.num_classes
        if kind == "cnn":
            if x0.dim() != 3:
                raise ValueError(
                    f"model 'cnn' needs (C, H, W) images; got x of shape {tuple(x0.shape)}"
                )
            return _SmallCNN(x0.shape[0], c, cfg.hidden, cfg.dropout)
        d = int(x0.numel())
        if kind == "linear":
            return nn.Sequential(nn.Flatten(), nn.Linear(d, c))
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(d, cfg.hidden),
            nn.ReLU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, cfg.hidden),
            nn.ReLU(),
            nn.Linear(cfg.hidden, c),
        )

    def units(
        self, model: nn.Module, batch: dict[str, Any], *, target_key: str = "target"
    ) -> Units:
        logits = model(batch["x"])
        return Units(logits, batch[target_key], batch["example_id"].long())


class _SmallCNN(nn.Module):
    """Three conv blocks and a linear head: a few hundred thousand parameters."""

    def __init__(self, in_channels: int, num_classes: int, hidden: int, dropout: float) -> None:
        super().__init__()
        w = max(16, hidden // 4)
        layers: list[nn.Module] = []
        for cin, cout in ((in_channels, w), (w, 2 * w), (2 * w, 4 * w)):
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * w, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _corrupt(
    y: torch.Tensor, num_classes: int, noise: NoiseConfig, seed: int
) -> tuple[torch.Tensor, TransitionMatrix | None]:
    if noise.kind == "none" or len(y) == 0:
        return y.clone(), None
    if noise.kind == "symmetric":
        out = symmetric_noise(y, num_classes, noise.rate, seed=seed)
        t = TransitionMatrix.symmetric(num_classes, noise.rate)
    elif noise.kind == "pair_flip":
        out = pair_flip_noise(y, num_classes, noise.rate, seed=seed)
        t = TransitionMatrix.pair_flip(num_classes, noise.rate)
    else:
        if noise.matrix is None:
            raise ValueError(
                "task.noise.matrix must be a C x C list of rows for kind 'matrix'; got null"
            )
        t = TransitionMatrix(noise.matrix)
        if t.num_classes != num_classes:
            raise ValueError(
                f"task.noise.matrix must be {num_classes} x {num_classes}; got {t.shape}"
            )
        out = class_conditional(y, t, seed=seed)
    return out.noisy, t


def _read(
    cfg: ClassificationConfig, data_dir: Path | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None, list[str] | None]:
    if cfg.dataset == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x = torch.tensor(d.data, dtype=torch.float32)
        return x, torch.tensor(d.target, dtype=torch.long), None, None, None
    path = Path(cfg.dataset).expanduser()
    if not path.is_absolute() and data_dir is not None:
        path = Path(data_dir) / path
    if not path.exists():
        raise FileNotFoundError(
            f"task.dataset must be 'digits', an .npz file or an ImageFolder directory; "
            f"{str(path)!r} does not exist"
        )
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            for k in ("x", "y"):
                if k not in z:
                    raise ValueError(f"{path} must hold arrays 'x' and 'y'; got {sorted(z.files)}")
            x = torch.as_tensor(z["x"], dtype=torch.float32)
            y = as_long_tensor("y", z["y"])
            xt = torch.as_tensor(z["x_test"], dtype=torch.float32) if "x_test" in z else None
            yt = as_long_tensor("y_test", z["y_test"]) if "y_test" in z else None
        if y.min() < 0 or (yt is not None and yt.numel() and yt.min() < 0):
            raise ValueError(f"labels in {path} must be in [0, C); got min {int(y.min())}")
        return x, y, xt, yt, None
    return _read_image_folder(path, cfg.image_size)


def _read_image_folder(
    path: Path, size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None, list[str]]:
    from torchvision import datasets, transforms

    tf = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor()])

    def load(root: Path) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        ds = datasets.ImageFolder(str(root), transform=tf)
        xs = torch.stack([ds[i][0] for i in range(len(ds))])
        return xs, torch.tensor(ds.targets, dtype=torch.long), list(ds.classes)

    if (path / "train").is_dir():
        x, y, names = load(path / "train")
        if (path / "test").is_dir():
            xt, yt, names_t = load(path / "test")
            if names_t != names:
                raise ValueError(
                    f"{path}/test must have the classes of train {names}; got {names_t}"
                )
            return x, y, xt, yt, names
        return x, y, None, None, names
    x, y, names = load(path)
    return x, y, None, None, names
