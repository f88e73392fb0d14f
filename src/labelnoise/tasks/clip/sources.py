"""Where the images of the CLIP task come from, and how their labels are corrupted.

``read_pool`` returns the training pool (CIFAR-10's training zip or an ImageFolder), its noisy
labels (core simulators or the CIFAR-10N human label sets) and the test source.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from labelnoise.common.datasets.order import interleave_classes
from labelnoise.common.noise.class_conditional import pair_flip_noise, symmetric_noise
from labelnoise.tasks.clip.data import ImageFolderImages, read_image_folder

if TYPE_CHECKING:
    from labelnoise.common.datasets.cifar10n import Cifar10Images

__all__ = ["ClipNoiseConfig", "first_per_class", "interleave_classes", "read_pool"]


@dataclass
class ClipNoiseConfig:
    """Label noise of the training pool (before k-shot sampling).

    Attributes:
        kind: ``none``, ``symmetric``, ``pair_flip`` (core simulators) or ``cifar10n`` (the
            real human labels; ``dataset: cifar10`` only).
        rate: flip probability of the simulators.
        label_set: CIFAR-10N set: ``aggre``, ``random1``, ``random2``, ``random3``, ``worst``.
        seed: simulator seed; ``None`` uses the run seed.
    """

    kind: Literal["none", "symmetric", "pair_flip", "cifar10n"] = "none"
    rate: float = 0.0
    label_set: str = "worst"
    seed: int | None = None


def read_pool(
    dataset: str, noise: ClipNoiseConfig, data_dir: Path | None, seed: int
) -> tuple[Any, np.ndarray, Any, dict[str, Any]]:
    """The training pool of ``dataset`` (``cifar10`` or an ImageFolder directory, relative to
    ``data_dir``), its noisy labels, the test source (None: carve it from the pool) and noise
    facts for the report."""
    from labelnoise.common.datasets.cifar10n import load_cifar10n, read_cifar10

    pool: Cifar10Images | ImageFolderImages
    test: Cifar10Images | ImageFolderImages | None
    if dataset == "cifar10":
        if data_dir is None:
            raise FileNotFoundError(
                "task.dataset 'cifar10' reads <data root>/cifar10 and cifar10n; set "
                "data.data_dir or $LABELNOISE_DATA"
            )
        test = read_cifar10(data_dir / "cifar10", "test")
        if noise.kind == "cifar10n":
            pool, noisy = load_cifar10n(data_dir, noise.label_set)
        else:
            pool = read_cifar10(data_dir / "cifar10", "train")
    else:
        if noise.kind == "cifar10n":
            raise ValueError(
                f"task.noise.kind 'cifar10n' needs task.dataset 'cifar10'; got {dataset!r}"
            )
        root = Path(dataset).expanduser()
        if not root.is_absolute() and data_dir is not None:
            root = data_dir / root
        if (root / "train").is_dir():
            pool = read_image_folder(root / "train")
            test = read_image_folder(root / "test") if (root / "test").is_dir() else None
            if test is not None and test.class_names != pool.class_names:
                raise ValueError(
                    f"{root}/test must have the class folders of train {list(pool.class_names)}; "
                    f"got {list(test.class_names)}"
                )
        else:
            pool, test = read_image_folder(root), None
    clean = np.asarray(pool.labels, dtype=np.int64)
    num_classes = len(pool.class_names)
    noise_seed = seed if noise.seed is None else noise.seed
    if noise.kind == "symmetric":
        noisy = symmetric_noise(clean, num_classes, noise.rate, seed=noise_seed).noisy.numpy()
    elif noise.kind == "pair_flip":
        noisy = pair_flip_noise(clean, num_classes, noise.rate, seed=noise_seed).noisy.numpy()
    elif noise.kind == "none":
        noisy = clean.copy()
    info = {
        "noise": noise.label_set if noise.kind == "cifar10n" else noise.kind,
        "noise_rate_pool": float((noisy != clean).mean()),
    }
    return pool, np.asarray(noisy, dtype=np.int64), test, info


def first_per_class(labels: np.ndarray, k: int | None) -> np.ndarray:
    """``(N,)`` mask of the first ``k`` occurrences of each label (all when ``k`` is None)."""
    labels = np.asarray(labels)
    if k is None:
        return np.ones(len(labels), bool)
    seen: dict[int, int] = {}
    keep = np.zeros(len(labels), bool)
    for i, y in enumerate(labels.tolist()):
        seen[y] = seen.get(y, 0) + 1
        keep[i] = seen[y] <= k
    return keep
