"""ISBI-2012 membranes with COCO-N-style spatial mask noise: CE on clean masks, CE on noisy
masks, and noise-robust methods on noisy masks; mIoU of the held-out images against clean masks.

The 30 labelled images are split 24 train / 6 test (fixed). Noise (COCO-N's presets: one
spatial corruption per cell, COCO's pixel sizes; one foreground class, so no class flips) is
simulated at 256 x 256; training and evaluation run at ``--image-size`` (default 128, for
the shared 2-core CPU) with a TinyUNet (width 8, depth 3), Adam (lr 3e-3, cosine), batch 4,
flips, one thread. Every method uses its paper's default hyper-parameters (nothing is tuned on
the test masks); ``forward`` estimates its transition matrix from anchor points of the CE model
trained on the same noisy masks (Patrini et al., 2017). Each seed draws its own noise and
initialisation; the table reports the mean (and spread) over ``--seeds``.

    python benchmarks/segmentation_noise.py --data-dir /path/to/data --json out.json
    python benchmarks/segmentation_noise.py --data-dir DIR --levels hard --methods all --tag methods
"""

from __future__ import annotations

import time

import numpy as np
import torch
from _common import data_dir_or_exit, markdown_table, parser, report, row

from labelnoise.common.detection.transition_estimation import estimate_transition_anchor
from labelnoise.common.noise.masks import semantic_mask_noise
from labelnoise.tasks.segmentation.boundary import ignore_near_boundary
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
    "bootstrap_hard": {"loss": "bootstrap_hard", "loss_options": {"beta": 0.8}},
    "gce": {"loss": "gce", "loss_options": {"q": 0.7}},
    "sce": {"loss": "sce", "loss_options": {"alpha": 0.1, "beta": 1.0}},
    "elr": {"loss": "elr", "loss_options": {"lam": 3.0, "beta": 0.7}},
    "small_loss": {
        "selector": "small_loss",
        "selector_options": {"forget_rate": 0.2, "num_gradual": 5},
    },
    "forward": {"loss": "forward"},  # transition estimated from the CE model
    "relax": {},  # CE with pixels within 1 px of the noisy boundary ignored
    "adele": {"adele": AdeleConfig()},
}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--levels", default="easy,medium,hard")
    p.add_argument(
        "--methods",
        default="small_loss,gce,bootstrap_hard,forward,relax",
        help=f"'all' or of {sorted(METHODS)}",
    )
    p.add_argument("--tag", default="", help="results file suffix: segmentation_noise_<tag>.md")
    args = p.parse_args()
    root = data_dir_or_exit(args) / "isbi2012"
    torch.set_num_threads(1)
    t0 = time.time()
    x256, y256 = read_isbi2012(root, image_size=256)
    size = args.image_size
    x, y = resize_batch(x256, size, mask=False), resize_batch(y256, size, mask=True)
    tr, te = slice(0, 24), slice(24, 30)
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = (
        [m for m in METHODS if m != "ce"] if args.methods == "all" else args.methods.split(",")
    )

    def miou(pred, target):
        return segmentation_metrics(confusion_matrix(pred, target, 2))["miou"]

    def run(labels, method, seed, transition=None):
        torch.manual_seed(seed)
        model = TinyUNet(num_classes=2, width=8, depth=3)
        options = dict(METHODS[method])
        if method == "forward":
            options["loss_options"] = {"transition": transition}
        if method == "relax":
            labels = ignore_near_boundary(labels, k=1)
        res = fit_segmentation(
            model,
            x[tr],
            labels,
            num_classes=2,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=seed,
            **options,
        )
        pred = predict(model, x[te]).argmax(1)
        bf1 = float(np.mean([boundary_f1(pr.numpy(), t.numpy()) for pr, t in zip(pred, y[te])]))
        return {"miou": miou(pred, y[te]), "bf1": bf1, "model": model, "res": res}

    rows, results = [], {}  # results[(level, method)] = list over seeds
    results[("clean", "ce")] = [run(y[tr], "ce", s) for s in seeds]
    stats = {}
    for level in args.levels.split(","):
        for s in seeds:
            noisy = semantic_mask_noise(y256[tr], num_classes=2, preset=level, seed=s).noisy
            labels = resize_batch(noisy, size, mask=True)
            stats.setdefault(level, []).append(
                ((labels != y[tr]).float().mean().item(), miou(labels, y[tr]))
            )
            base = run(labels, "ce", s)
            results.setdefault((level, "ce"), []).append(base)
            t = None
            if "forward" in methods:
                probs = predict(base["model"], x[tr]).permute(0, 2, 3, 1).reshape(-1, 2)
                t = torch.as_tensor(estimate_transition_anchor(probs.numpy()).matrix).float()
            for m in methods:
                out = run(labels, m, s, transition=t)
                results.setdefault((level, m), []).append(out)
        print(f"{level} done after {time.time() - t0:.0f} s", flush=True)

    clean = np.mean([r["miou"] for r in results[("clean", "ce")]])
    table = [["clean", "-", "-", "CE on clean", _ms(results[("clean", "ce")], "miou"), "-", "-"]]
    rows.append(row("clean", "ce_clean", "miou", clean, per_seed=_seeds(results, "clean", "ce")))
    for level in args.levels.split(","):
        rate, label_miou = np.mean(stats[level], axis=0)
        base = np.mean([r["miou"] for r in results[(level, "ce")]])
        for m in ["ce", *methods]:
            rs = results[(level, m)]
            mean = float(np.mean([r["miou"] for r in rs]))
            recovered = (mean - base) / (clean - base) if clean > base else float("nan")
            name = "CE on noisy" if m == "ce" else m
            table.append(
                [level, rate, label_miou, name, _ms(rs, "miou"), _ms(rs, "bf1"), recovered]
            )
            rows.append(
                row(
                    level,
                    "ce_noisy" if m == "ce" else m,
                    "miou",
                    mean,
                    per_seed=[r["miou"] for r in rs],
                    boundary_f1=float(np.mean([r["bf1"] for r in rs])),
                    gap_recovered=recovered,
                    pixel_noise_rate=rate,
                    label_miou=label_miou,
                    corrected_label_miou=(
                        float(np.mean([miou(r["res"].labels, y[tr]) for r in rs]))
                        if m == "adele"
                        else None
                    ),
                )
            )
    wall = time.time() - t0
    rows.append(row("all", "all", "wall_s", wall))
    header = [
        "noise",
        "pixel noise rate",
        "noisy-label mIoU",
        "method",
        "test mIoU (clean), mean ± sd",
        "test boundary F1",
        "gap recovered (means)",
    ]
    preamble = (
        f"ISBI-2012, 24 train / 6 test, noise at 256 px, trained at {size}x{size}, TinyUNet, "
        f"{args.epochs} epochs, batch {args.batch_size}, seeds {args.seeds} (noise and init), "
        f"1 thread; wall {wall:.0f} s. gap recovered = (method - CE noisy) / "
        "(CE clean - CE noisy), on the means over seeds."
    )
    name = "segmentation_noise" + (f"_{args.tag}" if args.tag else "")
    report(name, markdown_table(header, table), rows, args.json, preamble)


def _ms(rs: list[dict], key: str) -> str:
    v = np.array([r[key] for r in rs])
    return f"{v.mean():.4f} ± {v.std():.4f}" if len(v) > 1 else f"{v.mean():.4f}"


def _seeds(results: dict, level: str, method: str) -> list[float]:
    return [r["miou"] for r in results[(level, method)]]


if __name__ == "__main__":
    main()
