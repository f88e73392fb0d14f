"""BSDS500 edges: learning from every annotator's own map vs one annotator vs the consensus.

Every run goes through the engine: variants of recipes/edges/bsds_all_annotators.yaml run by
``labelnoise.commands.train.run_recipe`` (each row names the recipe, variant and overrides).
Today's CPU protocol (as benchmarks/edges_bsds.py): SmallHED at 96 x 144 px, BSDS train minus
20 validation images, 10 epochs, the last epoch's model, scores on the 100 BSDS val images
against all annotators (ODS / OIS / AP, bipartite correspondence, 25 thresholds).

Variants: ``single`` (class-balanced BCE on one seeded annotator per image), ``consensus``
(BCE on pixels marked by >= 20% of the annotators: the issue's reference), ``all_bce`` (BCE on
every annotator's map as its own label), ``confusion`` (method annotator_confusion, defaults:
slot identity, trace weight 0.1, class-balanced trace). Named extra candidates (``--variants``)
vary the confusion model's options; choices among them are made on the validation ODS (20
held-out training images scored against all their annotators), never on the test split.

Results of each (variant, seed) are cached in ``--cache`` (JSON), so the runs can be spread
over several invocations; the table covers every cached run.

    python benchmarks/edges_annotators.py --data-dir /work/shared/data --json /tmp/ea.json
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import RESULTS, data_dir_or_exit, markdown_table, parser, report, row

from labelnoise.commands.train import run_recipe
from labelnoise.config import deep_merge, load_recipe

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "edges" / "bsds_all_annotators.yaml"
EXTRA = {  # candidate options of the confusion model (chosen on validation ODS)
    "confusion_free": {"method": {"name": "annotator_confusion", "diag_floor": 0.0}},
    "confusion_shared": {"method": {"name": "annotator_confusion", "identity": "shared"}},
    "confusion_uniform": {"method": {"name": "annotator_confusion", "trace_weighting": "uniform"}},
    "confusion_tw0": {"method": {"name": "annotator_confusion", "trace_weight": 0.0}},
}


def _flags(d: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        out += _flags(v, f"{prefix}{k}.") if isinstance(v, dict) else [f"--{prefix}{k}={v}"]
    return out


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--variants", default="single,consensus,all_bce,confusion")
    p.add_argument("--cache", type=Path, default=RESULTS / "edges_annotators_runs.json")
    args = p.parse_args()
    root = data_dir_or_exit(args)
    seeds = [int(x) for x in args.seeds.split(",")]
    cache = json.loads(args.cache.read_text()) if args.cache.is_file() else {}
    protocol = {"train": {"epochs": args.epochs, "select_by": "last", "eval_every": args.epochs}}
    load0, start = os.getloadavg()[1], time.time()
    for variant in args.variants.split(","):
        recipe = load_recipe(RECIPE)
        if variant in EXTRA:
            recipe["variants"] = {variant: EXTRA[variant]}
        elif variant in recipe["variants"]:
            recipe["variants"] = {variant: recipe["variants"][variant]}
        else:
            raise SystemExit(
                f"--variants must name variants of {RECIPE.name} {sorted(recipe['variants'])} "
                f"or {sorted(EXTRA)}; got {variant!r}"
            )
        for seed in seeds:
            key = f"{variant}/{seed}/{args.epochs}"
            if key in cache:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                over = deep_merge(
                    protocol,
                    {
                        "seed": seed,
                        "train": {"progress": False},
                        "data": {"data_dir": str(root)},
                        "output_dir": tmp,
                    },
                )
                ((_, m),) = run_recipe(recipe, over, report=False)
            cache[key] = {
                "test": {k: m["test"][k] for k in ("ods", "ois", "ap")},
                "val_ods": m.get("val", {}).get("clean_ods"),
                "train_s": m["train"]["wall_time_s"],
                "load": os.getloadavg()[1],
                "variant": recipe["variants"][variant],
            }
            args.cache.write_text(json.dumps(cache, indent=1))
            print(key, cache[key], flush=True)
    load = (load0 + os.getloadavg()[1]) / 2
    rows, table, means = [], [], []
    by_variant: dict[str, list[tuple[int, dict]]] = {}
    for key, r in cache.items():
        variant, seed, epochs = key.split("/")
        if int(epochs) == args.epochs:
            by_variant.setdefault(variant, []).append((int(seed), r))
    for variant, runs in by_variant.items():
        prov = {
            "recipe": "recipes/edges/bsds_all_annotators.yaml",
            "variant": variant,
            "overrides": {**protocol, **runs[0][1]["variant"]},
        }
        for seed, r in sorted(runs, key=lambda t: t[0]):
            t = r["test"]
            val = r["val_ods"] if r["val_ods"] is not None else ""
            table.append([variant, seed, t["ods"], t["ois"], t["ap"], val, r["train_s"]])
            for k in ("ods", "ois", "ap"):
                rows.append(row("real", variant, k, t[k], seed=seed, **prov))
        stats = []
        for k in ("ods", "ois", "ap"):
            v = np.array([r["test"][k] for _, r in runs])
            stats.append(f"{v.mean():.4f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.4f}")
            rows.append(row("real", variant, f"{k}_mean", float(v.mean()), seed=None, **prov))
        vals = [r["val_ods"] for _, r in runs if r["val_ods"] is not None]
        val_mean = f"{np.mean(vals):.4f}" if vals else ""
        means.append([variant, len(runs), *stats, val_mean])
    pre = (
        f"BSDS500 val (100 images, all annotators), 96x144 px, SmallHED, {args.epochs} epochs, "
        f"last epoch's model; mean ± std (ddof 1) over seeds. This invocation: "
        f"{(time.time() - start) / 60:.1f} min wall, 5-min load average ~{load:.1f} (2 shared "
        f"cores; per-run load in the cache file). Val ODS: the 20 held-out training images "
        f"against all their annotators (selection only)."
    )
    head = ["variant", "seeds", "ODS", "OIS", "AP", "val ODS"]
    text = markdown_table(head, means) + "\n\nPer run:\n\n"
    text += markdown_table(["variant", "seed", "ODS", "OIS", "AP", "val ODS", "train s"], table)
    text += "\n\nRuns (recipe#variant + overrides, --seed=<seed>):\n\n" + "\n".join(
        f"- {v}: `{RECIPE.name}#{v if v not in EXTRA else 'all_bce ' + ' '.join(_flags(EXTRA[v]))}"
        f" {' '.join(_flags(protocol))}`"
        for v in by_variant
    )
    report("edges_annotators", text, rows, args.json, preamble=pre)
    return 0


if __name__ == "__main__":
    sys.exit(main())
