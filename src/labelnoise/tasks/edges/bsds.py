"""BSDS500 reader: RGB images and the boundary map of every human annotator.

Layout (Arbelaez et al., TPAMI 2011; the January 2013 release): ``images/<split>/<id>.jpg``
and ``groundTruth/<split>/<id>.mat``, a MATLAB file with one variable ``groundTruth``, a
``1 x K`` cell array of structs with fields ``Segmentation`` and ``Boundaries`` (uint8 ``H x W``
in {0, 1}). Read as published with :func:`scipy.io.loadmat`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

__all__ = ["EdgeImage", "consensus", "list_ids", "read_boundaries", "read_split"]


@dataclass(frozen=True)
class EdgeImage:
    """One BSDS image.

    Attributes:
        image_id: the file stem (``"101085"``).
        image: ``(H, W, 3)`` uint8 RGB.
        boundaries: ``(K, H, W)`` uint8 in {0, 1}, one map per annotator.
    """

    image_id: str
    image: np.ndarray
    boundaries: np.ndarray


def read_boundaries(path: str | Path, *, shape: tuple[int, int] | None = None) -> np.ndarray:
    """The ``Boundaries`` maps of every annotator in a ``groundTruth`` ``.mat`` file.

    Args:
        path: the ``.mat`` file.
        shape: expected ``(H, W)`` (the image's); None: the first annotator's.

    Returns:
        ``(K, H, W)`` uint8 in {0, 1}.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: no ``groundTruth`` variable, no annotator, no ``Boundaries`` field, a map of
            the wrong size, or values other than 0/1 -- the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"groundTruth file not found: {path}")
    try:
        mat = scipy.io.loadmat(str(path))
    except (ValueError, TypeError, OSError) as exc:
        raise ValueError(f"{path}: not a readable MAT-file ({exc})") from exc
    if "groundTruth" not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise ValueError(f"{path}: expected a variable 'groundTruth'; got variables {keys}")
    cells = np.asarray(mat["groundTruth"]).reshape(-1)
    if cells.size == 0:
        raise ValueError(f"{path}: groundTruth must hold at least one annotator; got 0")
    maps: list[np.ndarray] = []
    for k, cell in enumerate(cells):
        names = getattr(cell.dtype, "names", None) or ()
        if "Boundaries" not in names:
            raise ValueError(
                f"{path}: annotator {k} must have a 'Boundaries' field; got fields {list(names)}"
            )
        b = np.asarray(cell["Boundaries"].reshape(-1)[0])
        want = shape if shape is not None else (maps[0].shape if maps else b.shape)
        if b.ndim != 2 or tuple(b.shape) != tuple(want):
            raise ValueError(
                f"{path}: annotator {k} boundary map must have shape {tuple(want)}; "
                f"got {tuple(b.shape)}"
            )
        bad = (b != 0) & (b != 1)
        if bad.any():
            raise ValueError(
                f"{path}: annotator {k} boundary map must be binary (0/1); got values "
                f"{np.unique(b[bad])[:5].tolist()}"
            )
        maps.append(b.astype(np.uint8))
    return np.stack(maps)


def list_ids(root: str | Path, split: str) -> list[str]:
    """Sorted image ids of ``root/images/<split>/*.jpg``."""
    folder = Path(root) / "images" / split
    if not folder.is_dir():
        raise FileNotFoundError(f"BSDS500 image folder not found: {folder}")
    return sorted(p.stem for p in folder.glob("*.jpg"))


def read_split(root: str | Path, split: str, *, limit: int | None = None) -> list[EdgeImage]:
    """Read ``limit`` (default all) images of ``split`` (``train`` / ``val`` / ``test``)."""
    from PIL import Image

    root = Path(root)
    ids = list_ids(root, split)[:limit]
    out = []
    for i in ids:
        with Image.open(root / "images" / split / f"{i}.jpg") as im:
            img = np.asarray(im.convert("RGB"))
        b = read_boundaries(root / "groundTruth" / split / f"{i}.mat", shape=img.shape[:2])
        out.append(EdgeImage(i, img, b))
    return out


def consensus(boundaries: np.ndarray) -> np.ndarray:
    """Fraction of annotators marking each pixel: ``(K, H, W)`` -> ``(H, W)`` float32."""
    if boundaries.ndim != 3 or boundaries.shape[0] == 0:
        raise ValueError(
            f"boundaries must have shape (K, H, W) with K >= 1; got {tuple(boundaries.shape)}"
        )
    return boundaries.astype(np.float32).mean(0)
