"""CLIP prompt tuning on 16-shot CIFAR-10 with CIFAR-10N human labels: zero-shot CLIP vs CoOp
with cross-entropy vs CoOp with GCE vs PTNL's unsupervised mode, clean test accuracy.

Every number comes from :func:`labelnoise.engine.train` on a recipe of ``recipes/clip/``
with the overrides named in the table (model, seed, shots, epochs, learning rate, test size):
``cifar10n_worst_zeroshot.yaml`` (CoOp's context initialised from "a photo of a", lr 0: the
zero-shot prompt), ``cifar10n_worst_coop_ce.yaml``, ``cifar10n_worst_coop_gce.yaml`` and
``cifar10_ptnl.yaml`` (CLIP's own zero-shot labels, GCE). The recipes' protocol is CoOp's:
SGD (momentum 0.9, cosine schedule, batch 32) on the cached frozen image features, the last
epoch's model evaluated on the clean CIFAR-10 test images; no validation shots here.

Needs real CLIP weights (``--model``, default ``openai/clip-vit-base-patch32``: a hub id, read
from the Hugging Face cache or downloaded, or a local checkpoint folder) and preferably a GPU;
``benchmarks/clip_gpu_check.sh`` runs it. When the weights cannot be loaded it says so and
exits 3 (nothing measured). ``--model tiny-random`` runs the same engine path offline with a
2-layer random CLIP (accuracies are then chance; a smoke test, not a measurement).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import data_dir_or_exit, markdown_table, parser, report, row

ROOT = Path(__file__).resolve().parents[1]
#: row name -> (recipe, whether it trains: the lr / epochs overrides apply)
METHODS: dict[str, tuple[str, bool]] = {
    "zero-shot CLIP": ("recipes/clip/cifar10n_worst_zeroshot.yaml", False),
    "CoOp + CE": ("recipes/clip/cifar10n_worst_coop_ce.yaml", True),
    "CoOp + GCE": ("recipes/clip/cifar10n_worst_coop_gce.yaml", True),
    "PTNL (zero-shot pseudo-labels) + GCE": ("recipes/clip/cifar10_ptnl.yaml", True),
}


def overrides(name: str, args: Any, seed: int) -> dict[str, Any]:
    """The dotted overrides of one run (as ``labelnoise train`` takes them)."""
    recipe, trains = METHODS[name]
    out: dict[str, Any] = {
        "seed": seed,
        "task.model": args.model,
        "task.shots": args.shots,
        "task.val_shots": 0,
        "task.test_per_class": args.test_per_class,
        "train.select_by": "last",
        "detection.method": "none",
    }
    if "ptnl" in recipe:
        out["task.pseudo_pool"] = args.pseudo_pool
    else:
        out["task.noise.label_set"] = args.label_set
    if trains:
        out |= {"train.epochs": args.epochs, "optim.lr": args.lr}
    for kv in args.set:
        key, value = kv.split("=", 1)
        out[key] = value
    return out


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"train.epochs": 3}`` -> ``{"train": {"epochs": 3}}`` (strings read as YAML)."""
    import yaml

    out: dict[str, Any] = {}
    for key, v in flat.items():
        *parents, last = key.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = yaml.safe_load(v) if isinstance(v, str) and key != "task.model" else v
    return out


def describe(name: str, flat: dict[str, Any]) -> str:
    """One run's provenance: ``recipe --key=value ...``."""
    return METHODS[name][0] + "".join(
        f" --{k}={'null' if v is None else v}" for k, v in flat.items()
    )


def build_config(name: str, args: Any, seed: int, data_dir: Path, output_dir: str):
    """The :class:`~labelnoise.config.RunConfig` of one row: its recipe, the row's overrides
    (:func:`overrides`), the data dir, the output dir, no progress bar."""
    from labelnoise.config import load_recipe, resolve

    extra = {"output_dir": output_dir, "data.data_dir": str(data_dir), "train.progress": False}
    return resolve(load_recipe(ROOT / METHODS[name][0]), nest(overrides(name, args, seed) | extra))


def run_one(name: str, args: Any, seed: int, data_dir: Path) -> tuple[dict[str, Any], str]:
    """Train one row's recipe through the engine; its metrics and provenance."""
    from labelnoise.engine import train

    with tempfile.TemporaryDirectory() as tmp:
        cfg = build_config(name, args, seed, data_dir, f"{tmp}/run")
        return train(cfg), describe(name, overrides(name, args, seed))


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--model", default="openai/clip-vit-base-patch32")
    p.add_argument("--label-set", default="worst")
    p.add_argument("--shots", type=int, default=16)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--lr", type=float, default=0.002)
    p.add_argument("--seeds", type=int, default=1, help="seeds 0..n-1 (shots, init, order)")
    p.add_argument("--test-per-class", type=int, default=None, help="default: all 1,000")
    p.add_argument("--pseudo-pool", type=int, default=None, help="default: all 50,000")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="extra dotted overrides of every run, e.g. data.limit=8 train.max_steps=2",
    )
    p.add_argument("--tag", default="", help="write benchmarks/results/clip_cifar10n<tag>.md")
    args = p.parse_args()
    root = data_dir_or_exit(args)

    from labelnoise.tasks.clip import load_clip

    t0 = time.time()
    try:
        load_clip(args.model)  # the weights must load before anything is trained
    except FileNotFoundError as e:
        print(
            f"CANNOT RUN: the CLIP weights {args.model!r} cannot be loaded here (no access to "
            f"the model hub and no local copy). Nothing was measured.\n{e}",
            file=sys.stderr,
        )
        return 3
    results: dict[str, list[float]] = {}
    labels: dict[str, str] = {}
    json_rows = []
    setting = f"CIFAR-10 {args.shots}-shot, CIFAR-10N {args.label_set}"
    for seed in range(args.seeds):
        for name in args.methods:
            metrics, recipe = run_one(name, args, seed, root)
            acc = float(metrics["test"]["accuracy"])
            results.setdefault(name, []).append(acc)
            info = metrics["data"]
            wrong = f"{info['noise_rate_train']:.1%} wrong"
            labels[name] = (
                "none (zero-shot prompt)"
                if name == "zero-shot CLIP"
                else f"pseudo ({wrong})"
                if "PTNL" in name
                else f"{args.label_set} ({wrong})"
            )
            prov = {"recipe": METHODS[name][0], "overrides": overrides(name, args, seed)}
            json_rows.append(
                row(setting, name, "clean_test_accuracy", acc, seed=seed, command=recipe, **prov)
            )
            print(f"[{time.time() - t0:.0f} s] {name} seed {seed}: {acc:.4f} ({recipe})")
    table_rows = [
        [name, labels[name], sum(accs) / len(accs), len(accs)] for name, accs in results.items()
    ]
    table = markdown_table(
        ["method", "training labels (last seed)", "clean test accuracy", "seeds"], table_rows
    )
    sources = "\n".join(f"- {r['method']} (seed {r['seed']}): `{r['command']}`" for r in json_rows)
    table += "\n\nRecipes and overrides (labelnoise.engine.train; the benchmark also sets the "
    table += "output dir, data dir and no progress bar):\n\n" + sources
    preamble = (
        f"{setting}; model {args.model}; {args.epochs} epochs, SGD lr {args.lr}; "
        f"test images per class: {args.test_per_class or 'all'}; "
        f"{time.time() - t0:.0f} s in total."
    )
    if args.model == "tiny-random":
        preamble += " Tiny random CLIP: a smoke run of the pipeline, not a measurement."
    report(f"clip_cifar10n{args.tag}", table, json_rows, args.json, preamble)
    return 0


if __name__ == "__main__":
    sys.exit(main())
