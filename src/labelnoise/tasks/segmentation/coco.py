"""COCO-format instance annotations: polygons and RLE (uncompressed and compressed counts),
decoded without pycocotools.

Lin et al., "Microsoft COCO", ECCV 2014; the RLE string format is pycocotools' ``rleToString``
(5-bit groups offset by 48, with a continuation bit and delta coding from the third count on).
Masks are column-major runs starting with background.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["CocoImage", "decode_rle", "polygons_to_mask", "read_coco", "rle_from_string"]


@dataclass(frozen=True)
class CocoImage:
    """One image: ``masks (K, H, W)`` bool, ``labels (K,)`` category ids (as in the file),
    ``boxes (K, 4)`` xyxy float32 from the masks."""

    image_id: int
    file_name: str
    height: int
    width: int
    masks: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray


def rle_from_string(s: str) -> list[int]:
    """Decode pycocotools' compressed RLE counts string into run lengths."""
    counts: list[int] = []
    p = 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def decode_rle(rle: dict, *, where: str = "rle") -> np.ndarray:
    """``{"size": [h, w], "counts": list | str}`` -> ``(h, w)`` bool mask."""
    h, w = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    runs = rle_from_string(counts) if isinstance(counts, str) else [int(c) for c in counts]
    if any(r < 0 for r in runs) or sum(runs) != h * w:
        raise ValueError(f"{where}: RLE counts must be >= 0 and sum to {h * w}; got {sum(runs)}")
    values = np.zeros(len(runs), dtype=bool)
    values[1::2] = True
    return np.repeat(values, runs).reshape(w, h).T


def polygons_to_mask(
    polygons: list, height: int, width: int, *, where: str = "polygon"
) -> np.ndarray:
    """Rasterise COCO polygons ``[[x1, y1, x2, y2, ...], ...]`` (PIL, pixel centres)."""
    from PIL import Image, ImageDraw

    im = Image.new("1", (width, height), 0)
    draw = ImageDraw.Draw(im)
    for poly in polygons:
        if len(poly) < 6 or len(poly) % 2:
            raise ValueError(
                f"{where}: a polygon must have >= 3 points (6 coordinates); got {len(poly)} values"
            )
        draw.polygon([(float(poly[i]), float(poly[i + 1])) for i in range(0, len(poly), 2)], fill=1)
    return np.asarray(im, dtype=bool)


def _boxes(masks: np.ndarray) -> np.ndarray:
    out = np.zeros((len(masks), 4), dtype=np.float32)
    for i, m in enumerate(masks):
        ys, xs = np.nonzero(m)
        if ys.size:
            out[i] = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    return out


def read_coco(path: str | Path) -> list[CocoImage]:
    """Read a COCO instances JSON (``images``, ``annotations``; ``iscrowd`` ones skipped).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError (naming the file): an annotation for an image id not in ``images``, a polygon
            with fewer than 3 points, an RLE whose size differs from its image, bad counts.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"COCO annotation file must exist; got {path}")
    data = json.loads(path.read_text())
    for key in ("images", "annotations"):
        if key not in data:
            raise ValueError(f"{path} must have a {key!r} list; got keys {sorted(data)}")
    images = {int(im["id"]): im for im in data["images"]}
    per_image: dict[int, list] = {i: [] for i in images}
    for ann in data["annotations"]:
        iid = int(ann["image_id"])
        where = f"{path} annotation {ann.get('id')}"
        if iid not in images:
            raise ValueError(f"{where}: image_id must be one of the file's images; got {iid}")
        if ann.get("iscrowd", 0):
            continue
        im = images[iid]
        h, w = int(im["height"]), int(im["width"])
        seg = ann["segmentation"]
        if isinstance(seg, dict):
            if [int(v) for v in seg["size"]] != [h, w]:
                raise ValueError(f"{where}: RLE size must be {[h, w]}; got {seg['size']}")
            mask = decode_rle(seg, where=where)
        else:
            mask = polygons_to_mask(seg, h, w, where=where)
        per_image[iid].append((mask, int(ann["category_id"])))
    out = []
    for iid, im in images.items():
        h, w = int(im["height"]), int(im["width"])
        anns = per_image[iid]
        masks = np.stack([m for m, _ in anns]) if anns else np.zeros((0, h, w), dtype=bool)
        labels = np.array([c for _, c in anns], dtype=np.int64)
        out.append(CocoImage(iid, str(im.get("file_name", "")), h, w, masks, labels, _boxes(masks)))
    return out
