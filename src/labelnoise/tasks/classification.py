"""Plain classification: the reference task adapter (and the worked example of docs/new_task.md).

Inputs are feature vectors or images; one unit per example. Data sources (``dataset``):

- ``digits``: scikit-learn's bundled 8x8 digits (1,797 images, 10 classes; no download);
- ``cifar10n``: CIFAR-10 images with a CIFAR-10N human label set (Wei et al., ICLR 2022;
  ``label_set``: ``worst``, ``aggre``, ``random1..3`` or ``clean``), read from
  ``cifar10/`` and ``cifar10n/`` under ``data_dir`` by
  :mod:`labelnoise.common.datasets.cifar10n`; optionally a fixed random subset of
  ``train_size`` images; the test split is the clean CIFAR-10 test set (10,000 images);
- ``something.npz``: arrays ``x`` (``(N, D)`` or ``(N, C, H, W)`` floats) and ``y`` (``(N,)``
  ints), optionally ``x_test`` / ``y_test``; a relative path is read under ``data_dir``;
- a folder in torchvision's ImageFolder layout (``class_name/image.png``), resized to
  ``image_size``; with ``train/`` and ``test/`` subfolders when the data has a test split;
- a table (``.csv``, ``.tsv``, ``.json``, ``.jsonl``, ``.parquet``) or a saved Hugging Face
  dataset folder (``save_to_disk``; a ``DatasetDict``'s ``split`` / ``test_split``), read by
  :mod:`labelnoise.tasks._hf`: the label in ``label_column``, images in ``image_column`` or
  numeric ``feature_columns``, the user's ids in ``id_column`` (``label_issues.csv`` lists
  them; ImageFolder ids are the image paths).

The noise section corrupts the training and validation labels with the core simulators;
the test split stays clean. Items: ``{"x", "target", "clean_target", "example_id"}`` (CIFAR-10N
with ``random1..3`` adds ``worker_id``, the annotator of each label; every annotator's label,
``label_set: annotators`` or ``annotations``, adds ``annotations`` and ``annotator_ids``). Models: ``mlp``,
``linear``, ``cnn`` (three conv blocks), and for 32x32 images the CIFAR models ``small_cnn``
(four conv blocks, width ``width``; CPU-sized), ``resnet18`` and ``preact_resnet18``.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from labelnoise.common._checks import as_long_tensor, check_labels
from labelnoise.common._random import numpy_rng
from labelnoise.common.noise.class_conditional import (
    class_conditional,
    pair_flip_noise,
    symmetric_noise,
)
from labelnoise.common.transition import TransitionMatrix
from labelnoise.common.units import Units
from labelnoise.tasks._annotators import AnnotatedDataset
from labelnoise.tasks._hf import IdTensorDataset, is_table_source
from labelnoise.tasks._tables import classification_arrays
from labelnoise.tasks.base import DatasetSplits, TaskAdapter, TensorDataset

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "ClassificationAdapter",
    "ClassificationConfig",
    "ImageArrayDataset",
    "NoiseConfig",
    "PreActResNet18",
    "SmallCNN",
    "TensorDataset",
    "augment",
    "to_float",
]

#: Per-channel mean and std of the CIFAR-10 training images (0..1 scale).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
#: Models for 32x32 RGB images (CIFAR), run channels-last (about 2x faster convolutions on a
#: CPU thread).
CIFAR_MODELS = ("small_cnn", "resnet18", "preact_resnet18")


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
        dataset: ``digits``, ``cifar10n``, a ``.npz`` file or an ImageFolder directory (see
            module doc).
        num_classes: ``C``; labels outside ``[0, C)`` are an error. ``None``: the largest
            label + 1 (or the ImageFolder's classes; 10 for CIFAR-10N).
        val_fraction: share of the training data held out for validation (noisy labels too).
        test_fraction: share held out as the clean test split when the data has none.
        split_seed: seed of the test / validation split (``None``: the run seed, so each seed
            sees another split; an int keeps one split for every seed).
        standardize: z-score feature vectors with the training split's statistics.
        model: ``mlp``, ``linear``, ``cnn``, or the 32x32 models ``small_cnn``, ``resnet18``,
            ``preact_resnet18`` (``auto``: cnn for images, mlp otherwise).
        hidden: width of the hidden layers.
        width: channels of ``small_cnn``'s first block (blocks ``w, 2w, 4w, 4w``).
        dropout: dropout probability in the MLP / CNN head.
        augment: random crop (4-pixel reflect padding) + horizontal flip of image batches
            while training (default off).
        image_size: side of the resized images of an ImageFolder.
        label_set: CIFAR-10N label set (``dataset: cifar10n``): ``worst``, ``aggre``,
            ``random1``, ``random2``, ``random3``, ``clean`` (the original labels) or
            ``annotators`` (all three ``random`` labels with their workers; see
            ``annotations``).
        train_size: CIFAR-10N: a fixed random subset of this many of the 50,000 training
            images (``None``: all); the validation split is taken from it.
        subset_seed: CIFAR-10N: seed of that subset (independent of the run seed).
        cache_dir: CIFAR-10N: decode the JPEG zips once into ``.npy`` files here (``None``:
            decode the images used, every time).
        noise: simulated noise (see :class:`NoiseConfig`); with CIFAR-10N it corrupts the
            ``label_set`` labels further (usually ``none``).
        imbalance_ratio: make the training split long-tailed before the noise (``None``:
            as read): class ``c`` keeps ``floor(n_max * r ** (-c / (C - 1)))`` examples (Cao et
            al., 2019; :mod:`labelnoise.common.datasets.long_tail`), drawn with the split seed;
            classes are those of the clean labels (CIFAR-10N: the clean CIFAR-10 class, so the
            human noise stays as annotated). Validation and test splits are left as they are.
        annotations: every annotator's label: a long table (``.csv``, ``.tsv``, ``.json``,
            ``.jsonl``, ``.parquet``; columns ``task, worker, label`` as
            :mod:`labelnoise.common.aggregation` takes; ``task``: the data's ids, or row
            numbers for data without ids; ``label``: class indices), read under
            ``data_dir`` when relative. Every training / validation row needs an answer; the
            data's own label becomes ``clean_target`` (e.g. gold; metrics only). Items then
            carry ``annotations (S,)`` and ``annotator_ids (S,)`` (``-1``: no answer), for
            ``crowd_layer`` / ``madl`` (:mod:`labelnoise.tasks._annotators`).
        annotation_target: the single ``target`` made from the answers (``annotations`` or
            ``label_set: annotators``) for the methods that ignore annotators: ``mv``
            (majority vote, ties to the smaller class) or ``ds`` (Dawid-Skene).
        label_column: tables / saved datasets: the label column (ints or class names).
        feature_columns: tables: the numeric feature columns (``None``: every numeric
            column but the label and the id).
        image_column: tables: a column of images (Hugging Face ``Image`` values, bytes or
            paths); ``None``: a feature table.
        id_column: tables: the column of the user's unique ids (``None``: the row number).
        split / test_split: saved ``DatasetDict``: the splits trained on and tested on (a
            missing ``test_split`` is split off by ``test_fraction``).
    """

    dataset: str = "digits"
    num_classes: int | None = None
    val_fraction: float = 0.2
    test_fraction: float = 0.25
    split_seed: int | None = None
    standardize: bool = True
    model: Literal["auto", "mlp", "linear", "cnn", "small_cnn", "resnet18", "preact_resnet18"] = (
        "auto"
    )
    hidden: int = 128
    width: int = 32
    dropout: float = 0.0
    augment: bool = False
    image_size: int = 32
    label_set: str = "worst"
    train_size: int | None = None
    subset_seed: int = 0
    cache_dir: str | None = None
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    imbalance_ratio: float | None = None
    annotations: str | None = None
    annotation_target: Literal["mv", "ds"] = "mv"
    label_column: str = "label"
    feature_columns: list[str] | None = None
    image_column: str | None = None
    id_column: str | None = None
    split: str = "train"
    test_split: str = "test"

    def __post_init__(self) -> None:
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"task.val_fraction must be in [0, 1); got {self.val_fraction!r}")
        if not 0 <= self.test_fraction < 1:
            raise ValueError(f"task.test_fraction must be in [0, 1); got {self.test_fraction!r}")
        r = self.imbalance_ratio
        if r is not None and (isinstance(r, bool) or not np.isfinite(r) or r < 1):
            raise ValueError(f"task.imbalance_ratio must be a number >= 1 or null; got {r!r}")
        if self.annotations is not None and (
            self.dataset == "cifar10n" or self.noise.kind != "none"
        ):
            raise ValueError(
                "task.annotations takes the labels from its table: use it with your own data "
                f"and task.noise.kind 'none'; got dataset {self.dataset!r}, noise "
                f"{self.noise.kind!r} (CIFAR-10N: task.label_set 'annotators')"
            )
        if self.dataset == "cifar10n":
            from labelnoise.common.datasets.cifar10n import CIFAR10N_LABEL_SETS

            if self.label_set not in (*CIFAR10N_LABEL_SETS, "annotators"):
                raise ValueError(
                    f"task.label_set must be one of {[*sorted(CIFAR10N_LABEL_SETS), 'annotators']}; "
                    f"got {self.label_set!r}"
                )


class ClassificationAdapter(TaskAdapter):
    """Plain classification: one unit per example, logits ``(N, C)``."""

    name = "classification"
    Config = ClassificationConfig

    def build_datasets(self, data_dir: Path | None, *, seed: int) -> DatasetSplits:
        cfg: ClassificationConfig = self.config
        if cfg.dataset == "cifar10n":
            return _cifar10n_splits(cfg, data_dir, seed)
        x, y, x_test, y_test, class_names, ids = _read(cfg, data_dir)
        if x_test is not None and y_test is None:
            raise ValueError(
                f"task.dataset {cfg.dataset!r} must hold 'y_test' beside 'x_test'; got no 'y_test'"
            )
        if cfg.num_classes is not None:
            num_classes = cfg.num_classes
        elif class_names is not None:
            num_classes = len(class_names)
        else:
            num_classes = int(max(int(y.max()), int(y_test.max()) if y_test is not None else 0)) + 1
        check_labels("labels", y, num_classes)
        if y_test is not None:
            check_labels("test labels", y_test, num_classes)
        rng = numpy_rng(seed if cfg.split_seed is None else cfg.split_seed)
        order = torch.from_numpy(rng.permutation(len(y)))
        if x_test is None:
            n_test = int(round(cfg.test_fraction * len(y)))
            test_idx, order = order[:n_test], order[n_test:]
            x_test, y_test = x[test_idx], y[test_idx]
        assert y_test is not None  # read beside x_test (checked above) or split off here
        n_val = int(round(cfg.val_fraction * len(order)))
        val_idx, train_idx = order[:n_val], order[n_val:]
        if cfg.imbalance_ratio is not None:
            train_idx = train_idx[_long_tail(y[train_idx].numpy(), num_classes, cfg, seed)]
        x_tr, y_tr, x_val, y_val = x[train_idx], y[train_idx], x[val_idx], y[val_idx]
        if cfg.standardize and x.dim() == 2:
            mean, std = x_tr.mean(0), x_tr.std(0).clamp_min(1e-6)
            x_tr, x_val, x_test = (x_tr - mean) / std, (x_val - mean) / std, (x_test - mean) / std
        noise_seed = seed if cfg.noise.seed is None else cfg.noise.seed
        noisy_tr, t = _corrupt(y_tr, num_classes, cfg.noise, noise_seed)
        noisy_val, _ = _corrupt(y_val, num_classes, cfg.noise, noise_seed + 1)
        if cfg.annotations is not None:  # target: the answers' aggregate; y: the reference
            kept = torch.cat([train_idx, val_idx]).numpy()
            ann, ann_ids, agg, ann_info = _table_annotations(
                cfg, data_dir, ids, y, kept, num_classes
            )
            noisy_tr, noisy_val = agg[train_idx], agg[val_idx]
        info: dict[str, Any] = {
            "num_train": len(y_tr),
            "num_val": len(y_val),
            "num_test": len(y_test),
            "noise": cfg.noise.kind,
            "noise_rate_realised": float((noisy_tr != y_tr).double().mean()),
        }
        if t is not None:
            info["transition"] = t.numpy().tolist()
        if cfg.imbalance_ratio is not None:
            info["train_class_counts"] = torch.bincount(y_tr, minlength=num_classes).tolist()
        splits = DatasetSplits(
            train=TensorDataset(x_tr, noisy_tr, y_tr)
            if ids is None
            else IdTensorDataset(x_tr, noisy_tr, y_tr, ids=[ids[int(i)] for i in train_idx]),
            val=TensorDataset(x_val, noisy_val, y_val) if n_val else None,
            test=TensorDataset(x_test, y_test, y_test),
            num_classes=num_classes,
            class_names=class_names,
            info=info,
        )
        if cfg.annotations is not None:  # every annotator's label beside the target
            splits.train = AnnotatedDataset(splits.train, ann[train_idx], ann_ids[train_idx])
            if splits.val is not None:
                splits.val = AnnotatedDataset(splits.val, ann[val_idx], ann_ids[val_idx])
            info |= ann_info
        return splits

    def build_model(self, splits: DatasetSplits) -> nn.Module:
        cfg: ClassificationConfig = self.config
        x0 = splits.train[0]["x"]
        kind = cfg.model
        if kind == "auto":
            kind = "cnn" if x0.dim() == 3 else "mlp"
        c = splits.num_classes
        if kind in CIFAR_MODELS:
            if tuple(x0.shape) != (3, 32, 32):
                raise ValueError(
                    f"task.model {kind!r} needs (3, 32, 32) images; got x of shape "
                    f"{tuple(x0.shape)}"
                )
            return _cifar_model(kind, c, cfg.width, cfg.dropout).to(
                memory_format=torch.channels_last
            )
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
        x = batch["x"]
        if x.dim() == 4:
            if model.training and self.config.augment:
                x = augment(x)
            if self.config.model in CIFAR_MODELS:
                x = x.contiguous(memory_format=torch.channels_last)
        logits = model(x)
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


def _long_tail(
    clean: np.ndarray, num_classes: int, cfg: ClassificationConfig, seed: int
) -> np.ndarray:
    """Positions of the long-tailed part of a training split (``task.imbalance_ratio``),
    drawn from the split seed."""
    from labelnoise.common.datasets.long_tail import long_tailed_subset

    assert cfg.imbalance_ratio is not None
    s = seed if cfg.split_seed is None else cfg.split_seed
    return long_tailed_subset(clean, num_classes, float(cfg.imbalance_ratio), seed=s + 7919)


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
) -> tuple[
    torch.Tensor,
    torch.Tensor,
    torch.Tensor | None,
    torch.Tensor | None,
    list[str] | None,
    list[str] | None,
]:
    """``(x, y, x_test, y_test, class_names, ids)``; ``ids``: the user's ids of the rows of
    ``x`` (tables, ImageFolder) or None."""
    if cfg.dataset == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x = torch.tensor(d.data, dtype=torch.float32)
        return x, torch.tensor(d.target, dtype=torch.long), None, None, None, None
    path = Path(cfg.dataset).expanduser()
    if not path.is_absolute() and data_dir is not None:
        path = Path(data_dir) / path
    if not path.exists():
        raise FileNotFoundError(
            f"task.dataset must be 'digits', 'cifar10n', an .npz file, a table (.csv, .parquet, "
            f".json), a saved Hugging Face dataset or an ImageFolder directory; {str(path)!r} "
            "does not exist"
        )

    if is_table_source(path):
        return classification_arrays(
            path,
            label_column=cfg.label_column,
            feature_columns=cfg.feature_columns,
            image_column=cfg.image_column,
            id_column=cfg.id_column,
            image_size=cfg.image_size,
            split=cfg.split,
            test_split=cfg.test_split,
        )
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                for k in ("x", "y"):
                    if k not in z:
                        raise ValueError(
                            f"{path} must hold arrays 'x' and 'y'; got {sorted(z.files)}"
                        )
                x = torch.as_tensor(z["x"], dtype=torch.float32)
                y = as_long_tensor(f"{path}: y", z["y"])
                xt = torch.as_tensor(z["x_test"], dtype=torch.float32) if "x_test" in z else None
                yt = as_long_tensor(f"{path}: y_test", z["y_test"]) if "y_test" in z else None
        except (OSError, EOFError, zipfile.BadZipFile) as e:  # empty, truncated, not a zip
            raise ValueError(f"task.dataset {path} must be a .npz file of arrays; {e}") from e
        except ValueError as e:
            if str(path) in str(e):
                raise
            # numpy: object arrays refused (allow_pickle=False), a bad member header
            raise ValueError(f"task.dataset {path} must be a .npz file of plain arrays; {e}") from e
        for xs, ys, names in ((x, y, "'x' and 'y'"), (xt, yt, "'x_test' and 'y_test'")):
            if xs is not None and ys is not None and len(xs) != len(ys):
                raise ValueError(
                    f"{path}: {names} must have one row per example; got {len(xs)} and {len(ys)} rows"
                )
        if y.min() < 0 or (yt is not None and yt.numel() and yt.min() < 0):
            raise ValueError(f"labels in {path} must be in [0, C); got min {int(y.min())}")
        return x, y, xt, yt, None, None
    return _read_image_folder(path, cfg.image_size)


def _read_image_folder(
    path: Path, size: int
) -> tuple[
    torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None, list[str], list[str]
]:
    """ImageFolder images; ids are the training images' paths relative to the folder."""
    from torchvision import datasets, transforms

    tf = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor()])

    def load(root: Path) -> tuple[torch.Tensor, torch.Tensor, list[str], list[str]]:
        ds = datasets.ImageFolder(str(root), transform=tf)
        xs = torch.stack([ds[i][0] for i in range(len(ds))])
        ids = [Path(p).relative_to(path).as_posix() for p, _ in ds.samples]
        return xs, torch.tensor(ds.targets, dtype=torch.long), list(ds.classes), ids

    if (path / "train").is_dir():
        x, y, names, ids = load(path / "train")
        if (path / "test").is_dir():
            xt, yt, names_t, _ = load(path / "test")
            if names_t != names:
                raise ValueError(
                    f"{path}/test must have the classes of train {names}; got {names_t}"
                )
            return x, y, xt, yt, names, ids
        return x, y, None, None, names, ids
    x, y, names, ids = load(path)
    return x, y, None, None, names, ids


# ------------------------------------------------------------------------------ CIFAR-10N


def to_float(x: torch.Tensor) -> torch.Tensor:
    """``uint8 (..., 32, 32, 3)`` -> float ``(..., 3, 32, 32)`` normalised with the CIFAR-10
    mean and std."""
    mean = torch.tensor(CIFAR10_MEAN).view(3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(3, 1, 1)
    return (x.movedim(-1, -3).float() / 255.0 - mean) / std


def augment(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random 4-pixel-padded crop (reflect padding) and horizontal flip of ``(B, C, H, W)``."""
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4), mode="reflect")
    dy = torch.randint(0, 9, (b,), generator=generator).to(x.device)
    dx = torch.randint(0, 9, (b,), generator=generator).to(x.device)
    ar_h, ar_w = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
    rows = (dy[:, None] + ar_h)[:, None, :, None].expand(b, x.shape[1], h, w + 8)
    out = padded.gather(2, rows)
    cols = (dx[:, None] + ar_w)[:, None, None, :].expand(b, x.shape[1], h, w)
    out = out.gather(3, cols)
    flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], out.flip(3), out)


class ImageArrayDataset(Dataset):
    """Items ``{"x": (3, 32, 32) float, "target", "clean_target", "example_id"}`` (+
    ``"worker_id"`` when ``worker`` is given) from ``uint8 (N, 32, 32, 3)`` images (an array
    or a lazily decoding :class:`~labelnoise.common.datasets.cifar10n.LazyImages`),
    normalised per item by :func:`to_float`. ``index`` (kept as ``.index``, ``(N,)``): each
    image's position in its source (CIFAR-10N: the zip order of the reader)."""

    def __init__(
        self,
        x: Any,
        target: np.ndarray,
        clean: np.ndarray,
        worker: np.ndarray | None = None,
        *,
        index: np.ndarray | None = None,
    ) -> None:
        if len(target) != len(x) or len(clean) != len(x):
            raise ValueError(
                f"label arrays must have length {len(x)} (the number of images); got "
                f"target {len(target)}, clean {len(clean)}"
            )
        self.x = x if not isinstance(x, np.ndarray) else torch.from_numpy(np.ascontiguousarray(x))
        self.target = torch.as_tensor(np.asarray(target), dtype=torch.long)
        self.clean = torch.as_tensor(np.asarray(clean), dtype=torch.long)
        self.worker = None if worker is None else torch.as_tensor(worker, dtype=torch.long)
        self.index = None if index is None else np.asarray(index)

    def __len__(self) -> int:
        return int(self.target.shape[0])

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = {
            "x": to_float(torch.as_tensor(self.x[i])),
            "target": self.target[i],
            "clean_target": self.clean[i],
            "example_id": i,
        }
        if self.worker is not None:
            item["worker_id"] = self.worker[i]
        return item


def _cifar10n_splits(cfg: ClassificationConfig, data_dir: Path | None, seed: int) -> DatasetSplits:
    """CIFAR-10 images with the ``label_set`` labels (train / val) and the clean test set."""
    from labelnoise.common.datasets.cifar10n import (
        CIFAR10_CLASSES,
        CIFAR10N_WORKER_LABEL_SETS,
        load_arrays,
    )
    from labelnoise.common.datasets.order import interleave_classes

    if data_dir is None:
        raise FileNotFoundError(
            "task.dataset 'cifar10n' needs data.data_dir (or $LABELNOISE_DATA) holding "
            "cifar10/ and cifar10n/; got none"
        )
    if cfg.num_classes not in (None, 10):
        raise ValueError(
            f"task.num_classes must be 10 (or null) for cifar10n; got {cfg.num_classes}"
        )
    load: dict[str, Any] = {"train_size": cfg.train_size, "subset_seed": cfg.subset_seed}
    if cfg.label_set == "annotators":
        d, ann, ann_ids, ann_info = _cifar10n_annotators(cfg, data_dir, load)
    else:
        d, ann = load_arrays(data_dir, cfg.label_set, **load, cache_dir=cfg.cache_dir), None
    rng = numpy_rng(seed if cfg.split_seed is None else cfg.split_seed)
    order = rng.permutation(len(d["noisy"]))
    n_val = int(round(cfg.val_fraction * len(order)))
    va, tr = order[:n_val], order[n_val:]  # shuffled: data.limit keeps a random part
    if cfg.imbalance_ratio is not None:  # by the clean class (the intrinsic distribution)
        tr = tr[_long_tail(np.asarray(d["clean"])[tr], 10, cfg, seed)]
    noise_seed = seed if cfg.noise.seed is None else cfg.noise.seed
    given = torch.as_tensor(d["noisy"])
    y_tr, _ = _corrupt(given[tr], 10, cfg.noise, noise_seed)
    y_va, _ = _corrupt(given[va], 10, cfg.noise, noise_seed + 1)
    worker = d["worker"] if cfg.label_set in CIFAR10N_WORKER_LABEL_SETS else None

    def part(idx: np.ndarray, target: torch.Tensor) -> ImageArrayDataset:
        return ImageArrayDataset(
            d["x"][idx],
            target.numpy(),
            d["clean"][idx],
            None if worker is None else worker[idx],
            index=d["index"][idx],
        )

    train = part(tr, y_tr)
    val = part(va, y_va) if n_val else None
    if ann is not None:  # every annotator's label beside the aggregated target
        # (AnnotatedDataset forwards the image dataset's attributes: target, clean, index)
        train = AnnotatedDataset(train, ann[tr], ann_ids[tr])  # type: ignore[assignment]
        if val is not None:
            val = AnnotatedDataset(val, ann[va], ann_ids[va])  # type: ignore[assignment]
    # the published test set is sorted by class: visit the classes round-robin, so that a
    # prefix (data.eval_limit) is class-balanced; ``index`` keeps each image's file position
    at = interleave_classes(d["y_test"])
    test = ImageArrayDataset(d["x_test"][at], d["y_test"][at], d["y_test"][at], index=at)
    info = {
        "label_set": cfg.label_set,
        "num_train": len(tr),
        "num_val": int(n_val),
        "num_test": len(test),
        "noise": cfg.noise.kind,
        "noise_rate_realised": float((train.target != train.clean).double().mean()),
    }
    if cfg.imbalance_ratio is not None:
        info["train_class_counts"] = np.bincount(train.clean.numpy(), minlength=10).tolist()
    if ann is not None:
        info |= ann_info
    return DatasetSplits(
        train, val, test, num_classes=10, class_names=list(CIFAR10_CLASSES), info=info
    )


def _cifar10n_annotators(
    cfg: ClassificationConfig, data_dir: Path, load: dict[str, Any]
) -> tuple[Any, np.ndarray, np.ndarray, dict[str, Any]]:
    """CIFAR-10N with every annotator: ``(d, annotations (n, 3), annotator_ids (n, 3),
    info)``; ``d["noisy"]`` is the ``annotation_target`` aggregate of the three labels."""
    from labelnoise.tasks._annotators import (
        aggregate,
        annotation_info,
        cifar10n_answers,
        encode_slots,
    )

    d, labels, workers = cifar10n_answers(data_dir, **load, cache_dir=cfg.cache_dir)
    ann, ids, n_annotators = encode_slots(labels, workers)
    d["noisy"] = aggregate(ann, ids, 10, cfg.annotation_target)
    info = {"num_annotators": n_annotators, **annotation_info(ann, d["clean"], d["noisy"])}
    return d, ann, ids, info


def _table_annotations(
    cfg: ClassificationConfig,
    data_dir: Path | None,
    ids: list[str] | None,
    y: torch.Tensor,
    kept: np.ndarray,
    num_classes: int,
) -> tuple[np.ndarray, np.ndarray, torch.Tensor, dict[str, Any]]:
    """``task.annotations`` for the rows of ``x`` (labels ``y``, ``(N,)``): ``(annotations
    (N, S), annotator_ids (N, S), target (N,), info)``; ``target`` is the
    ``annotation_target`` aggregate on the ``kept`` (training and validation) rows, which
    must all have an answer (-1 elsewhere)."""
    from labelnoise.tasks._annotators import aggregate, annotation_info, table_answers

    assert cfg.annotations is not None
    path = Path(cfg.annotations).expanduser()
    if not path.is_absolute() and data_dir is not None:
        path = Path(data_dir) / path
    ann, ann_ids, answers = table_answers(path, ids, len(y), num_classes)
    missing = kept[(ann[kept] < 0).all(1)]
    if len(missing):
        name = ids[int(missing[0])] if ids is not None else int(missing[0])
        raise ValueError(
            f"task.annotations must answer every training / validation row; got none for "
            f"{len(missing)} rows, e.g. {name!r}"
        )
    target = np.full(len(y), -1, dtype=np.int64)
    target[kept] = aggregate(ann[kept], ann_ids[kept], num_classes, cfg.annotation_target)
    info = {
        "num_annotators": answers.n_annotators,
        **annotation_info(ann[kept], y.numpy()[kept], target[kept]),
    }
    return ann, ann_ids, torch.as_tensor(target), info


class SmallCNN(nn.Module):
    """``(B, 3, 32, 32) -> (B, num_classes)``: four conv-BN-ReLU blocks (widths ``w, 2w, 4w,
    4w``, max-pools after the first three) and a global-average-pooled linear head; ~0.24 M
    parameters at ``w = 32`` (trains on a CPU in minutes)."""

    def __init__(self, num_classes: int = 10, *, width: int = 32, dropout: float = 0.0) -> None:
        super().__init__()
        w = width

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        self.features = nn.Sequential(
            *block(3, w),
            nn.MaxPool2d(2),
            *block(w, 2 * w),
            nn.MaxPool2d(2),
            *block(2 * w, 4 * w),
            nn.MaxPool2d(2),
            *block(4 * w, 4 * w),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * w, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class _PreActBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(x))
        skip = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(torch.relu(self.bn2(out)))
        return out + skip


class PreActResNet18(nn.Module):
    """Pre-activation ResNet-18 (He et al., ECCV 2016) for 32x32 inputs, the backbone of
    Co-teaching / DivideMix / ELR on CIFAR: ``(B, 3, 32, 32) -> (B, num_classes)``."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        layers: list[nn.Module] = []
        cin = 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [_PreActBlock(cin, cout, stride), _PreActBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(512)
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn(self.layers(self.conv1(x))))
        return self.linear(out.mean(dim=(2, 3)))


def _cifar_model(kind: str, num_classes: int, width: int, dropout: float) -> nn.Module:
    """A randomly initialised 32x32 classifier: ``small_cnn``, ``resnet18`` (torchvision's,
    with the CIFAR stem: 3x3 conv, stride 1, no max-pool; He et al., CVPR 2016) or
    ``preact_resnet18``."""
    if kind == "small_cnn":
        return SmallCNN(num_classes, width=width, dropout=dropout)
    if kind == "preact_resnet18":
        return PreActResNet18(num_classes)
    from torchvision.models import resnet18

    m = resnet18(weights=None, num_classes=num_classes)
    m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    m.maxpool = nn.Identity()
    return m
