"""CoLaDa vs source-only and self-training: NER transfer CoNLL-03 -> WNUT-17 (frozen MiniLM-L6).

Usage: ``python benchmarks/ner_colada.py --data-dir DIR --json OUT [--seeds 3]``; seeds in
parallel: ``--seeds 1 --seed-start S --json seedS.json`` each, then ``--merge seed*.json``.

Every number comes from :func:`labelnoise.engine.train` on a RunConfig built from
``recipes/ner/wnut17_colada.yaml`` (its variants ``source_only``, ``self_training``,
``colada``; overrides: ``seed``). Source: the 4,879 CoNLL-03 train sentences of NoiseBench
with their clean labels; target: WNUT-17 train, unlabelled (its labels only score the
pseudo-labels, reported below, never used to train or select); test: WNUT-17 test, entity F1
(seqeval-style, exact spans) over the shared types PER / LOC / ORG (WNUT-17 person, location,
corporation + group; MISC, product and creative-work are O). The last epoch's model; no
hyper-parameter was tuned (the authors' k, ealpha, emu, lambda; the recipe's epochs), so no
test or target label chose anything. Torch runs single-threaded.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import data_dir_or_exit, markdown_table, parser, report, row

from labelnoise.config import load_recipe, resolve
from labelnoise.engine import train

ROOT = Path(__file__).resolve().parents[1]
RECIPE = "recipes/ner/wnut17_colada.yaml"
VARIANTS = ["source_only", "self_training", "colada"]


def main() -> None:
    p = parser("CoLaDa vs source-only and self-training on CoNLL-03 -> WNUT-17")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--seed-start", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"of {VARIANTS}")
    p.add_argument("--merge", type=Path, nargs="*", default=None, help="tabulate these JSONs")
    args = p.parse_args()
    variants = args.variants.split(",")
    if not set(variants) <= set(VARIANTS):
        p.error(f"--variants must be of {VARIANTS}; got {args.variants}")
    root = data_dir_or_exit(args)
    torch.set_num_threads(1)
    t0, load0 = time.time(), os.getloadavg()[0]
    rows: list = []
    f1: dict[str, list[float]] = {}
    pseudo: dict[str, list[str]] = {}
    recipe = load_recipe(ROOT / RECIPE)
    if args.merge:
        runs_wall = []
        for path in args.merge:
            got = json.loads(path.read_text())["rows"]
            rows += [r for r in got if r["method"] != "benchmark"]
            runs_wall += [r for r in got if r["method"] == "benchmark"]
        for r in rows:
            if r["metric"] == "entity_f1":
                f1.setdefault(r["method"], []).append(r["value"])
            else:
                line = f"seed {r['seed']}, {r['setting']}: token acc {r['value']:.4f}"
                if r.get("mean_weight_wrong") is not None:
                    ok, bad = r["mean_weight_right"], r["mean_weight_wrong"]
                    line += f", mean kNN weight right {ok:.3f} / wrong {bad:.3f}"
                pseudo.setdefault(r["method"], []).append(line)
        variants = [v for v in VARIANTS if v in f1]
    with tempfile.TemporaryDirectory(prefix="ner_colada_") as runs:
        todo = [] if args.merge else range(args.seed_start, args.seed_start + args.seeds)
        for seed in todo:
            for v in variants:
                over = {"seed": seed}
                full = {
                    **over,
                    "output_dir": f"{runs}/{v}_{seed}",
                    "data": {"data_dir": str(root)},
                    "train": {"progress": False},
                }
                m = train(resolve(recipe, full, variant=v), overwrite=True)
                val = float(m["test"]["entity_f1"])
                f1.setdefault(v, []).append(val)
                prov = {"recipe": RECIPE, "variant": v, "overrides": over}
                rows.append(row(f"wnut17_test/seed{seed}", v, "entity_f1", val, seed=seed, **prov))
                rep = Path(runs) / f"{v}_{seed}" / "colada.json"
                if rep.is_file():
                    for r in json.loads(rep.read_text()):
                        acc = r["pseudo_label_accuracy"]
                        key = f"{r['kind']} phase {r['phase']}"
                        w_ok, w_bad = r["mean_weight_correct"], r["mean_weight_wrong"]
                        extra = {"mean_weight_right": w_ok, "mean_weight_wrong": w_bad}
                        rows.append(
                            row(key, v, "pseudo_label_token_accuracy", acc, seed=seed, **extra)
                        )
                        pseudo.setdefault(v, []).append(
                            f"seed {seed}, {key}: token acc {acc:.4f}, mean kNN weight "
                            f"right {w_ok if w_ok is None else round(w_ok, 3)} / "
                            f"wrong {w_bad if w_bad is None else round(w_bad, 3)}"
                        )
                print(v, seed, val, flush=True)
    wall = time.time() - t0
    load = (load0 + os.getloadavg()[0]) / 2
    table = [
        [
            v,
            f"{np.mean(f1[v]):.4f} ± {np.std(f1[v]):.4f}",
            len(f1[v]),
            " ".join(f"{x:.4f}" for x in f1[v]),
        ]
        for v in variants
    ]
    text = "## WNUT-17 test entity F1 (PER / LOC / ORG), mean ± std over seeds\n\n"
    text += markdown_table(["variant", "entity F1", "seeds", "per seed"], table)
    text += (
        "\n\n## Pseudo-labels and their kNN weights\n\nstep1: network 0's labels of the source "
        "(scored with the source's gold); step2: the teacher's labels of WNUT-17 train (scored "
        "with WNUT-17's labels, which nothing trains on); token accuracy over all tokens, "
        "mean kNN weight of the right and of the wrong pseudo-labels.\n\n"
    )
    text += "\n".join(f"* {v}: {line}" for v in pseudo for line in pseudo[v]) or "(none)"
    text += (
        f"\n\nwall time {wall:.0f} s, CPU time {time.process_time():.0f} s ({len(f1[variants[0]])} seeds, "
        f"torch threads 1, load average ~{load:.1f} on a shared machine)\n\nRecipe: `{RECIPE}` "
        "(variants source_only, self_training, colada); overrides per row in the JSON."
    )
    rows.append(row("all", "benchmark", "wall_time_s", wall, load_average=load))
    if args.merge:
        parts = ", ".join(
            f"{p.name}: {r['value']:.0f} s at load ~{r['load_average']:.1f}"
            for p, r in zip(args.merge, runs_wall)
        )
        text += f"\n\nMerged from the per-seed runs (run in parallel; wall time, load): {parts}."
    report("ner_colada", text, rows, args.json, preamble=__doc__.split("\n\n")[0])


if __name__ == "__main__":
    main()
