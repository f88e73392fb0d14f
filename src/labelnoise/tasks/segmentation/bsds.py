"""BSDS500 reader: images and the human region segmentations / boundaries of ``groundTruth``.

Arbeláez et al., "Contour Detection and Hierarchical Image Segmentation", TPAMI 2011. Each
``groundTruth/<split>/<id>.mat`` holds a 1xK cell array of structs with ``Segmentation``
(uint16 region ids 1..n) and ``Boundaries`` (uint8 0/1), one per annotator.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["BSDSItem", "read_bsds500", "read_bsds_mat"]


@dataclass(frozen=True)
class BSDSItem:
    """One BSDS500 image with its K annotations.

    Attributes:
        image_id: file stem.
        image: ``(H, W, 3)`` uint8 (None when images were not read).
        segmentations: ``(K, H, W)`` uint16 region ids, one map per annotator.
        boundaries: ``(K, H, W)`` uint8 in {0, 1}.
    """

    image_id: str
    image: np.ndarray | None
    segmentations: np.ndarray
    boundaries: np.ndarray


def read_bsds_mat(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one ground-truth ``.mat``: ``(segmentations (K, H, W) uint16, boundaries (K, H, W)
    uint8)``. Raises ValueError naming the file when the layout is not BSDS500's."""
    from scipy.io import loadmat

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"BSDS500 ground-truth file must exist; got {path}")
    mat = loadmat(path)
    if "groundTruth" not in mat:
        raise ValueError(
            f"{path} must hold a variable 'groundTruth'; got {sorted(k for k in mat if k[0] != '_')}"
        )
    gt = mat["groundTruth"]
    segs, bnds = [], []
    for k in range(gt.size):
        entry = gt.flat[k]
        try:
            segs.append(np.asarray(entry["Segmentation"][0, 0], dtype=np.uint16))
            bnds.append(np.asarray(entry["Boundaries"][0, 0], dtype=np.uint8))
        except (ValueError, IndexError, KeyError) as e:
            raise ValueError(
                f"{path} annotator {k} must have fields Segmentation and Boundaries; got {e}"
            ) from e
    if not segs or len({s.shape for s in segs}) != 1:
        raise ValueError(
            f"{path} must hold >= 1 annotations of one size; got {[s.shape for s in segs]}"
        )
    return np.stack(segs), np.stack(bnds)


def read_bsds500(
    root: str | Path,
    split: str = "train",
    *,
    limit: int | None = None,
    read_images: bool = True,
) -> list[BSDSItem]:
    """Read ``root/groundTruth/<split>/*.mat`` (and ``root/images/<split>/*.jpg``).

    ``root`` is the ``bsds500`` folder. Items are sorted by image id; ``limit`` keeps the first.
    """
    root = Path(root)
    gt_dir = root / "groundTruth" / split
    if not gt_dir.is_dir():
        raise FileNotFoundError(f"BSDS500 folder {gt_dir} must exist")
    files = sorted(gt_dir.glob("*.mat"))
    if not files:
        raise ValueError(f"BSDS500 folder {gt_dir} must hold .mat files; got none")
    items = []
    for p in files[:limit]:
        segs, bnds = read_bsds_mat(p)
        image = None
        if read_images:
            from PIL import Image

            ip = root / "images" / split / f"{p.stem}.jpg"
            if not ip.is_file():
                raise FileNotFoundError(f"BSDS500 image for {p} must exist; got no {ip}")
            with Image.open(ip) as im:
                image = np.asarray(im.convert("RGB"))
            if image.shape[:2] != segs.shape[1:]:
                raise ValueError(
                    f"BSDS500 image {ip} must have the size of {p} {segs.shape[1:]}; "
                    f"got {image.shape[:2]}"
                )
        items.append(BSDSItem(p.stem, image, segs, bnds))
    return items
