"""ISBI-2012 membranes with COCO-N-style spatial mask noise: CE on clean masks, CE on noisy
masks, and ADELE (Liu et al., CVPR 2022) on noisy masks; mIoU of the held-out images against
clean masks.

The 30 labelled images are split 24 train / 6 test (fixed). Noise is simulated at 256 x 256
(the presets' design size); training and evaluation run at ``--image-size`` (default 128, for
the shared 2-core CPU) with a TinyUNet (width 8, depth 3), Adam, one thread.

    python benchmarks/segmentation_noise.py --data-dir /path/to/data --json out.json
"""

from __future__ import annotations

import time

import numpy as np
import torch
from _common import data_dir_or_exit, markdown_table, parser, report, row

from labelnoise.common.noise.masks import semantic_mask_noise
from labelnoise.tasks.segmentation.data import read_isbi2012, resize_batch
from labelnoise.tasks.segmentation.loop import AdeleConfig, fit_segmentation, predict
from labelnoise.tasks.segmentation.metrics import (
    boundary_f1,
    confusion_matrix,
    segmentation_metrics,
)
from labelnoise.tasks.segmentation.models import TinyUNet

METHODS = {
    "ce": {},
    "gce": {"loss": "gce", "loss_options": {"q": 0.7}},
    "adele": {"adele": AdeleConfig(scales=(0.75, 1.0))},
}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--levels", default="easy,medium,hard")
    p.add_argument("--methods", default="adele", help=f"besides CE; of {sorted(METHODS)}")
    args = p.parse_args()
    root = data_dir_or_exit(args) / "isbi2012"
    torch.set_num_threads(1)
    t0 = time.time()
    x256, y256 = read_isbi2012(root, image_size=256)
    size = args.image_size
    x, y = resize_batch(x256, size, mask=False), resize_batch(y256, size, mask=True)
    tr, te = slice(0, 24), slice(24, 30)

    def miou(pred, target):
        return segmentation_metrics(confusion_matrix(pred, target, 2))["miou"]

    def run(labels, method):
        torch.manual_seed(args.seed)
        model = TinyUNet(num_classes=2, width=8, depth=3)
        res = fit_segmentation(
            model,
            x[tr],
            labels,
            num_classes=2,
            epochs=args.epochs,
            seed=args.seed,
            **METHODS[method],
        )
        pred = predict(model, x[te]).argmax(1)
        bf1 = float(np.mean([boundary_f1(pr.numpy(), t.numpy()) for pr, t in zip(pred, y[te])]))
        return miou(pred, y[te]), bf1, res

    rows, table = [], []
    clean_miou, clean_bf1, _ = run(y[tr], "ce")
    rows.append(row("clean", "ce_clean", "miou", clean_miou, boundary_f1=clean_bf1))
    table.append(["clean", "-", "-", "CE on clean", clean_miou, clean_bf1, "-", "-"])
    for level in args.levels.split(","):
        noisy = semantic_mask_noise(y256[tr], num_classes=2, preset=level, seed=args.seed)
        labels = resize_batch(noisy.noisy, size, mask=True)
        rate = float((labels != y[tr]).float().mean())
        label_miou = miou(labels, y[tr])
        base, base_bf1, _ = run(labels, "ce")
        rows.append(
            row(
                level,
                "ce_noisy",
                "miou",
                base,
                boundary_f1=base_bf1,
                pixel_noise_rate=rate,
                label_miou=label_miou,
            )
        )
        table.append([level, rate, label_miou, "CE on noisy", base, base_bf1, 0.0, "-"])
        for method in args.methods.split(","):
            m, bf1, res = run(labels, method)
            gap = clean_miou - base
            recovered = (m - base) / gap if gap > 0 else float("nan")
            fixed = miou(res.labels, y[tr])
            rows.append(
                row(
                    level,
                    method,
                    "miou",
                    m,
                    boundary_f1=bf1,
                    gap_recovered=recovered,
                    corrected_label_miou=fixed,
                    onset=res.onset,
                )
            )
            table.append([level, rate, label_miou, method, m, bf1, recovered, fixed])
        print(f"{level} done after {time.time() - t0:.0f} s", flush=True)
    header = [
        "noise",
        "pixel noise rate",
        "noisy-label mIoU",
        "method",
        "test mIoU (clean)",
        "test boundary F1",
        "gap recovered",
        "train-label mIoU after",
    ]
    rows.append(row("all", "all", "wall_s", time.time() - t0))
    preamble = (
        f"ISBI-2012, 24 train / 6 test, noise at 256 px, trained at {size}x{size}, TinyUNet, "
        f"{args.epochs} epochs, seed {args.seed}, 1 thread; wall {time.time() - t0:.0f} s. "
        "gap recovered = (method - CE noisy) / (CE clean - CE noisy)."
    )
    report("segmentation_noise", markdown_table(header, table), rows, args.json, preamble)


if __name__ == "__main__":
    main()
