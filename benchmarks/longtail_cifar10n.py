"""CIFAR-10N worst labels on a long-tailed training set: CE, small-loss and TABASCO.

Every number comes from :func:`labelnoise.engine.train` on a variant of
``recipes/cifar10n/worst_longtail_small_cnn.yaml`` with the overrides named in each row
(``--seed=S --task.imbalance_ratio=R``): a 10,000-image subset subsampled per clean class to
the exponential profile (Cao et al. 2019) with ratio R, the human worst labels of the kept
images, a small CNN for 20 epochs (see the recipe). The row is the clean test accuracy (all
10,000 balanced test images) after the last epoch and the run's wall time. Runs go one at a time.

    python benchmarks/longtail_cifar10n.py --data-dir ../shared/data --ratios 100 10 --seeds 1
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import _common

ROOT = Path(__file__).resolve().parents[1]
RECIPE = "recipes/cifar10n/worst_longtail_small_cnn.yaml"


def run_one(variant: str, ratio: float, seed: int, data_dir: Path) -> dict[str, float]:
    """One run: the clean test accuracy and the wall time."""
    from labelnoise.config import load_recipe, resolve
    from labelnoise.engine import train

    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        over = {
            "seed": seed,
            "task": {"imbalance_ratio": ratio},
            "data": {"data_dir": str(data_dir)},
            "output_dir": f"{tmp}/run",
        }
        cfg = resolve(load_recipe(ROOT / RECIPE), over, variant=variant)
        acc = float(train(cfg)["test"]["accuracy"])
    return {"acc": acc, "time_s": time.time() - start}


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--ratios", type=float, nargs="+", default=[100.0, 10.0])
    p.add_argument("--only", nargs="*", default=["ce", "small_loss", "tabasco"])
    args = p.parse_args()
    data_dir = _common.data_dir_or_exit(args)
    table, rows = [], []
    for ratio in args.ratios:
        for variant in args.only:
            accs, times = [], []
            for s in range(args.seeds):
                r = run_one(variant, ratio, s, data_dir)
                accs.append(r["acc"])
                times.append(r["time_s"])
                cmd = f"{RECIPE} [{variant}] --seed={s} --task.imbalance_ratio={ratio:g}"
                rows.append(
                    _common.row(
                        f"cifar10n worst long-tailed r={ratio:g}",
                        variant,
                        "clean_test_acc",
                        r["acc"],
                        seed=s,
                        recipe=RECIPE,
                        variant=variant,
                        overrides={"seed": s, "task.imbalance_ratio": ratio},
                        command=cmd,
                        time_s=r["time_s"],
                    )
                )
                print(f"{cmd}: {100 * r['acc']:.2f} % in {r['time_s']:.0f} s", flush=True)
            mean = statistics.mean(accs)
            std = statistics.stdev(accs) if len(accs) > 1 else 0.0
            table.append(
                [f"{ratio:g}", variant, f"{100 * mean:.1f} +- {100 * std:.1f}", len(accs),
                 f"{statistics.mean(times):.0f}"]
            )  # fmt: skip
    pre = (
        f"labelnoise.engine.train on `{RECIPE}` [variant] with `--seed=S "
        "--task.imbalance_ratio=R`; clean test accuracy (%) after the last epoch, mean +- std "
        f"over seeds; load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."
    )
    header = ["ratio", "method", "test acc", "seeds", "time / run (s)"]
    _common.report("longtail_cifar10n", _common.markdown_table(header, table), rows, args.json, pre)


if __name__ == "__main__":
    main()
