"""CIFAR-10N worst labels on a CPU: every training method of the library, 3 seeds.

The protocol of ``benchmarks/cifar10n.py`` (the recipes' CPU protocol): a width-32 CNN on a
fixed 2,500-image subset with CIFAR-10N ``worst`` human labels (40.8 % wrong on the subset),
no augmentation, Adam 1e-3 held for 40 % of the steps then linear to 0, 20 epochs, the last
epoch's clean accuracy on the 10,000 test images. Each row is one recipe variant
(``recipes/cifar10n/worst_small_cnn.yaml [variant]``, DivideMix
``recipes/cifar10n/worst_dividemix.yaml``) with the overrides ``--seed=S
--train.num_threads=1 --train.eval_every=100 --detection.method=none`` (one evaluation, after
the last epoch); methods that add epochs of their own (AUM's identification networks, Late
Stopping's rounds, MOIT+'s fine-tuning) keep their variant's ``train.epochs``. The methods'
hyper-parameters are the variants' (the papers' CIFAR values, scaled to 20 epochs), chosen
before this table was run: nothing here was tuned on the test set.

Every finished run is kept as ``RUNS/<method>_s<seed>.json`` (git-ignored), so an interrupted
benchmark resumes where it stopped; ``--collect`` only renders the table from them.

    python benchmarks/cifar10n_methods.py --data-dir ../shared/data --seeds 0 1 2 --jobs 2 \
        --json benchmarks/results/cifar10n_methods.json
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from _common import data_dir_or_exit, markdown_table, parser, report, row
from cifar10n import describe, nest, recipe_of

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "cifar10n_methods"
METHODS = (
    "ce", "gce", "sce", "elr", "sam", "coteaching", "coteaching_nested", "rent", "dws", "aum",
    "late_stopping", "dividemix", "crosssplit", "crosssplit_shared", "splitnet", "tabasco",
    "tabasco_codivide", "moit", "moit_plus", "crosssplit_val", "tabasco_val", "tabasco_codivide_val",
)  # fmt: skip
#: relative run time (CE = 1), to start the long jobs first
COST = {
    "dividemix": 8, "tabasco_codivide": 8, "tabasco_codivide_val": 6, "crosssplit": 5, "crosssplit_val": 4, "crosssplit_shared": 5, "splitnet": 4, "tabasco": 3, "tabasco_val": 3, "moit_plus": 3, "moit": 2.5,
    "late_stopping": 2, "sam": 2, "coteaching": 2, "coteaching_nested": 2, "aum": 1.5,
}  # fmt: skip


def overrides(seed: int) -> dict[str, Any]:
    return {
        "seed": seed,
        "train.num_threads": 1,
        "train.eval_every": 100,
        "detection.method": "none",
    }


def result_file(method: str, seed: int, runs: Path = RUNS) -> Path:
    return runs / f"{method}_s{seed}.json"


def _job(job: tuple[str, int, str, str, str]) -> dict[str, Any]:
    method, seed, data_dir, cache_dir, runs_dir = job
    runs = Path(runs_dir)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from labelnoise.config import load_recipe, resolve
    from labelnoise.engine import train

    recipe, variant = recipe_of("worst", method)
    over = overrides(seed)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        extra: dict[str, Any] = {"output_dir": f"{tmp}/run", "data.data_dir": data_dir}
        extra |= {"train.progress": False, "task.cache_dir": cache_dir}
        cfg = resolve(load_recipe(ROOT / recipe), nest(over | extra), variant=variant)
        metrics = train(cfg)
    out = {
        "method": method,
        "seed": seed,
        "acc": metrics["test"]["accuracy"],
        "noise": metrics["noise_rate_realised"],
        "epochs": cfg.train.epochs,
        "sec": time.time() - t0,
        "load": os.getloadavg()[0],
        "recipe": recipe,
        "variant": variant,
        "command": describe(recipe, variant, over),
    }
    runs.mkdir(parents=True, exist_ok=True)
    tmp_file = result_file(method, seed, runs).with_suffix(".part")
    tmp_file.write_text(json.dumps(out))
    tmp_file.replace(result_file(method, seed, runs))
    return out


def render(methods: list[str], seeds: list[int], runs_dir: Path = RUNS) -> tuple:
    done = {
        (m, s): json.loads(result_file(m, s, runs_dir).read_text())
        for m in methods
        for s in seeds
        if result_file(m, s, runs_dir).is_file()
    }
    ce = [done[("ce", s)]["acc"] for s in seeds if ("ce", s) in done]
    ce_mean = float(np.mean(ce)) if ce else float("nan")
    table, rows = [], []
    for m in methods:
        runs = [done[(m, s)] for s in seeds if (m, s) in done]
        if not runs:
            continue
        acc = 100 * np.array([r["acc"] for r in runs])
        secs = [r["sec"] for r in runs]
        mean, std = float(acc.mean()), float(acc.std(ddof=1)) if len(acc) > 1 else 0.0
        table.append(
            [
                m,
                f"{mean:.2f} ± {std:.2f}",
                len(runs),
                f"{mean - 100 * ce_mean:+.2f}",
                " / ".join(f"{a:.2f}" for a in acc),
                runs[0]["epochs"],
                " / ".join(f"{s:.0f}" for s in secs),
                f"`{runs[0]['recipe']}"
                + (f" [{runs[0]['variant']}]`" if runs[0]["variant"] else "`"),
            ]
        )
        for r in runs:
            rows.append(
                row(
                    "cifar10n worst, n=2500, small_cnn",
                    m,
                    "clean_test_acc",
                    r["acc"],
                    seed=r["seed"],
                    seconds=r["sec"],
                    command=r["command"],
                    recipe=r["recipe"],
                    variant=r["variant"],
                )
            )
    total = sum(r["sec"] for r in done.values())
    head = [
        "method",
        "clean test acc % (mean ± std)",
        "seeds",
        "vs CE (points)",
        "per seed",
        "epochs",
        "s per run",
        "recipe [variant]",
    ]
    missing = [f"{m} s{s}" for m in methods for s in seeds if (m, s) not in done]
    return markdown_table(head, table), rows, total, missing


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--collect", action="store_true", help="only render the finished runs")
    p.add_argument("--cache-dir", type=Path, default=Path("~/.cache/labelnoise").expanduser())
    p.add_argument("--runs", type=Path, default=RUNS, help="folder of the finished runs")
    p.add_argument("--name", default="cifar10n_methods", help="results file name (no suffix)")
    a = p.parse_args()
    unknown = sorted(set(a.methods) - set(METHODS))
    if unknown:
        p.error(f"--methods: unknown {unknown}; expected some of {list(METHODS)}")
    data_dir = data_dir_or_exit(a)
    t0 = time.time()
    if not a.collect:
        from labelnoise.common.datasets.cifar10n import load_arrays

        load_arrays(data_dir, "clean", cache_dir=a.cache_dir)  # build the image cache once
        jobs = [
            (m, s, str(data_dir), str(a.cache_dir), str(a.runs))
            for m in a.methods
            for s in a.seeds
            if not result_file(m, s, a.runs).is_file()
        ]
        jobs.sort(key=lambda j: -COST.get(j[0], 1))
        with get_context("spawn").Pool(a.jobs) as pool:
            for r in pool.imap_unordered(_job, jobs):
                print(f"[{time.time() - t0:.0f} s] {r['method']} s{r['seed']}: "
                      f"{100 * r['acc']:.2f} % in {r['sec']:.0f} s", flush=True)  # fmt: skip
    wall = time.time() - t0
    table, rows, total, missing = render(a.methods, a.seeds, a.runs)
    load = os.getloadavg()
    pre = (
        "CIFAR-10N worst labels, CPU protocol (2,500-image subset, width-32 CNN, no "
        "augmentation, Adam 1e-3 held 40 % then linear to 0, 20 epochs, last epoch, 10,000 "
        f"clean test images), seeds {a.seeds}; every row trained by labelnoise.engine.train "
        "from its recipe with `--seed=S --train.num_threads=1 --train.eval_every=100 "
        "--detection.method=none`. s per run: wall seconds of each run (one thread; "
        f"{a.jobs} runs at a time; load average at the end "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}). Sum of run times: {total:.0f} s."
        + ("" if a.collect else f" Wall time of this command: {wall:.0f} s ({len(jobs)} runs).")
        + (f" MISSING: {', '.join(missing)}." if missing else "")
    )
    report(a.name, pre + "\n\n" + table, rows, a.json)


if __name__ == "__main__":
    main()
