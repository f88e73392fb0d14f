"""ISBI-2012 membranes with COCO-N-style spatial mask noise: CE on clean masks, CE on noisy
masks, and noise-robust methods on noisy masks; mIoU of the held-out images against clean masks,
with the argmax decision and with the prior-matched decision rule.

Protocol. The 30 labelled images are split 24 train / 6 test (fixed). Noise (COCO-N's presets:
one spatial corruption per cell, COCO's pixel sizes; one foreground class, so no class flips) is
simulated at 256 x 256; training and evaluation run at ``--image-size`` (default 128, for the
shared 2-core CPU) with a TinyUNet (width 8, depth 3), Adam (lr 3e-3, cosine), batch 4, flips,
20 epochs, one thread. Every method uses its paper's default hyper-parameters (nothing is tuned
on the test masks): bootstrap_hard beta 0.8 (Reed et al. 2015), GCE q 0.7 (Zhang & Sabuncu
2018), ELR lambda 3, beta 0.7 (Liu et al. 2020), small-loss forget rate 0.2 over 5 epochs (Han
et al. 2018); ``forward`` estimates its transition matrix from anchor points of the CE model
trained on the same noisy masks (Patrini et al. 2017). Each seed draws its own noise and
initialisation; the table reports the mean (and spread) over ``--seeds``.

Decision rule. Hard boundary noise erases thin membrane, so a model trained on the noisy masks
learns a membrane posterior that stays near or below 1/2 on true membrane and the argmax
predicts too little membrane. The prior-matched rule
(:func:`labelnoise.common.decision.fit_prior_offsets`) adds per-class logit offsets fitted so
that, on the TRAINING images, the model predicts each class for the fraction of pixels that
class has in the NOISY training masks (a quantile threshold for two classes); the same offsets
are applied on the test images. It uses no clean and no test labels. Every row (CE on clean
included, with its own training masks' frequencies) reports both decisions.

Gap recovered = (method - CE noisy) / (CE clean - CE noisy) on the means over seeds, with CE on
clean and CE on noisy both decided by argmax (the standard baseline); the last column takes CE
on noisy with the prior-matched rule as its baseline instead, i.e. what the method adds on top
of the rule.

Every number comes from the engine (:func:`labelnoise.engine.train`): each run is a recipe of
``recipes/segmentation/`` plus overrides (``seed``, ``task.noise.preset``, ``task.decision:
prior_match``, the loss or ``task.ignore_boundary`` for methods without a recipe of their
own, and the protocol flags below); the JSON rows and the table name them. With
``task.decision: prior_match`` the adapter reports both decisions of the same trained model
(``test.miou`` prior-matched, ``test.miou_argmax``), so each (method, level, seed) trains once.

    python benchmarks/segmentation_noise.py --data-dir /path/to/data --json out.json
    python benchmarks/segmentation_noise.py --data-dir DIR --levels hard --methods all --tag methods
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import data_dir_or_exit, markdown_table, parser, report, row

from labelnoise.common.detection.transition_estimation import estimate_transition_anchor
from labelnoise.config import load_recipe, resolve
from labelnoise.engine import train
from labelnoise.engine.setup import build_task
from labelnoise.tasks.segmentation.data import stack_items
from labelnoise.tasks.segmentation.metrics import confusion_matrix, segmentation_metrics
from labelnoise.tasks.segmentation.models import predict

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "segmentation"

# method -> (recipe in recipes/segmentation/, overrides on top of it). Paper defaults: see above.
METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "ce": ("isbi2012_hard_ce.yaml", {}),
    "bootstrap_hard": ("isbi2012_hard_bootstrap_hard.yaml", {}),
    "gce": ("isbi2012_hard_ce.yaml", {"loss": {"name": "gce", "q": 0.7}}),
    "sce": ("isbi2012_hard_ce.yaml", {"loss": {"name": "sce", "alpha": 0.1, "beta": 1.0}}),
    "elr": ("isbi2012_hard_elr_prior.yaml", {}),
    "small_loss": ("isbi2012_hard_small_loss.yaml", {}),
    "forward": ("isbi2012_hard_ce.yaml", {"loss": {"name": "forward"}}),  # + T of the CE run
    "relax": ("isbi2012_hard_ce.yaml", {"task": {"ignore_boundary": 1}}),  # 1 px band ignored
    "adele": ("isbi2012_hard_adele.yaml", {}),
}
KEYS = ("miou_argmax", "miou", "boundary_f1_argmax", "boundary_f1")  # table column order


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--levels", default="easy,medium,hard")
    p.add_argument(
        "--methods",
        default="small_loss,gce,bootstrap_hard,elr,forward,relax",
        help=f"'all' or of {sorted(METHODS)}",
    )
    p.add_argument("--tag", default="", help="results file suffix: segmentation_noise_<tag>.md")
    p.add_argument(
        "--runs-dir",
        type=Path,
        default=None,
        help="keep the run directories here; a run already there (same config) is resumed or, "
        "when finished, read back instead of trained again (split a table over processes)",
    )
    p.add_argument("--skip-clean", action="store_true", help="no CE-on-clean runs, no table")
    args = p.parse_args()
    data_dir = data_dir_or_exit(args)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(1)
    t0 = time.time()
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = (
        [m for m in METHODS if m != "ce"] if args.methods == "all" else args.methods.split(",")
    )
    for m in methods:
        if m not in METHODS:
            raise SystemExit(f"--methods must be 'all' or of {sorted(METHODS)}; got {m!r}")
    tmp = tempfile.TemporaryDirectory() if args.runs_dir is None else None
    runs = Path(tmp.name) if tmp is not None else args.runs_dir
    protocol = {
        "task": {"image_size": args.image_size, "decision": "prior_match"},
        "data": {"batch_size": args.batch_size},
        "train": {"epochs": args.epochs, "num_threads": 1, "progress": False},
    }

    def run(level: str, method: str, seed: int, extra: dict | None = None) -> dict[str, Any]:
        """Train one recipe + overrides through the engine; its test metrics and facts."""
        recipe, overrides = METHODS[method]
        named = _merge(overrides, {"seed": seed, "task": {"noise": {"preset": level}}}, extra or {})
        local = {"data": {"data_dir": str(data_dir)}, "output_dir": str(runs / level / method)}
        local["output_dir"] += f"/seed{seed}"
        cfg = resolve(load_recipe(RECIPES / recipe), _merge(protocol, named, local))
        reuse = args.runs_dir is not None and (cfg.run_dir / "config.yaml").is_file()
        metrics = train(cfg, resume=reuse, overwrite=not reuse)  # reuse: finish or read it
        task = build_task(cfg)  # the engine's cached task: its adapter holds the offsets
        offsets = task.adapter.offsets  # None when the run was read back, not trained here
        out = {k: metrics["test"][k] for k in KEYS}
        out |= {
            "recipe": f"recipes/segmentation/{recipe}",
            "overrides": named,
            "cfg": cfg,
            "noise_rate": metrics["data"]["train_pixel_noise_rate"],
            "label_miou": metrics["data"]["train_label_miou"],
            "offset": float("nan") if offsets is None else float(offsets[1] - offsets[0]),
            "wall_s": metrics["train"]["wall_time_s"],
        }
        if method == "adele":
            labels = torch.load(cfg.run_dir / "adele_labels.pt", weights_only=True)
            clean = torch.stack([task.splits.train[i]["clean_target"] for i in range(len(labels))])
            out["corrected_label_miou"] = miou(labels, clean)
        return out

    def transition(ce: dict[str, Any]) -> list[list[float]]:
        """Anchor-point T (Patrini et al. 2017) from the CE run's selected model's posteriors
        on the training pixels (a re-evaluation of its best_model.pt, no training)."""
        cfg = ce["cfg"]
        task = build_task(cfg)
        model = task.adapter.build_model(task.splits)
        state = torch.load(cfg.run_dir / "best_model.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        images, _ = stack_items(task.splits.train)
        probs = predict(model, images).permute(0, 2, 3, 1).reshape(-1, task.splits.num_classes)
        return estimate_transition_anchor(probs.numpy()).matrix.tolist()

    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    if not args.skip_clean:
        results[("clean", "ce")] = [run("none", "ce", s) for s in seeds]
    for level in args.levels.split(","):
        for s in seeds:
            base = run(level, "ce", s)
            results.setdefault((level, "ce"), []).append(base)
            for m in methods:
                extra = None
                if m == "forward":
                    extra = {"loss": {"transition": transition(base)}}
                results.setdefault((level, m), []).append(run(level, m, s, extra))
        print(f"{level} done after {time.time() - t0:.0f} s", flush=True)
    if tmp is not None:
        tmp.cleanup()
    if args.skip_clean:
        return
    wall_runs = sum(r["wall_s"] for rs in results.values() for r in rs)

    def mean(level, method, key):
        return float(np.mean([r[key] for r in results[(level, method)]]))

    def gap(value, base, top):
        return (value - base) / (top - base) if top > base else float("nan")

    def source(rs):
        r = rs[0]
        over = {k: v for k, v in r["overrides"].items() if k != "seed"}
        if "transition" in over.get("loss", {}):
            over["loss"] = dict(over["loss"], transition="<anchor T of the CE run>")
        return f"{Path(r['recipe']).name} {_flat(over)}"

    def json_row(level, m, value, **extra):
        rs = results[(level, m)]
        return row(
            level,
            m,
            "miou",
            value,
            recipe=rs[0]["recipe"],
            overrides=[_jsonable(_merge(protocol, r["overrides"])) for r in rs],
            per_seed=[r["miou_argmax"] for r in rs],
            miou_prior_matched=mean(level, m, "miou"),
            per_seed_prior_matched=[r["miou"] for r in rs],
            boundary_f1=mean(level, m, "boundary_f1_argmax"),
            boundary_f1_prior_matched=mean(level, m, "boundary_f1"),
            membrane_logit_offset=mean(level, m, "offset"),
            run_wall_s=[r["wall_s"] for r in rs],
            **extra,
        )

    clean = mean("clean", "ce", "miou_argmax")
    rs = results[("clean", "ce")]
    table = [["clean", "-", "CE on clean", *(_ms(rs, k) for k in KEYS), "-", "-", "-", source(rs)]]
    rows = [json_row("clean", "ce", clean)]
    rows[0]["method"] = "ce_clean"
    for level in args.levels.split(","):
        rate = mean(level, "ce", "noise_rate")
        base = mean(level, "ce", "miou_argmax")
        base_prior = mean(level, "ce", "miou")
        for m in ["ce", *methods]:
            rs = results[(level, m)]
            am, pm = mean(level, m, "miou_argmax"), mean(level, m, "miou")
            gaps = (gap(am, base, clean), gap(pm, base, clean), gap(pm, base_prior, clean))
            name = "CE on noisy" if m == "ce" else m
            table.append([level, rate, name, *(_ms(rs, k) for k in KEYS), *gaps, source(rs)])
            rows.append(
                json_row(
                    level,
                    m,
                    am,
                    gap_recovered=gaps[0],
                    gap_recovered_prior_matched=gaps[1],
                    gap_recovered_prior_matched_vs_ce_prior_matched=gaps[2],
                    pixel_noise_rate=rate,
                    label_miou=mean(level, m, "label_miou"),
                    corrected_label_miou=(
                        mean(level, m, "corrected_label_miou") if m == "adele" else None
                    ),
                )
            )
            rows[-1]["method"] = "ce_noisy" if m == "ce" else m
    wall = time.time() - t0
    load = os.getloadavg()
    rows.append(row("all", "all", "wall_s", wall, load_average=list(load), runs_wall_s=wall_runs))
    header = [
        "noise",
        "pixel noise rate",
        "method",
        "test mIoU, argmax",
        "test mIoU, prior-matched",
        "boundary F1, argmax",
        "boundary F1, prior-matched",
        "gap rec. argmax",
        "gap rec. prior-matched",
        "gap rec. prior-matched vs CE prior-matched",
        "recipe + overrides",
    ]
    preamble = (
        f"ISBI-2012, 24 train / 6 test, noise at 256 px, trained at {args.image_size}x"
        f"{args.image_size}, TinyUNet, {args.epochs} epochs, batch {args.batch_size}, seeds "
        f"{args.seeds} (noise and init), 1 thread, every run through labelnoise.engine.train "
        "from the recipe named in the last column (recipes/segmentation/) plus the overrides "
        "shown and, on every run, seed, task.decision: prior_match (both decisions of one "
        "trained model), task.image_size, train.epochs, data.batch_size; wall "
        f"{wall:.0f} s, sum of the runs' wall times {wall_runs:.0f} s (load average "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end). "
        "mIoU against the clean test masks, mean ± sd over seeds. prior-matched: per-class "
        "logit offsets fitted so that the model's predicted class fractions on the training "
        "images equal the class frequencies of its (noisy) training masks, applied on test (no "
        "clean or test labels used). gap rec. = (method - CE noisy argmax) / (CE clean argmax "
        "- CE noisy argmax) on the means over seeds; the last gap column's baseline is CE noisy "
        "prior-matched instead. The --json rows add per-seed values, the overrides of each run "
        "and the fitted offsets."
    )
    name = "segmentation_noise" + (f"_{args.tag}" if args.tag else "")
    report(name, markdown_table(header, table), rows, args.json, preamble)


def miou(pred: torch.Tensor, target: torch.Tensor) -> float:
    return segmentation_metrics(confusion_matrix(pred, target, 2))["miou"]


def _merge(*parts: dict[str, Any]) -> dict[str, Any]:
    """Nested dict merge, later parts win."""
    out: dict[str, Any] = {}
    for part in parts:
        for k, v in part.items():
            out[k] = (
                _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
            )
    return out


def _flat(d: dict[str, Any], prefix: str = "") -> str:
    """``{"task": {"noise": {"preset": "hard"}}}`` -> ``task.noise.preset=hard``."""
    parts = []
    for k, v in d.items():
        if isinstance(v, dict):
            parts.append(_flat(v, f"{prefix}{k}."))
        else:
            parts.append(f"{prefix}{k}={v}")
    return " ".join(p for p in parts if p)


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _jsonable(v) if isinstance(v, dict) else v for k, v in d.items()}


def _ms(rs: list[dict], key: str) -> str:
    v = np.array([r[key] for r in rs])
    return f"{v.mean():.4f} ± {v.std():.4f}" if len(v) > 1 else f"{v.mean():.4f}"


if __name__ == "__main__":
    main()
