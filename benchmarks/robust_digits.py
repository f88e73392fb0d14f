"""Robust losses and sample selectors vs cross-entropy on scikit-learn digits with label noise.

Every number comes from :func:`labelnoise.engine.train` on one variant of
``recipes/classification/digits_robust.yaml`` with the overrides named in the table: the seed
and the noise kind (``--task.noise.kind=symmetric`` or ``pair_flip``, rate 0.4). An MLP
(64-256-256-10) is trained with Adam on 1,200 digits whose labels carry the noise; the table
reports the clean test accuracy (597 digits, one split for every seed) after the last epoch,
mean +- std over seeds. The forward / backward corrections get the true transition matrix of
the noise (``--loss.transition``). Needs no data (several minutes of CPU, one thread). The
AUM selector of the earlier private-loop table is not run: it needs a ``C + 1``-way model and
threshold-relabelled targets (Pleiss et al., 2020), which the classification task does not
build.

    python benchmarks/robust_digits.py [--seeds 5] [--only ce gce] [--json out.json]
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import _common

ROOT = Path(__file__).resolve().parents[1]
RECIPE = "recipes/classification/digits_robust.yaml"
C = 10
RATE = 0.4
KINDS = ("symmetric", "pair_flip")
#: table name -> (recipe variant, extra overrides); ``transition: true`` = the noise's true T.
METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "ce": ("ce", {}),
    "label_smoothing": ("label_smoothing", {}),
    "nls (r=-0.2)": ("nls", {}),
    "logitnorm": ("logitnorm", {}),
    "maxsup": ("maxsup", {}),
    "focal": ("focal", {}),
    "gce": ("gce", {}),
    "tlq": ("tlq", {}),
    "sce": ("sce", {}),
    "mae": ("mae", {}),
    "apl nce_rce": ("apl_nce_rce", {}),
    "apl nce_mae": ("apl_nce_mae", {}),
    "bootstrap_soft": ("bootstrap_soft", {}),
    "bootstrap_hard": ("bootstrap_hard", {}),
    "forward (true T)": ("ce", {"loss.name": "forward", "loss.transition": True}),
    "backward (true T)": ("ce", {"loss.name": "backward", "loss.transition": True}),
    "elr": ("elr", {}),
    "ldr (aldr-kl, lam=10)": ("ldr", {}),
    "small_loss": ("small_loss", {}),
    "gmm (dividemix split)": ("gmm", {}),
    "bmm": ("bmm", {}),
    "adaptive_k": ("adaptive_k", {}),
    "or_gate_topk (k=1, m=3)": ("or_gate_topk", {}),
    "co-teaching": ("coteaching", {}),
    "jocor": ("jocor", {}),
    "co-teaching + nested dropout": ("coteaching_nested", {}),
    "rent (estimated T)": ("rent", {}),
    "dws (dirichlet, estimated T)": ("dws", {}),
    "aum (threshold samples)": ("aum", {}),
    "tabasco (wjsd / acd selection + mixmatch)": ("tabasco", {}),
    "moit": ("moit", {}),
    "moit+ (20 fine-tuning epochs)": ("moit_plus", {}),
    "dividemix (as published)": ("dividemix", {}),
    "crosssplit": ("crosssplit", {}),
    "splitnet": ("splitnet", {}),
    "ce + sam (rho=0.05)": ("ce", {"optim.sam.rho": 0.05}),
}


def overrides(name: str, kind: str, seed: int) -> dict[str, Any]:
    """The dotted overrides of one run (as ``labelnoise train`` takes them)."""
    out: dict[str, Any] = {"seed": seed, "task.noise.kind": kind, "task.noise.rate": RATE}
    return out | METHODS[name][1]


def nest(flat: dict[str, Any], kind: str) -> dict[str, Any]:
    """Dotted keys -> nested mapping; ``loss.transition: True`` -> the true ``(C, C)`` matrix."""
    from labelnoise.common.transition import TransitionMatrix

    out: dict[str, Any] = {}
    for key, v in flat.items():
        if key == "loss.transition" and v is True:
            make = TransitionMatrix.symmetric if kind == "symmetric" else TransitionMatrix.pair_flip
            v = make(C, RATE).numpy().tolist()
        *parents, last = key.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = v
    return out


def shown(flat: dict[str, Any]) -> dict[str, Any]:
    """The overrides as a JSON row names them (the true T by name, not as a matrix)."""
    return {k: ("<true T of task.noise>" if k == "loss.transition" else v) for k, v in flat.items()}


def describe(name: str, flat: dict[str, Any]) -> str:
    """One run's provenance: ``recipe [variant] --key=value ...``."""
    return f"{RECIPE} [{METHODS[name][0]}]" + "".join(f" --{k}={v}" for k, v in shown(flat).items())


def build_config(name: str, kind: str, seed: int, output_dir: str, extra: dict | None = None):
    """The :class:`~labelnoise.config.RunConfig` of one run: the recipe's variant, the
    overrides of :func:`overrides` (+ ``extra``, dotted) and the output directory."""
    from labelnoise.config import load_recipe, resolve

    flat = overrides(name, kind, seed) | (extra or {})
    over = nest(flat, kind) | {"output_dir": output_dir}
    return resolve(load_recipe(ROOT / RECIPE), over, variant=METHODS[name][0])


def run_one(name: str, kind: str, seed: int, extra: dict[str, Any] | None = None) -> float:
    """Train one run of the recipe through the engine; its clean test accuracy."""
    from labelnoise.engine import train

    with tempfile.TemporaryDirectory() as tmp:
        cfg = build_config(name, kind, seed, f"{tmp}/run", extra)
        return float(train(cfg)["test"]["accuracy"])


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0], needs_data=False)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--only", nargs="*", default=None, help="subset of method names")
    p.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    p.add_argument("--tag", default="", help="write benchmarks/results/robust_digits<tag>.md")
    args = p.parse_args()
    start = time.time()
    table, rows = [], []
    names = args.only or list(METHODS)
    for n in names:
        if n not in METHODS:
            raise SystemExit(f"--only must name methods of {list(METHODS)}; got {n!r}")
    ce_mean: dict[str, float] = {}
    for name in names:
        line = [name, f"[{METHODS[name][0]}]" + "".join(f" {k}" for k in METHODS[name][1])]
        for kind in args.kinds:
            accs = []
            for s in range(args.seeds):
                acc = run_one(name, kind, s)
                accs.append(acc)
                flat = overrides(name, kind, s)
                rows.append(
                    _common.row(
                        f"digits {kind} {RATE}",
                        name,
                        "clean_test_acc",
                        acc,
                        seed=s,
                        recipe=RECIPE,
                        variant=METHODS[name][0],
                        overrides=shown(flat),
                        command=describe(name, flat),
                    )
                )
            mean, std = statistics.mean(accs), statistics.stdev(accs) if len(accs) > 1 else 0.0
            if name == "ce":
                ce_mean[kind] = mean
            delta = mean - ce_mean.get(kind, mean)
            line += [f"{100 * mean:.1f} +- {100 * std:.1f}", f"{100 * delta:+.1f}"]
            over = shown(overrides(name, kind, 0)) | {"seed": list(range(args.seeds))}
            rows.append(
                _common.row(
                    f"digits {kind} {RATE}",
                    name,
                    "clean_test_acc_mean",
                    mean,
                    std=std,
                    recipe=RECIPE,
                    variant=METHODS[name][0],
                    overrides=over,
                )
            )
        table.append(line)
        print(" | ".join(line), f"[{time.time() - start:.0f} s]", flush=True)
        _write(args, table, rows, time.time() - start, len(names))


def _write(args: Any, table: list[list[str]], rows: list[dict[str, Any]], wall: float, n: int):
    """The table of the methods finished so far (the report says when it is partial)."""
    header = ["method", "variant (+ overrides)"]
    for kind in args.kinds:
        header += [f"{'sym' if kind == 'symmetric' else 'pair'} 40% acc", "vs CE"]
    state = "" if len(table) == n else f" PARTIAL: {len(table)} of {n} methods."
    pre = (
        f"labelnoise.engine.train on `{RECIPE}` [variant] with `--seed=S --task.noise.kind=K "
        f"--task.noise.rate={RATE}` (S = 0..{args.seeds - 1}; K = symmetric, pair_flip; the "
        "forward / backward rows also `--loss.name=forward|backward --loss.transition=<the "
        "true T of the noise>`): sklearn digits, MLP 64-256-256-10, Adam 1e-3, batch 128, "
        f"40 epochs, {args.seeds} seeds; clean test accuracy (%) after the last epoch, mean "
        f"+- std. Run time {wall:.0f} s on CPU, one thread (load average at the end "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)." + state
    )
    _common.report(
        f"robust_digits{args.tag}", _common.markdown_table(header, table), rows, args.json, pre
    )


if __name__ == "__main__":
    main()
