"""ISBI-2012 membranes with COCO-N-style spatial mask noise: CE on clean masks, CE on noisy
masks, and noise-robust methods on noisy masks; mIoU of the held-out images against clean masks.

The 30 labelled images are split 24 train / 6 test (fixed). Noise is simulated at 256 x 256
(the presets' design size); training and evaluation run at ``--image-size`` (default 128, for
the shared 2-core CPU) with a TinyUNet (width 8, depth 3).

    python benchmarks/segmentation_noise.py --data-dir /path/to/data --json out.json
"""

from __future__ import annotations

import time

import torch
from _common import data_dir_or_exit, markdown_table, parser, report, row

from labelnoise.common.noise.masks import semantic_mask_noise
from labelnoise.tasks.segmentation.data import read_isbi2012, resize_batch
from labelnoise.tasks.segmentation.loop import AdeleConfig, fit_segmentation, predict
from labelnoise.tasks.segmentation.metrics import confusion_matrix, segmentation_metrics
from labelnoise.tasks.segmentation.models import TinyUNet


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--levels", default="easy,medium,hard")
    p.add_argument("--methods", default="ce,gce,adele")
    args = p.parse_args()
    root = data_dir_or_exit(args) / "isbi2012"
    torch.set_num_threads(1)
    t0 = time.time()
    x256, y256 = read_isbi2012(root, image_size=256)
    x, y = (
        resize_batch(x256, args.image_size, mask=False),
        resize_batch(y256, args.image_size, mask=True),
    )
    tr, te = slice(0, 24), slice(24, 30)

    def run(labels, method):
        torch.manual_seed(args.seed)
        model = TinyUNet(num_classes=2, width=8, depth=3)
        opts = {
            "ce": {},
            "gce": {"loss": "gce", "loss_options": {"q": 0.7}},
            "adele": {"adele": AdeleConfig()},
        }[method]
        res = fit_segmentation(
            model, x[tr], labels, num_classes=2, epochs=args.epochs, seed=args.seed, **opts
        )
        pred = predict(model, x[te]).argmax(1)
        return segmentation_metrics(confusion_matrix(pred, y[te], 2))["miou"], res

    rows, table = [], []
    clean_miou, _ = run(y[tr], "ce")
    rows.append(row("clean", "ce_clean", "miou", clean_miou))
    table.append(["clean", "-", "CE on clean", clean_miou, "-"])
    for level in args.levels.split(","):
        noisy = semantic_mask_noise(y256[tr], num_classes=2, preset=level, seed=args.seed)
        labels = resize_batch(noisy.noisy, args.image_size, mask=True)
        rate = float((labels != y[tr]).float().mean())
        base, _ = run(labels, "ce")
        rows.append(row(level, "ce_noisy", "miou", base, pixel_noise_rate=rate))
        table.append([level, rate, "CE on noisy", base, 0.0])
        for method in args.methods.split(","):
            if method == "ce":
                continue
            m, _ = run(labels, method)
            gap = clean_miou - base
            recovered = (m - base) / gap if gap > 0 else float("nan")
            rows.append(row(level, method, "miou", m, gap_recovered=recovered))
            table.append([level, rate, method, m, recovered])
        print(f"{level} done after {time.time() - t0:.0f} s", flush=True)
    header = ["noise", "pixel noise rate", "method", "test mIoU (clean)", "gap recovered"]
    rows.append(row("all", "all", "wall_s", time.time() - t0))
    preamble = (
        f"ISBI-2012, 24 train / 6 test, {args.image_size}x{args.image_size}, TinyUNet, "
        f"{args.epochs} epochs, seed {args.seed}, 1 thread; wall {time.time() - t0:.0f} s."
    )
    report("segmentation_noise", markdown_table(header, table), rows, args.json, preamble)


if __name__ == "__main__":
    main()
