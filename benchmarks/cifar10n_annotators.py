"""CIFAR-10N with every annotator: CE on one label set vs learning from the annotators.

Every number comes from :func:`labelnoise.engine.train` on
``recipes/cifar10n/annotators_small_cnn.yaml`` (named with its variant and overrides in each
row): CE on ``worst``, on ``aggre`` (CIFAR-10N's published majority vote), on ``random1`` (one
human label per image), CE on Dawid-Skene labels of the three answers (``ds_then_ce``), the
crowd layer (Rodrigues & Pereira, AAAI 2018) and MaDL (Herde et al., TMLR 2023). Metric: clean
test accuracy (all 10,000 CIFAR-10 test images) of the last epoch. The protocol is the
recipes' CPU protocol (2,500 fixed training images, width-32 CNN, 20 epochs, Adam 1e-3, no
augmentation; see worst_small_cnn.yaml); hyper-parameters are the papers' defaults, nothing
is tuned (no validation split in this protocol, and the test split is never used to choose).
Runs go one at a time (``--jobs 1``) on one thread; seeds change the network initialisation
and the batch order, not the images.

    python benchmarks/cifar10n_annotators.py --data-dir ../shared/data --seeds 0 \
        --json benchmarks/results/cifar10n_annotators.json
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import data_dir_or_exit, markdown_table, parser, report, row

ROOT = Path(__file__).resolve().parents[1]
RECIPE = "recipes/cifar10n/annotators_small_cnn.yaml"
VARIANTS = ("ce_worst", "ce_aggre", "ce_random1", "ds_then_ce", "crowd_layer", "madl")


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"train.epochs": 3}`` -> ``{"train": {"epochs": 3}}`` (values in YAML form)."""
    import yaml

    out: dict[str, Any] = {}
    for key, v in flat.items():
        *parents, last = key.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = yaml.safe_load(v) if isinstance(v, str) else v
    return out


def run_one(variant: str, overrides: dict[str, Any], data_dir: Path, cache: Path) -> dict:
    """Train one variant; its test accuracy, realised target noise, seconds, provenance."""
    from labelnoise.config import load_recipe, resolve
    from labelnoise.engine import train

    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        extra = {"output_dir": f"{tmp}/run", "data.data_dir": str(data_dir)}
        extra |= {"train.progress": False, "task.cache_dir": str(cache)}
        cfg = resolve(load_recipe(ROOT / RECIPE), nest(overrides | extra), variant=variant)
        metrics = train(cfg)
    text = RECIPE + f" [{variant}]" + "".join(f" --{k}={v}" for k, v in overrides.items())
    return {
        "variant": variant,
        "acc": float(metrics["test"]["accuracy"]),
        "noise": float(metrics.get("noise_rate_realised", float("nan"))),
        "sec": time.time() - t0,
        "command": text,
        "prov": {"recipe": RECIPE, "variant": variant, "overrides": overrides},
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    p.add_argument("--tag", default="", help="write benchmarks/results/cifar10n_annotators<tag>.md")
    p.add_argument("--resume-json", type=Path, default=None, help="keep the rows of this JSON")
    p.add_argument("--cache-dir", type=Path, default=Path("~/.cache/labelnoise").expanduser())
    a = p.parse_args()
    data_dir = data_dir_or_exit(a)
    done: list[dict] = []
    if a.resume_json is not None and a.resume_json.is_file():
        done = json.loads(a.resume_json.read_text()).get("runs", [])
    have = {(r["variant"], r["seed"]) for r in done}
    t0 = time.time()
    for seed in a.seeds:  # every variant of a seed before the next seed
        for v in a.variants:
            if (v, seed) in have:
                continue
            # one evaluation, at the end (select_by: last; the result is the same)
            over = {"seed": seed, "train.eval_every": 20, "train.num_threads": 1}
            over |= dict(kv.split("=", 1) for kv in a.set)
            r = run_one(v, over, data_dir, a.cache_dir) | {"seed": seed}
            print(f"[{time.time() - t0:.0f} s] {v} seed {seed}: {100 * r['acc']:.2f} %", flush=True)
            done.append(r)
            _write(a, done)


def _write(a: Any, runs: list[dict]) -> None:
    rows, table, sources = [], [], []
    acc: dict[str, dict[int, float]] = {}
    for r in runs:
        acc.setdefault(r["variant"], {})[r["seed"]] = 100 * r["acc"]
        rows.append(
            row(
                "cifar10n annotators, n=2500",
                r["variant"],
                "clean_test_acc",
                r["acc"],
                seed=r["seed"],
                seconds=r["sec"],
                command=r["command"],
                **r["prov"],
            )
        )
        sources.append(f"- {r['variant']} seed {r['seed']}: `{r['command']}` ({r['sec']:.0f} s)")
    aggre = np.mean(list(acc["ce_aggre"].values())) if "ce_aggre" in acc else float("nan")
    for v in VARIANTS:
        if v not in acc:
            continue
        vals = np.array([acc[v][s] for s in sorted(acc[v])])
        noise = next(r["noise"] for r in runs if r["variant"] == v)
        per_seed = ", ".join(f"{acc[v][s]:.2f}" for s in sorted(acc[v]))
        std = float(vals.std(ddof=1)) if len(vals) > 1 else float("nan")
        table.append([v, noise, len(vals), per_seed, float(vals.mean()), std, vals.mean() - aggre])
    text = markdown_table(
        [
            "variant",
            "target noise",
            "seeds",
            "clean test acc % per seed",
            "mean %",
            "std",
            "vs ce_aggre (points)",
        ],
        table,
    )
    text += (
        "\n\nRuns (`[variant]` of the recipe and the overrides, as `labelnoise train` takes them; "
    )
    text += (
        "the benchmark also sets the output dir, data dir, image cache and no progress bar):\n\n"
    )
    text += "\n".join(sources)
    load = os.getloadavg()
    pre = (
        "labelnoise.engine.train on recipes/cifar10n/annotators_small_cnn.yaml: 2,500 fixed "
        "training images, width-32 CNN, 20 epochs of Adam 1e-3 (held 40 %, then linear to 0), "
        "no augmentation, last epoch, clean 10,000-image test set. 'target noise': share of "
        "training targets that differ from the clean label (crowd_layer / madl train on all "
        "three answers, 17.9 % of them wrong, and report the majority-vote target). One run at "
        f"a time, one thread. Load average at the end: {load[0]:.1f} / {load[1]:.1f} / "
        f"{load[2]:.1f} on {os.cpu_count()} cores. Target of issue #23: crowd layer or MaDL >= "
        "ce_aggre + 1 point."
    )
    report(f"cifar10n_annotators{a.tag}", text, rows, None, preamble=pre)
    if a.json is not None:
        from labelnoise._io import atomic_write

        with atomic_write(a.json) as f:
            json.dump({"rows": rows, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
