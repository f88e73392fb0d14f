"""Cora under ERASE's noise protocol: test accuracy of CE and our methods vs ERASE's table.

ERASE (Chen et al., CIKM 2024), Cora, 10 runs: run ``k`` corrupts the 140 training labels with
``np.random.seed(123 + 100 k)`` (``task.noise.kind: erase_symm | erase_asymm``, r = 0.1 ...
0.5, ``task.noise.run: k``) and the model is taken at its best clean-validation accuracy
(500 nodes); we report mean +- std test accuracy (1,000 nodes) over the runs and whether each
cell is at or above ERASE's published mean. Detection: precision / recall of the training
nodes a method flags (lp: relabelled, graphcleaner: dropped, ppl: noisy label != prototype
teacher) against the corrupted ones.

Every number is one :func:`labelnoise.engine.train` run of a variant of
``recipes/graph/cora_erase_robust.yaml`` (``--methods``, one configuration for every cell)
with the overrides ``task.noise.kind``, ``task.noise.rate``, ``task.noise.run=k`` and
``seed=k``; each JSON row names its recipe, variant and overrides:

* ``ce``: GCN (Kipf & Welling) with cross-entropy (variant ``ce``).
* ``gce``: GCN with the core ``gce`` loss (q = 0.7) through node units (variant ``gce``).
* ``lp``: label-propagation pre-correction, then GCN + CE (method ``label_propagation``).
* ``graphcleaner``: the nodes flagged by the neighbourhood-aware detector get no loss, then
  GCN + CE (method ``graphcleaner_drop``).
* ``ppl``: PPR prototype pseudo-labelling (method ``ppl``; as ``cora_erase_ppl.yaml``).
* ``erase``: ERASE itself (method ``erase``, the authors' Cora settings; flags: training nodes
  whose ERASE label under the selected network differs from the given one).
* ``graphcleaner_trained``: GraphCleaner with its trained detector (method ``graphcleaner``).

    python benchmarks/graph_erase_protocol.py --data-dir DIR --seeds 10 --json OUT [--workers 2]
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from _common import data_dir_or_exit, markdown_table, parser, report, row

ROOT = Path(__file__).resolve().parents[1]
RECIPE = "recipes/graph/cora_erase_robust.yaml"
ERASE = {
    "symm": [81.58, 80.37, 79.61, 78.13, 78.01],
    "asymm": [81.43, 80.46, 79.52, 75.36, 48.00],
}
RATES = [0.1, 0.2, 0.3, 0.4, 0.5]
#: benchmark name -> (variant of RECIPE, the method's flag file in the run directory)
METHODS = {
    "ce": ("ce", None),
    "gce": ("gce", None),
    "lp": ("lp", "label_propagation.json"),
    "graphcleaner": ("graphcleaner", "graphcleaner.json"),
    "ppl": ("ppl", "ppl.json"),
    "erase": ("erase", "erase.json"),
    "graphcleaner_trained": ("graphcleaner_trained", "graphcleaner.json"),
}


def overrides(kind: str, rate: float, k: int) -> dict[str, Any]:
    """The overrides of one cell and ERASE run (``seed`` = run index, as before)."""
    return {"task": {"noise": {"kind": f"erase_{kind}", "rate": rate, "run": k}}, "seed": k}


def describe(over: dict[str, Any]) -> str:
    n = over["task"]["noise"]
    return (
        f"task.noise.kind={n['kind']} task.noise.rate={n['rate']} task.noise.run={n['run']} "
        f"seed={over['seed']}"
    )


def run_one(method: str, kind: str, rate: float, k: int, data_dir: str) -> dict[str, Any]:
    """Train one cell; return its test accuracy and detection flags (read from the run dir)."""
    warnings.filterwarnings("ignore", category=UserWarning)
    from labelnoise.config import load_recipe, resolve
    from labelnoise.engine import train

    variant, flags = METHODS[method]
    over = overrides(kind, rate, k)
    with tempfile.TemporaryDirectory(prefix="graph_erase_") as tmp:
        extra = {"output_dir": tmp, "data": {"data_dir": data_dir}}
        cfg = resolve(load_recipe(ROOT / RECIPE), over | extra, variant=variant)
        metrics = train(cfg)
        out: dict[str, Any] = {
            "acc": 100 * metrics["test"]["accuracy"],
            "recipe": RECIPE,
            "variant": variant,
            "overrides": {
                **{f"task.noise.{key}": v for key, v in over["task"]["noise"].items()},
                "seed": over["seed"],
            },
            "command": f"{RECIPE}#{variant} {describe(over)}",
            "wall_s": metrics["train"]["wall_time_s"],
        }
        if flags is not None:
            corrupted = np.load(Path(tmp) / "dynamics.npz")["is_corrupted"]
            info = json.loads((Path(tmp) / flags).read_text())
            issue = np.zeros(corrupted.shape, dtype=bool)
            issue[info["changed" if method == "lp" else "issues"]] = True
            tp = float((issue & corrupted).sum())
            out["precision"] = tp / max(1.0, float(issue.sum()))
            out["recall"] = tp / max(1.0, float(corrupted.sum()))
    return out


def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--methods", default="ce,ppl", help=f"comma list of {', '.join(METHODS)}")
    p.add_argument("--kinds", default="symm,asymm", help="noise kinds to run (symm, asymm)")
    p.add_argument("--rates", default=",".join(map(str, RATES)), help="noise rates to run")
    p.add_argument("--workers", type=int, default=1, help="parallel runs (processes)")
    p.add_argument("--asymm-first", action="store_true", help="run the asymm cells first")
    p.add_argument("--name", default=None, help="results file name (default: by the cells)")
    args = p.parse_args()
    methods = args.methods.split(",")
    for m in methods:
        if m not in METHODS:
            p.error(f"--methods must list names of {', '.join(METHODS)}; got {m!r}")
    rates = [float(r) for r in args.rates.split(",")]
    data_dir = str(data_dir_or_exit(args))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    cells = [(kind, r) for kind in args.kinds.split(",") for r in rates]
    if args.asymm_first:  # the cells ERASE finds hardest first (a sweep stopped early)
        cells = sorted(cells, key=lambda c: c[0] != "asymm")
    jobs = [(m, kind, r, k) for kind, r in cells for k in range(args.seeds) for m in methods]
    rows: list[dict[str, Any]] = []
    table: list[list[Any]] = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = {job: pool.submit(run_one, *job, data_dir) for job in jobs}
        for i, (kind, r) in enumerate(cells):
            setting = f"{kind} {r}"
            ref = ERASE[kind][RATES.index(r)] if r in RATES else float("nan")
            line: list[Any] = [setting, ref]
            det = []
            best = []
            for m in methods:
                res = [futures[(m, kind, r, k)].result() for k in range(args.seeds)]
                accs = np.array([x["acc"] for x in res])
                best.append(accs.mean())
                line.append(f"{accs.mean():.2f} ± {accs.std():.2f}")
                for k, x in enumerate(res):
                    name = {key: x[key] for key in ("recipe", "variant", "overrides", "command")}
                    rows.append(row(setting, m, "test_accuracy", x["acc"], seed=k, **name))
                    if "precision" in x:
                        for metric in ("precision", "recall"):
                            value = x[metric]
                            rows.append(
                                row(setting, m, f"detection_{metric}", value, seed=k, **name)
                            )
                if "precision" in res[0]:
                    pr = np.mean([[x["precision"], x["recall"]] for x in res], axis=0)
                    det.append(f"{pr[0]:.2f} / {pr[1]:.2f}")
            line.append("yes" if best[-1] >= ref else "NO")
            table.append(line + det)
            print(" | ".join(map(str, table[-1])), f"({time.perf_counter() - start:.0f} s)")
            done = i + 1 == len(cells)
            _write(args, methods, rates, table, rows, start, partial=not done)


def _write(args, methods, rates, table, rows, start, *, partial: bool) -> None:
    """The table and rows so far (rewritten after every cell, so a stopped sweep keeps the
    finished cells; the preamble says when it is partial)."""
    elapsed = time.perf_counter() - start
    det_cols = [f"{m} det. P / R" for m in methods if METHODS[m][1] is not None]
    header = ["setting", "ERASE", *methods, f"{methods[-1]} >= ERASE", *det_cols]
    load = os.getloadavg()[0]
    status = f"PARTIAL ({len(table)} cells so far), " if partial else ""
    preamble = (
        f"{status}cora, {args.seeds} seeds (ERASE's seeds 123 + 100 k), test accuracy (%) at "
        f"the best clean-validation accuracy; every run is labelnoise.engine.train on a variant "
        f"of {RECIPE} with overrides task.noise.kind/rate/run and seed (rows in the JSON); "
        f"{'elapsed' if partial else 'whole sweep'} {elapsed:.0f} s with {args.workers} "
        f"worker(s), load average {load:.1f} (methods: {', '.join(methods)})."
    )
    full = args.kinds == "symm,asymm" and rates == RATES and args.seeds == 10
    suffix = "" if full else "_" + "_".join([*args.kinds.split(","), *map(str, rates)])
    out = [*rows, row("all", "all", "wall_seconds", elapsed)]
    name = args.name or "graph_erase_protocol" + suffix
    report(name, markdown_table(header, table), out, args.json, preamble)


if __name__ == "__main__":
    main()
