"""SplitNet, CrossSplit and DivideMix as published vs cross-entropy: digits and CIFAR-10N.

Every number comes from :func:`labelnoise.engine.train` on a recipe variant, named in each
row with its overrides:

* digits (``benchmarks/robust_digits.py``'s protocol, ``recipes/classification/
  digits_robust.yaml`` variants ``ce``, ``dividemix``, ``crosssplit``, ``splitnet``; MLP,
  Adam 1e-3, 40 epochs, 1,200 training digits, 40 % symmetric and pair-flip noise, clean
  test accuracy of the last epoch, ``--seeds`` seeds);
* CIFAR-10N worst labels (``benchmarks/cifar10n.py``'s CPU protocol: 2,500 images, width-32
  CNN, no augmentation, 20 epochs; ``recipes/cifar10n/worst_small_cnn.yaml`` variants ``ce``,
  ``crosssplit``, ``splitnet`` and ``worst_dividemix.yaml``; ``--cifar-seeds`` seeds, one run
  at a time).

Hyper-parameters are the recipes' (the papers' values with the schedules scaled to the
protocols' epochs); none was tuned on the test split (the protocols have no validation
split, so none was tuned at all). Each run's wall time is reported (CPU, one thread).

    python benchmarks/splitnet_crosssplit.py --data-dir ../shared/data [--seeds 3]
        [--cifar-seeds 0] [--skip-digits] [--skip-cifar] [--json out.json]
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from types import SimpleNamespace
from typing import Any

import _common
import cifar10n
import robust_digits as rd

DIGITS = {"ce": "ce", "dividemix": "dividemix (as published)", "crosssplit": "crosssplit"}
DIGITS["splitnet"] = "splitnet"
CIFAR = ("splitnet", "dividemix", "crosssplit", "ce")


def _mean_std(v: list[float]) -> str:
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    return f"{100 * statistics.mean(v):.1f} +- {100 * sd:.1f}"


def digits(a: Any, rows: list[dict[str, Any]]) -> list[list[Any]]:
    table = []
    for method, name in DIGITS.items():
        line: list[Any] = [method, f"{rd.RECIPE} [{rd.METHODS[name][0]}]"]
        for kind in rd.KINDS:
            accs, secs = [], []
            for s in range(a.seeds):
                t0 = time.time()
                acc = rd.run_one(name, kind, s)
                secs.append(time.time() - t0)
                accs.append(acc)
                flat = rd.overrides(name, kind, s)
                rows.append(
                    _common.row(
                        f"digits {kind} {rd.RATE}",
                        method,
                        "clean_test_acc",
                        acc,
                        seed=s,
                        seconds=secs[-1],
                        command=rd.describe(name, flat),
                    )
                )
            line += [_mean_std(accs), f"{statistics.mean(secs):.0f}"]
            print(method, kind, line[-2], flush=True)
        table.append(line)
    return table


def cifar(a: Any, rows: list[dict[str, Any]], data_dir: str, partial: Any) -> list[list[Any]]:
    from labelnoise.engine import train

    table = []
    for method in a.cifar_methods:
        accs, secs = [], []
        for seed in a.cifar_seeds:
            ns = SimpleNamespace(seed=seed, train_size=2500, epochs=20, num_gradual=5, set=a.set)
            over = cifar10n.overrides_of(ns, method)
            over["detection.method"] = "none"
            spec = {"overrides": over, "data_dir": data_dir, "cache_dir": str(a.cache_dir)}
            recipe, variant = cifar10n.recipe_of("worst", method)
            t0 = time.time()
            with tempfile.TemporaryDirectory() as tmp:
                cfg = cifar10n.build_config("worst", method, spec, f"{tmp}/run")
                acc = float(train(cfg)["test"]["accuracy"])
            secs.append(time.time() - t0)
            accs.append(acc)
            cmd = cifar10n.describe(recipe, variant, over)
            rows.append(
                _common.row(
                    "cifar10n worst, n=2500",
                    method,
                    "clean_test_acc",
                    acc,
                    seed=seed,
                    seconds=secs[-1],
                    command=cmd,
                )
            )
            print(method, seed, f"{100 * acc:.1f}", f"{secs[-1]:.0f} s", flush=True)
        table.append(
            [method, cmd.split(" --")[0], _mean_std(accs), " ".join(f"{s:.0f}" for s in secs)]
        )
        partial(table)
    return table


def _report(a: Any, parts: list[str], rows: list[dict[str, Any]], t0: float, note: str) -> None:
    pre = (
        f"labelnoise.engine.train, CPU, one thread per run; total {time.time() - t0:.0f} s; "
        f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other "
        f"jobs shared the machine).{note}"
    )
    _common.report(a.name, "\n\n".join(parts), rows, a.json, pre)


def main() -> None:
    from pathlib import Path

    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3, help="digits seeds")
    p.add_argument("--cifar-seeds", type=int, nargs="*", default=[0])
    p.add_argument("--skip-digits", action="store_true")
    p.add_argument("--skip-cifar", action="store_true")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="CIFAR overrides")
    p.add_argument("--cifar-methods", nargs="+", default=list(CIFAR), choices=CIFAR)
    p.add_argument("--name", default="splitnet_crosssplit", help="benchmarks/results/<name>.md")
    p.add_argument("--cache-dir", type=Path, default=Path("~/.cache/labelnoise").expanduser())
    a = p.parse_args()
    data_dir = None if a.skip_cifar else str(_common.data_dir_or_exit(a))
    rows: list[dict[str, Any]] = []
    parts: list[str] = []
    t0 = time.time()
    if not a.skip_digits:
        dt = digits(a, rows)
        parts.append(
            f"Digits, 40 % noise, {a.seeds} seeds (clean test accuracy %, mean +- std; s = mean "
            "wall seconds per run):\n\n"
            + _common.markdown_table(
                ["method", "recipe [variant]", "sym acc", "s", "pair acc", "s"], dt
            )
        )
        _report(a, parts, rows, t0, "" if a.skip_cifar else " PARTIAL: CIFAR-10N runs pending.")
    if not a.skip_cifar:
        assert data_dir is not None

        def partial(ct: list[list[Any]]) -> None:
            text = (
                f"CIFAR-10N worst labels (40.2 % noise), 2,500 images, 20 epochs, seeds "
                f"{a.cifar_seeds} (clean test accuracy % on the 10,000 test images; s = wall "
                "seconds of each run, one at a time):\n\n"
                + _common.markdown_table(["method", "recipe [variant]", "acc", "s"], ct)
            )
            n = len(a.cifar_methods)
            note = "" if len(ct) == n else f" PARTIAL: {len(ct)} of {n} CIFAR-10N methods."
            _report(a, [*parts, text], rows, t0, note)

        cifar(a, rows, data_dir, partial)


if __name__ == "__main__":
    main()
