"""Images for prompt tuning: an ImageFolder reader, k-shot sampling from noisy labels, and the
confident zero-shot pseudo-labels of PTNL's unsupervised mode.

An image source has ``labels`` (``(N,)`` int64), ``class_names`` and ``image(i)`` (an RGB
``PIL.Image``; a file that does not decode raises ``ValueError`` naming it). Two exist: the
CIFAR-10 zips (:class:`labelnoise.common.datasets.cifar10n.Cifar10Images`) and
:class:`ImageFolderImages` (torchvision's ``root/<class>/<image>`` layout).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from labelnoise.common._random import numpy_rng

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageFolderImages",
    "k_shot_split",
    "read_image_folder",
    "top_confident_per_class",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


@dataclass(eq=False)
class ImageFolderImages:
    """Images of an ImageFolder directory (``root/<class name>/<file>``), decoded lazily.

    Attributes:
        root: the directory.
        paths: ``(N,)`` image files, sorted by class folder then file name.
        labels: ``(N,)`` int64 class ids (index of the folder in ``class_names``).
        class_names: sorted class folder names.
    """

    root: Path
    paths: tuple[Path, ...]
    labels: np.ndarray
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.paths)

    def image(self, i: int):
        """Image ``i`` as RGB ``PIL.Image``; ``ValueError`` naming the file if it does not decode."""
        from PIL import Image

        path = self.paths[i]
        try:
            with Image.open(path) as im:
                return im.convert("RGB")
        except Exception as e:  # PIL.UnidentifiedImageError, OSError (truncated), ...
            raise ValueError(f"image {str(path)!r} could not be decoded: {e}") from None


def read_image_folder(root: str | Path) -> ImageFolderImages:
    """Index ``root/<class>/<image>`` (extensions :data:`IMAGE_EXTENSIONS`, case-insensitive)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder must be an existing directory; got {str(root)!r}")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    paths, labels = [], []
    for c, name in enumerate(classes):
        files = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        paths += files
        labels += [c] * len(files)
    if not paths:
        raise ValueError(
            f"image folder {str(root)!r} must hold <class>/<image> files; got {len(classes)} "
            "class folders and no images"
        )
    return ImageFolderImages(root, tuple(paths), np.asarray(labels, np.int64), tuple(classes))


def k_shot_split(
    labels: np.ndarray | torch.Tensor,
    shots: int,
    *,
    num_classes: int,
    val_shots: int = 0,
    seed: int = 0,
    with_replacement: bool = False,
    class_names: tuple[str, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced few-shot training and validation indices, drawn by the (noisy) labels.

    Args:
        labels: ``(N,)`` labels to balance on (the noisy ones: a k-shot set is what an
            annotator labelled k times per class).
        shots: ``k`` training images per class.
        num_classes: ``C``.
        val_shots: validation images per class, disjoint from the training ones.
        seed: sampling seed (same seed, same indices).
        with_replacement: draw ``shots`` and ``val_shots`` independently with replacement
            from each class (duplicates allowed, train and val may overlap); without it, a
            class with fewer than ``shots + val_shots`` images is an error.
        class_names: names for error messages.

    Returns:
        ``(train, val)``: ``(C * shots,)`` and ``(C * val_shots,)`` indices, grouped by class.
    """
    labels = np.asarray(labels)
    if shots < 1 or val_shots < 0:
        raise ValueError(f"shots must be >= 1 and val_shots >= 0; got {shots}, {val_shots}")
    rng = numpy_rng(seed)
    need = shots + val_shots
    train, val = [], []
    for c in range(num_classes):
        pool = np.flatnonzero(labels == c)
        name = class_names[c] if class_names else str(c)
        if len(pool) == 0 or (len(pool) < need and not with_replacement):
            raise ValueError(
                f"shots + val_shots must be <= the smallest class size ({len(pool)} images "
                f"labelled {name!r}); got {shots} + {val_shots} = {need}. Lower the shots or "
                "set with_replacement: true"
            )
        if with_replacement:
            train.append(rng.choice(pool, shots, replace=True))
            val.append(rng.choice(pool, val_shots, replace=True))
        else:
            draw = rng.permutation(pool)[:need]
            train.append(draw[:shots])
            val.append(draw[shots:])
    return np.concatenate(train).astype(np.int64), np.concatenate(val).astype(np.int64)


def top_confident_per_class(probs: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` most confident images of each predicted class (pseudo-labelling).

    PTNL's unsupervised mode (Wu et al., "Why Is Prompt Tuning for Vision-Language Models
    Robust to Noisy Labels?", ICCV 2023), after UPL (Huang et al., 2022): CLIP's zero-shot
    prediction is the pseudo-label, and per class only the ``k`` images with the highest
    zero-shot probability are kept (fewer when fewer images are predicted as that class).

    Args:
        probs: ``(N, C)`` zero-shot class probabilities.
        k: images kept per class.

    Returns:
        ``(index, pseudo_label)``: long tensors of equal length, grouped by class, most
        confident first.
    """
    conf, pred = probs.max(dim=1)
    index, label = [], []
    for c in range(probs.shape[1]):
        members = torch.nonzero(pred == c).flatten()
        order = torch.argsort(conf[members], descending=True, stable=True)[:k]
        index.append(members[order])
        label.append(torch.full((len(order),), c, dtype=torch.long))
    return torch.cat(index), torch.cat(label)
