"""Edge detection on BSDS500 with real single-annotator noise and synthetic displacement noise.

Every run goes through the engine (variants of the recipes under recipes/edges/, run by
``labelnoise.commands.train.run_recipe`` -> ``labelnoise.engine.train``; each row names its
recipe, variant and overrides): a
SmallHED network at 96 x 144 px on CPU, trained on the BSDS train split minus 20 validation
images, the last epoch's model (one evaluation per run), scores on the 100 BSDS val images against
all annotators (ODS / OIS / AP, bipartite correspondence, 25 thresholds).

Settings: ``real`` -- one seeded annotator per training image; ``disp2`` / ``disp4`` --
consensus labels (>= half the annotators) moved along a smooth random field of <= 2 / 4 px;
``oracle`` -- a reference, not a noisy setting: CE trained on the labels of ALL annotators
(pixels marked by >= 20% of them), i.e. what removing the annotator noise could reach.
Methods (the recipes' variants): ``ce`` (class-balanced BCE, HED), ``tolerance`` (the task's
tolerance option: non-edge pixels within 1 px of a labelled edge ignored), ``pnt_edge``
(``method: pnt_edge``: PNT-Edge shift learning + edge-density regulariser, after a 2-epoch
warm-up), ``ema_distill`` (``method: ema_distill``: soft targets mixed with an EMA teacher's
probabilities). Every method's options are its defaults (literature defaults, none tuned on
BSDS val).
Also: bipartite vs distance-transform correspondence on a fixture (blurred consensus maps of
the first 20 val images as predictions).

    python benchmarks/edges_bsds.py --data-dir /work/shared/data --json /tmp/edges.json
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import data_dir_or_exit, markdown_table, parser, report, row
from scipy import ndimage

from labelnoise.commands.train import run_recipe
from labelnoise.config import deep_merge, load_recipe
from labelnoise.tasks.edges.bsds import read_split
from labelnoise.tasks.edges.data import prepare
from labelnoise.tasks.edges.metrics import evaluate_edges

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "edges"


def _flags(d: dict, prefix: str = "") -> list[str]:
    """``--section.key=value`` text of nested overrides."""
    out = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += _flags(v, f"{prefix}{k}.")
        else:
            out.append(f"--{prefix}{k}={v}")
    return out


def correspondence_gap(root: Path) -> dict[str, dict[str, float]]:
    items = [prepare(it, (96, 144)) for it in read_split(root / "bsds500", "val", limit=20)]
    gts = [m for _, m in items]
    probs = [ndimage.gaussian_filter(m.mean(0), 1.0) for m in gts]
    probs = [p / max(p.max(), 1e-12) for p in probs]
    return {
        m: evaluate_edges(probs, gts, thresholds=25, method=m) for m in ("bipartite", "distance")
    }


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seeds", default="0,1,2", help="seeds of the real setting (others: the first)")
    p.add_argument("--settings", default="real,oracle,disp2,disp4")
    p.add_argument(
        "--methods", default="ce,tolerance,pnt_edge,ema_distill", help="methods, real noise"
    )
    p.add_argument("--synthetic-methods", default="ce,pnt_edge", help="methods, disp2/disp4")
    p.add_argument("--tag", default="", help="suffix of the results file name")
    args = p.parse_args()
    root = data_dir_or_exit(args)
    seeds = [int(x) for x in args.seeds.split(",")]
    start, cpu, load = time.time(), time.process_time(), os.getloadavg()[1]
    results: dict[tuple[str, str, int], dict] = {}
    settings = {
        "real": ("bsds_annotator.yaml", {}),
        "oracle": (
            "bsds_annotator.yaml",
            {"task": {"noise": {"kind": "consensus", "consensus_level": 0.2}}},
        ),
        "disp2": ("bsds_displacement.yaml", {"task": {"noise": {"max_shift": 2.0}}}),
        "disp4": ("bsds_displacement.yaml", {"task": {"noise": {"max_shift": 4.0}}}),
    }
    labels: dict[tuple[str, str], str] = {}
    provs: dict[tuple[str, str], dict] = {}  # recipe, variant, overrides of each JSON row
    with tempfile.TemporaryDirectory() as tmp:
        for setting in args.settings.split(","):
            name, extra = settings[setting]
            real = setting == "real"
            methods = (args.methods if real else args.synthetic_methods).split(",")
            if setting == "oracle":
                methods = ["ce"]
            for seed in seeds if real else seeds[:1]:
                recipe = load_recipe(RECIPES / name)
                unknown = sorted(set(methods) - set(recipe["variants"]))
                if unknown:
                    raise SystemExit(
                        f"methods must be variants of {name} {sorted(recipe['variants'])}; "
                        f"got {unknown}"
                    )
                recipe["variants"] = {m: recipe["variants"][m] for m in methods}
                protocol = {
                    "train": {
                        "epochs": args.epochs,
                        "select_by": "last",
                        "eval_every": args.epochs,
                    },
                    **extra,
                }
                for m in methods:
                    labels[(setting, m)] = f"{name}#{m} " + " ".join(_flags(protocol))
                    provs[(setting, m)] = {
                        "recipe": f"recipes/edges/{name}",
                        "variant": m,
                        "overrides": protocol,
                    }
                overrides = deep_merge(
                    protocol,
                    {
                        "seed": seed,
                        "train": {"progress": False},
                        "data": {"data_dir": str(root)},
                        "output_dir": f"{tmp}/{setting}_{seed}",
                    },
                )
                for method, metrics in run_recipe(recipe, overrides, report=False):
                    results[(setting, method, seed)] = metrics
    minutes, cpu_minutes = (time.time() - start) / 60, (time.process_time() - cpu) / 60
    load = (load + os.getloadavg()[1]) / 2
    gap = correspondence_gap(root)
    rows, table = [], []

    def protocol_of(setting: str, method: str) -> dict:
        return dict(provs[(setting, method)]["overrides"])

    for (setting, method, seed), m in results.items():
        t = m["test"]
        table.append(
            [setting, method, seed, t["ods"], t["ois"], t["ap"], m["train"]["wall_time_s"]]
        )
        for k in ("ods", "ois", "ap"):
            rows.append(
                row(
                    setting,
                    method,
                    k,
                    t[k],
                    seed=seed,
                    epochs=args.epochs,
                    command=labels[(setting, method)],
                    **(
                        provs[(setting, method)]
                        | {"overrides": {**protocol_of(setting, method), "seed": seed}}
                    ),
                )
            )
    for setting in dict.fromkeys(s for s, _, _ in results):
        runs = {k: v for k, v in results.items() if k[0] == setting}
        mean = {
            meth: np.mean([v["test"]["ods"] for k, v in runs.items() if k[1] == meth])
            for meth in dict.fromkeys(k[1] for k in runs)
        }
        for meth, v in mean.items():
            table.append([setting, meth, "mean", v, "", "", ""])
            seeds_run = sorted({k[2] for k in runs if k[1] == meth})
            prov = provs[(setting, meth)] | {
                "overrides": {**protocol_of(setting, meth), "seed": seeds_run}
            }
            rows.append(row(setting, meth, "ods_mean", float(v), **prov))
            if meth != "ce" and "ce" in mean:
                rows.append(row(setting, meth, "ods_mean_minus_ce", float(v - mean["ce"]), **prov))
    for m, sc in gap.items():
        rows.append(row("fixture", m, "ods", sc["ods"]))
    pre = (
        f"BSDS500 val (100 images, all annotators), 96x144 px, SmallHED, {args.epochs} epochs, "
        f"seeds {args.seeds} (oracle, synthetic: {seeds[0]}); total {minutes:.1f} min wall, "
        f"{cpu_minutes:.1f} min CPU (one thread) on this machine (2 cores shared, 5-min load "
        f"average ~{load:.1f} at start/end).\n\n"
        f"Correspondence on the fixture (blurred consensus of 20 val images): bipartite ODS "
        f"{gap['bipartite']['ods']:.4f}, distance-transform ODS {gap['distance']['ods']:.4f}."
    )
    header = ["setting", "method", "seed", "ODS", "OIS", "AP", "train s"]
    sources = "\n".join(f"- {s} / {m}: `{lab} --seed=<seed>`" for (s, m), lab in labels.items())
    text = markdown_table(header, table) + "\n\nRuns (recipe#variant + overrides):\n\n" + sources
    report("edges_bsds" + args.tag, text, rows, args.json, preamble=pre)
    return 0


if __name__ == "__main__":
    sys.exit(main())
