"""CIFAR-10N on a CPU: small CNN, worst and aggre human labels, CE vs robust methods; detection.

Every number comes from :func:`labelnoise.engine.train` on a recipe of ``recipes/cifar10n/``
(``task: {name: classification, dataset: cifar10n, ...}``) with a few overrides, named in
each row: ``<label set>_small_cnn.yaml`` variants ``ce``, ``gce``, ``sce``, ``elr``,
``coteaching`` and ``<label set>_dividemix.yaml``, plus ``clean_small_cnn.yaml`` (CE on the
clean labels of the same images, the ceiling). The row reports the clean test accuracy (all
10,000 test images) of the last epoch. To fit a shared 2-core CPU the training set is the
recipes' fixed random subset (``--train-size``, default 2,500 of 50,000 images); runs go to
``--jobs`` single-threaded worker processes.

Protocol (the recipes'): Co-teaching's CIFAR protocol (Han et al., NeurIPS 2018), where plain
CE memorises the noisy labels -- no augmentation, Adam 1e-3 held for 40 % of the steps then
decayed linearly to 0, last epoch; a width-32 BatchNorm CNN (4 conv blocks, 0.24 M
parameters). Hyper-parameters are the papers' CIFAR-10 values, not tuned here: GCE q 0.7,
SCE alpha 0.1 / beta 1.0, ELR lambda 3 / beta 0.7, co-teaching forget rate = the label set's
published noise rate, rounded (0.4 worst, 0.1 aggre) reached after Tk = epochs / 4,
DivideMix lambda_u 25 at ~40 % noise and 0 at ~10 % (the paper's rule), warm-up 2 and
ramp-up 3 epochs. DivideMix in the engine trains both networks in each step (see
:mod:`labelnoise.methods.dividemix`); the paper trains one after the other.

Detection: the ``ce`` run of each label set keeps its recipe's ``detection: {method: kfold,
folds: 2, epochs: 5}`` (out-of-sample ``pred_probs`` of the same subset from 2 CE fold
models, written to ``detection_pred_probs.npy``), scored against the clean labels (AUROC,
AUPRC, precision at the true number of wrong labels): our label-quality scores and
``find_label_issues`` next to cleanlab's ``find_label_issues`` on the same predictions (a
flag mask scores as quality ``1 - flagged``). The other runs set ``detection.method=none``.

    python benchmarks/cifar10n.py --data-dir ../shared/data --json benchmarks/results/cifar10n.json
"""

from __future__ import annotations

import os
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from _common import data_dir_or_exit, markdown_table, parser, report, row

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("ce", "dividemix", "coteaching", "elr", "gce", "sce")
COST = {"dividemix": 5, "coteaching": 2, "ce": 2}  # relative run time: long jobs start first


def recipe_of(label_set: str, method: str) -> tuple[str, str | None]:
    """``(recipe path relative to the repo, variant)`` of one row."""
    if method == "dividemix":
        return f"recipes/cifar10n/{label_set}_dividemix.yaml", None
    if label_set == "clean":
        return "recipes/cifar10n/clean_small_cnn.yaml", None
    return f"recipes/cifar10n/{label_set}_small_cnn.yaml", method


def overrides_of(a: Any, method: str) -> dict[str, Any]:
    """The dotted overrides of one row (every row: seed, subset size, epochs; the epoch-scaled
    schedules; one evaluation at the end; detection only on the ``ce`` rows)."""
    out: dict[str, Any] = {
        "seed": a.seed,
        "task.train_size": a.train_size,
        "train.epochs": a.epochs,
        "train.eval_every": a.epochs,
        "train.num_threads": 1,
    }
    if method == "coteaching":
        out["selector.num_gradual"] = a.num_gradual
    if method != "ce":
        out["detection.method"] = "none"
    out.update(dict(kv.split("=", 1) for kv in a.set))
    return out


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


def describe(recipe: str, variant: str | None, overrides: dict[str, Any]) -> str:
    """``recipe [variant] --key=value ...`` as one row's provenance."""
    text = recipe + (f" [{variant}]" if variant else "")
    return text + "".join(f" --{k}={v}" for k, v in overrides.items())


def build_config(label_set: str, method: str, spec: dict[str, Any], output_dir: str):
    """The :class:`~labelnoise.config.RunConfig` of one row: its recipe and variant, the row's
    overrides (``spec["overrides"]``), the data and cache dirs, no progress bar."""
    from labelnoise.config import load_recipe, resolve

    recipe, variant = recipe_of(label_set, method)
    extra = {"output_dir": output_dir, "data.data_dir": spec["data_dir"]}
    extra |= {"train.progress": False, "task.cache_dir": spec["cache_dir"]}
    return resolve(load_recipe(ROOT / recipe), nest(spec["overrides"] | extra), variant=variant)


def _job(job: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    label_set, method, spec = job
    from labelnoise.engine import train

    t0 = time.time()
    recipe, variant = recipe_of(label_set, method)
    with tempfile.TemporaryDirectory() as tmp:
        metrics = train(build_config(label_set, method, spec, f"{tmp}/run"))
        out: dict[str, Any] = {
            "label_set": label_set,
            "method": method,
            "acc": metrics["test"]["accuracy"],
            "noise": metrics["noise_rate_realised"],
            "recipe": describe(recipe, variant, spec["overrides"]),
            "prov": {"recipe": recipe, "variant": variant, "overrides": spec["overrides"]},
        }
        probs_file = Path(tmp) / "run" / "detection_pred_probs.npy"
        if probs_file.is_file():
            import csv

            with open(Path(tmp) / "run" / "label_issues.csv") as f:
                rows = sorted(csv.DictReader(f), key=lambda r: int(r["example_id"]))
            out["probs"] = np.load(probs_file)
            out["labels"] = np.array([int(r["given_label"]) for r in rows])
            out["corrupted"] = np.array([int(r["is_corrupted"]) for r in rows], dtype=bool)
    out["sec"] = time.time() - t0
    return out


def _detection_rows(r: dict[str, Any]) -> list[tuple[str, np.ndarray]]:
    from cleanlab.filter import find_label_issues as cl_find

    from labelnoise.common.detection import find_label_issues, get_label_quality_scores

    labels, probs = r["labels"], r["probs"]
    out = [
        (f"ours {m}", get_label_quality_scores(labels, probs, method=m))
        for m in ("self_confidence", "normalized_margin")
    ]
    out.append(("ours find_label_issues (mask)", 1.0 - find_label_issues(labels, probs)))
    out.append(("cleanlab find_label_issues (mask)", 1.0 - cl_find(labels, probs)))
    return out


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--train-size", type=int, default=2500)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--num-gradual", type=int, default=5, help="co-teaching Tk (epochs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--label-sets", nargs="+", default=["worst", "aggre", "clean"])
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="extra dotted overrides of every run, e.g. data.limit=64 train.max_steps=2",
    )
    p.add_argument("--tag", default="", help="write benchmarks/results/cifar10n<tag>.md")
    p.add_argument("--cache-dir", type=Path, default=Path("~/.cache/labelnoise").expanduser())
    a = p.parse_args()
    data_dir = data_dir_or_exit(a)
    from labelnoise.common.datasets.cifar10n import load_arrays

    load_arrays(data_dir, "clean", cache_dir=a.cache_dir)  # build the image cache once
    # the clean labels get CE only (the reference); the longest jobs start first
    jobs = []
    for ls in a.label_sets:
        for m in a.methods:
            if ls == "clean" and m != "ce":
                continue
            spec = {
                "overrides": overrides_of(a, m),
                "data_dir": str(data_dir),
                "cache_dir": str(a.cache_dir),
            }
            jobs.append((ls, m, spec))
    order = {(ls, m): i for i, (ls, m, _) in enumerate(jobs)}
    jobs.sort(key=lambda j: -COST.get(j[1], 1))
    t0 = time.time()
    results: list[dict[str, Any]] = []
    with get_context("spawn").Pool(a.jobs) as pool:
        for r in pool.imap_unordered(_job, jobs):
            results.append(r)
            done = {k: v for k, v in r.items() if k not in ("probs", "labels", "corrupted")}
            print(f"[{time.time() - t0:.0f} s] {done}", flush=True)
            results.sort(key=lambda r: order[(r["label_set"], r["method"])])
            _write(a, results, time.time() - t0, len(jobs))


def _write(a: Any, results: list[dict[str, Any]], wall: float, n_jobs: int) -> None:
    """Render the tables of the jobs finished so far (the report says when it is partial)."""
    from labelnoise.common.detection import estimate_joint
    from labelnoise.common.metrics import auprc, auroc, precision_at_k

    rows, train_table, det_table, notes, sources = [], [], [], [], []
    ce = {r["label_set"]: r["acc"] for r in results if r["method"] == "ce"}
    for r in results:
        setting = f"{r['label_set']}, n={a.train_size}"
        delta = 100 * (r["acc"] - ce.get(r["label_set"], float("nan")))
        train_table.append(
            [r["label_set"], r["noise"], r["method"], 100 * r["acc"], delta, round(r["sec"])]
        )
        sources.append(f"- {r['label_set']} {r['method']}: `{r['recipe']}`")
        rows.append(
            row(
                setting,
                r["method"],
                "clean_test_acc",
                r["acc"],
                seed=a.seed,
                seconds=r["sec"],
                command=r["recipe"],
                **r["prov"],
            )
        )
        if "probs" not in r:
            continue
        truth = r["corrupted"]
        for name, q in _detection_rows(r):
            vals = [auroc(truth, q), auprc(truth, q), precision_at_k(truth, q)]
            det_table.append([r["label_set"], name, *vals])
            for metric, v in zip(("auroc", "auprc", "precision_at_k"), vals):
                rows.append(row(setting, name, metric, v, seed=a.seed, **r["prov"]))
        est = 1.0 - float(np.trace(estimate_joint(r["labels"], r["probs"])))
        notes.append(
            f"- {r['label_set']}: noise rate estimated from these pred_probs (calibrated "
            f"confident joint) {est:.3f}; true {truth.mean():.3f}."
        )
        rows.append(
            row(setting, "confident joint", "noise_rate_estimate", est, seed=a.seed, **r["prov"])
        )
    rows.append(row("all", "benchmark", "wall_seconds", wall))
    table = (
        markdown_table(
            ["labels", "noise rate", "method", "clean test acc %", "vs CE (points)", "s"],
            train_table,
        )
        + "\n\nDetection (out-of-sample 2-fold pred_probs of the ce run, scored against the "
        "clean labels):\n\n"
        + markdown_table(["labels", "detector", "AUROC", "AUPRC", "P@true-noise-count"], det_table)
        + ("\n\n" + "\n".join(notes) if notes else "")
        + "\n\nRecipes (`[variant]`: the recipe's variant that was run) and overrides "
        "(`--key=value`, as `labelnoise train` takes them; the benchmark also sets the output "
        "dir, data dir, image cache and no progress bar):\n\n" + "\n".join(sources)
    )
    state = "" if len(results) == n_jobs else f" PARTIAL: {len(results)} of {n_jobs} jobs."
    pre = (
        f"labelnoise.engine.train on recipes/cifar10n/*: small CNN (width 32), {a.train_size} "
        f"training images (fixed random subset), no augmentation, full 10,000-image clean "
        f"test set, {a.epochs} epochs of Adam (lr 1e-3 held for 40 % of the steps, then "
        f"linear to 0), last epoch, seed {a.seed}. {a.jobs} single-thread worker processes. "
        f"Wall time: {wall:.0f} s (load average at the end: {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores)." + state
    )
    report(f"cifar10n{a.tag}", table, rows, a.json, preamble=pre)


if __name__ == "__main__":
    main()
