"""Image + mask PNG folders (ISBI-2012 layout: ``image/i.png`` pairs with ``label/i.png``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from labelnoise.common.units import IGNORE_INDEX

__all__ = ["IMAGE_SUFFIXES", "read_mask_folder", "read_pairs", "remap_mask"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def _load(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im)


def _files(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"{what} folder must exist; got {folder}")
    files = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
        key=lambda p: (len(p.stem), p.stem),
    )
    if not files:
        raise ValueError(f"{what} folder {folder} must hold image files {IMAGE_SUFFIXES}; got none")
    return files


def remap_mask(
    mask: np.ndarray,
    value_to_class: Mapping[int, int],
    *,
    ignore_value: int | None,
    path: Path | str,
) -> np.ndarray:
    """Map raw mask values to class ids ``(H, W) int64``; ``ignore_value`` -> ``IGNORE_INDEX``.

    Raises ValueError naming ``path`` when a value is neither a class value nor the ignore value.
    """
    if mask.ndim == 3:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ValueError(f"mask {path} must be 2-D (H, W); got shape {mask.shape}")
    values = np.unique(mask)
    allowed = set(value_to_class) | ({ignore_value} if ignore_value is not None else set())
    bad = [int(v) for v in values if int(v) not in allowed]
    if bad:
        raise ValueError(
            f"mask {path} values must be in {sorted(value_to_class)}"
            f"{'' if ignore_value is None else f' or ignore value {ignore_value}'}; got {bad[:10]}"
        )
    lut = np.full(int(max(values.max(), max(value_to_class))) + 1, IGNORE_INDEX, dtype=np.int64)
    for v, c in value_to_class.items():
        lut[v] = c
    return lut[mask.astype(np.int64)]


def read_mask_folder(
    folder: str | Path,
    value_to_class: Mapping[int, int],
    *,
    ignore_value: int | None = None,
) -> tuple[list[Path], list[np.ndarray]]:
    """Read every mask PNG of ``folder`` as ``(H, W) int64`` class ids (numeric file order)."""
    files = _files(Path(folder), "mask")
    masks = [remap_mask(_load(p), value_to_class, ignore_value=ignore_value, path=p) for p in files]
    return files, masks


def read_pairs(
    image_dir: str | Path,
    mask_dir: str | Path,
    value_to_class: Mapping[int, int],
    *,
    ignore_value: int | None = None,
    names: Sequence[str] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Read image/mask pairs that share a file stem.

    Args:
        image_dir: folder of images (greyscale ``(H, W)`` or RGB ``(H, W, 3)`` uint8).
        mask_dir: folder of masks with the same stems; values are mapped by ``value_to_class``
            (e.g. ISBI-2012 ``{0: 0, 255: 1}``: 0 = membrane, 1 = cell interior).
        ignore_value: a mask value marking unlabelled pixels (-> ``IGNORE_INDEX``).
        names: optional stems to read (default: every image).

    Returns:
        ``(images, masks, stems)``; masks ``(H, W) int64``.

    Raises:
        FileNotFoundError: a folder or a mask is missing (message names the path).
        ValueError: an empty folder, an image/mask size mismatch, or mask values outside the
            class set (messages name the file).
    """
    image_files = _files(Path(image_dir), "image")
    mask_dir = Path(mask_dir)
    _files(mask_dir, "mask")
    by_stem = {p.stem: p for p in image_files}
    stems = list(names) if names is not None else [p.stem for p in image_files]
    images, masks = [], []
    for stem in stems:
        if stem not in by_stem:
            raise FileNotFoundError(f"image {stem!r} must exist in {image_dir}; got none")
        candidates = [mask_dir / f"{stem}{s}" for s in IMAGE_SUFFIXES]
        mask_path = next((c for c in candidates if c.is_file()), None)
        if mask_path is None:
            raise FileNotFoundError(f"mask for image {by_stem[stem]} must exist in {mask_dir}")
        img = _load(by_stem[stem])
        raw = _load(mask_path)
        if img.shape[:2] != raw.shape[:2]:
            raise ValueError(
                f"mask {mask_path} must have the size of image {by_stem[stem]} "
                f"{img.shape[:2]}; got {raw.shape[:2]}"
            )
        images.append(img)
        masks.append(remap_mask(raw, value_to_class, ignore_value=ignore_value, path=mask_path))
    return images, masks, stems
