"""The instance segmentation adapter: torchvision Mask R-CNN (He et al., ICCV 2017) in the
engine, trained on COCO-N-style noisy instance annotations, evaluated by mask AP.

Data. ``<data_dir>/<dataset>/train/{image,label}`` image / mask pairs as for ISBI-2012 (0/255
masks, :func:`labelnoise.tasks.segmentation.readers.read_pairs`); the instances are the
connected components (4-connectivity) of the foreground value 255 -- for ISBI-2012 the cells,
separated by membrane (one class, ``cell``). Components are found and corrupted at 256 x 256
(the resolution of the semantic task's noise; COCO-N preset pixel sizes), then each instance
mask is resized (nearest) to ``image_size``; instances smaller than ``min_area`` pixels there
are dropped. The first ``N - val_count`` images train, the rest are validation (noisy and
clean annotations) and test (clean). Images are scaled to ``[0, 1]`` and repeated on 3 channels.

Noise. :func:`labelnoise.common.noise.instance_mask_noise` per image (``noise.preset``:
``none``, ``easy``, ``medium``, ``hard``: per instance a spatial corruption, a class flip,
or a drop), image ``i`` seeded by the ``i``-th draw of a generator seeded by ``noise.seed``
(default: the run seed), so an image's noise does not depend on how many images follow.

Training. Mask R-CNN computes its own losses in train mode (RPN objectness and box, ROI
classification, box and mask: a dict). ``method: maskrcnn`` (:mod:`labelnoise.methods.maskrcnn`)
makes their sum the step's loss through :meth:`InstanceSegmentationAdapter.train_losses`; there
are no per-unit training losses, so core losses, selectors and label-issue detection do not
apply (``loss: ce``, ``selector: none``, ``detection: none``).

Evaluation units. :meth:`InstanceSegmentationAdapter.units` (eval mode) returns one unit per
predicted instance and one per annotated instance of each image: ``pred (U, 2 + S*S)`` =
``[score, class, mask (row-major, 0/1)]``, ``target (U,)`` = the class of an annotated
instance and ``-1`` for a prediction, ``example_id`` = the image. :meth:`metrics` regroups
them per image and returns COCO mask AP (:func:`~labelnoise.tasks.segmentation.mask_ap.\
mask_average_precision`: ``map`` = AP@[.5:.95], ``map_50``, ``map_75``; no crowd regions or
area ranges). Simplified: one foreground class, fixed square images, CPU-sized tiny backbone
by default (``backbone: resnet50_fpn`` is torchvision's, randomly initialised).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from labelnoise.common._random import numpy_rng
from labelnoise.common.noise.masks import instance_mask_noise
from labelnoise.common.units import Units
from labelnoise.tasks.base import DatasetSplits, TaskAdapter
from labelnoise.tasks.segmentation.mask_ap import mask_average_precision, mask_iou

__all__ = ["InstanceConfig", "InstanceDataset", "InstanceSegmentationAdapter"]

NOISE_SIZE = 256


@dataclass
class InstanceNoiseOptions:
    preset: Literal["none", "easy", "medium", "hard"] = "none"
    seed: int | None = None


@dataclass
class InstanceConfig:
    """The recipe's ``task:`` section for ``instance_segmentation``.

    Attributes:
        dataset: folder under the data root with ``train/{image,label}`` pairs.
        image_size: working side ``S`` (images and masks resized to ``S x S``).
        val_count: images held out (the last ones) for validation and test.
        min_area: instances with fewer pixels at ``S x S`` are dropped (clean and noisy).
        backbone: ``tiny`` (four conv layers, ``width`` channels) or ``resnet50_fpn``.
        width: channels of the tiny backbone.
        detections_per_img: at most this many detections per image.
        noise: ``{preset, seed}`` of the simulated annotation noise (training and val).
    """

    dataset: str = "isbi2012"
    image_size: int = 128
    val_count: int = 6
    min_area: int = 4
    backbone: Literal["tiny", "resnet50_fpn"] = "tiny"
    width: int = 32
    detections_per_img: int = 100
    noise: InstanceNoiseOptions = field(default_factory=InstanceNoiseOptions)

    def __post_init__(self) -> None:
        for key in ("image_size", "width", "detections_per_img"):
            if getattr(self, key) < 1:
                raise ValueError(f"task.{key} must be >= 1; got {getattr(self, key)!r}")
        if self.min_area < 0:
            raise ValueError(f"task.min_area must be >= 0; got {self.min_area!r}")


def _instances(mask: np.ndarray) -> np.ndarray:
    """``(K, H, W)`` bool: the 4-connected components of ``mask``."""
    from scipy import ndimage

    lab, k = ndimage.label(mask)
    return lab[None] == np.arange(1, k + 1)[:, None, None]


def _resize_masks(masks: np.ndarray, size: int, min_area: int) -> Tensor:
    """``(K, H, W)`` bool -> ``(K', S, S)`` uint8 (nearest), without instances under
    ``min_area`` pixels."""
    import torch.nn.functional as F

    m = torch.from_numpy(masks).float()[:, None]
    if m.shape[-1] != size:
        m = F.interpolate(m, size=(size, size), mode="nearest") if len(m) else m[..., :size, :size]
    m = m[:, 0].to(torch.uint8)
    return m[m.flatten(1).sum(1) >= max(min_area, 1)] if len(m) else m.reshape(0, size, size)


class InstanceDataset(Dataset):
    """Items ``{"image": (3, S, S), "target": {"masks": (K, S, S) uint8, "labels": (K,)},
    "example_id"}`` plus ``"clean_target"`` (same form) when ``clean`` is given."""

    def __init__(
        self, images: Tensor, target: list[dict[str, Tensor]], clean: list | None = None
    ) -> None:
        if len(images) != len(target) or (clean is not None and len(clean) != len(target)):
            raise ValueError(
                f"images, target and clean must have one entry per image; got {len(images)}, "
                f"{len(target)} and {None if clean is None else len(clean)}"
            )
        self.images, self.target, self.clean = images, target, clean

    def __len__(self) -> int:
        return len(self.target)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = {"image": self.images[i], "target": self.target[i], "example_id": i}
        if self.clean is not None:
            item["clean_target"] = self.clean[i]
        return item


class InstanceSegmentationAdapter(TaskAdapter):
    """Mask R-CNN on noisy instance masks (module docstring)."""

    name = "instance_segmentation"
    methods = frozenset({"maskrcnn"})  # Mask R-CNN trains on its own loss dict
    Config = InstanceConfig

    def build_datasets(self, data_dir: Path | None, *, seed: int) -> DatasetSplits:
        from labelnoise.tasks.segmentation.data import _resize
        from labelnoise.tasks.segmentation.readers import read_pairs

        c = self.config
        root = Path(c.dataset) if data_dir is None else Path(data_dir) / c.dataset
        images, masks, _ = read_pairs(
            root / "train" / "image", root / "train" / "label", {0: 0, 255: 1}
        )
        if not 0 < c.val_count < len(images):
            raise ValueError(f"task.val_count must be in (0, {len(images)}); got {c.val_count}")
        rng = numpy_rng(seed if c.noise.seed is None else c.noise.seed)
        x: list[Tensor] = []
        clean: list[dict[str, Tensor]] = []
        noisy: list[dict[str, Tensor]] = []
        dropped, total, ious = 0, 0, []
        for image, mask in zip(images, masks):
            img = _resize(np.asarray(image, dtype=np.uint8), c.image_size, nearest=False)
            x.append(torch.from_numpy(img.astype(np.float32) / 255.0).expand(3, -1, -1))
            inst = _instances(_resize(mask.astype(np.uint8), NOISE_SIZE, nearest=True) == 1)
            labels = np.ones(len(inst), dtype=np.int64)
            image_seed = int(rng.integers(2**31))  # one per image, drawn in order
            out = instance_mask_noise(
                inst, labels, num_classes=2, preset=c.noise.preset, seed=image_seed
            )
            kept = ~out.dropped.numpy()
            dropped, total = dropped + int((~kept).sum()), total + len(inst)
            if len(inst):
                iou = mask_iou(out.masks.noisy.numpy()[kept], inst[kept])
                ious.extend(np.diag(iou).tolist())
            for store, m in ((clean, inst), (noisy, out.masks.noisy.numpy()[kept])):
                m = _resize_masks(m, c.image_size, c.min_area)
                store.append({"masks": m, "labels": torch.ones(len(m), dtype=torch.int64)})
        images_t = torch.stack(x).contiguous()
        n_tr = len(images) - c.val_count
        return DatasetSplits(
            train=InstanceDataset(images_t[:n_tr], noisy[:n_tr]),
            val=InstanceDataset(images_t[n_tr:], noisy[n_tr:], clean[n_tr:]),
            test=InstanceDataset(images_t[n_tr:], clean[n_tr:]),
            num_classes=2,
            class_names=["background", "cell"],
            info={
                "noise_preset": c.noise.preset,
                "instances": total,
                "dropped_fraction": dropped / max(total, 1),
                "mean_kept_mask_iou": float(np.mean(ious)) if ious else float("nan"),
            },
        )

    def build_model(self, splits: DatasetSplits) -> nn.Module:
        from labelnoise.tasks.segmentation.instance import build_maskrcnn

        c = self.config
        return build_maskrcnn(
            splits.num_classes,
            backbone=c.backbone,
            image_size=c.image_size,
            width=c.width,
            detections_per_img=c.detections_per_img,
        )

    def collate(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Images stacked; annotations kept as one dict per image."""
        out: dict[str, Any] = {
            "image": torch.stack([it["image"] for it in items]),
            "example_id": torch.tensor([int(it["example_id"]) for it in items]),
        }
        for key in ("target", "clean_target"):
            if key in items[0]:
                out[key] = [it[key] for it in items]
        return out

    @staticmethod
    def _targets(batch: dict[str, Any], key: str) -> list[dict[str, Tensor]]:
        """Mask R-CNN targets (boxes from the masks) of a batch's annotations."""
        from labelnoise.tasks.segmentation.instance import to_target

        return [to_target(t["masks"].cpu(), t["labels"].cpu()) for t in batch[key]]

    def train_losses(self, model: nn.Module, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Mask R-CNN's loss dict on a training batch (``target``: the noisy annotations)."""
        device = batch["image"].device
        targets = [{k: v.to(device) for k, v in t.items()} for t in self._targets(batch, "target")]
        return model(list(batch["image"]), targets)

    def units(
        self, model: nn.Module, batch: dict[str, Any], *, target_key: str = "target"
    ) -> Units:
        if model.training:
            raise ValueError(
                "task instance_segmentation trains with method: {name: maskrcnn} (Mask R-CNN's "
                "own losses); units() only evaluates (the model must be in eval mode)"
            )
        side = self.config.image_size
        out = model(list(batch["image"]))
        preds, targets, ids = [], [], []
        for o, t, i in zip(out, batch[target_key], batch["example_id"].tolist()):
            det = (o["masks"][:, 0] > 0.5).flatten(1).float()
            gt = t["masks"].flatten(1).float().to(det.device)
            rows = torch.cat(
                [
                    torch.cat([o["scores"][:, None], o["labels"][:, None].float(), det], 1),
                    torch.cat(
                        [gt.new_full((len(gt), 1), -1.0), t["labels"][:, None].to(gt), gt], 1
                    ),
                ]
            )
            preds.append(rows.reshape(-1, 2 + side * side))
            targets.append(
                torch.cat([o["labels"].new_full((len(det),), -1), t["labels"].to(det.device)])
            )
            ids.append(torch.full((len(rows),), i, dtype=torch.long, device=det.device))
        return Units(torch.cat(preds), torch.cat(targets).long(), torch.cat(ids))

    def metrics(self, units: Units) -> dict[str, float]:
        """COCO mask AP of the gathered units (module docstring)."""
        side = self.config.image_size
        pred, target, ids = units.pred.float(), units.target.long(), units.example_id.long()
        predictions, annotations = [], []
        for i in torch.unique(ids).tolist():
            sel = ids == i
            p, t = pred[sel], target[sel]
            det, gt = p[t < 0], p[t >= 0]
            predictions.append(
                {
                    "masks": det[:, 2:].view(-1, side, side).bool().numpy(),
                    "scores": det[:, 0].numpy(),
                    "labels": det[:, 1].long().numpy(),
                }
            )
            annotations.append(
                {
                    "masks": gt[:, 2:].view(-1, side, side).bool().numpy(),
                    "labels": t[t >= 0].numpy(),
                }
            )
        return mask_average_precision(predictions, annotations)

    @property
    def primary_metric(self) -> str:
        return "map"
