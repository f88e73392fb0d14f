"""Speed of the noise simulators on 1M labels with C = 100 (target: class-conditional < 1 s).

Times each simulator of :mod:`labelnoise.common.noise` (median and best of ``--repeats`` runs
after one warm-up) and, side by side, cleanlab's ``generate_noisy_labels`` on the same labels
and the same column-stochastic noise matrix when cleanlab is installed. Needs no data.

    python benchmarks/simulate_speed.py [--n 1000000] [--classes 100] [--json out.json]
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import _common
import torch

from labelnoise.common import noise
from labelnoise.common.transition import TransitionMatrix


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """``(median, best)`` wall-clock seconds of ``fn`` over ``repeats`` runs after a warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0], needs_data=False)
    p.add_argument("--n", type=int, default=1_000_000, help="number of labels (default 1M)")
    p.add_argument("--classes", type=int, default=100, help="number of classes C (default 100)")
    p.add_argument("--features", type=int, default=32, help="feature dim for instance noise")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per method (default 5)")
    args = p.parse_args()

    n, c = args.n, args.classes
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, c, (n,), generator=g)
    features = torch.randn(n, args.features, generator=g)
    tags = (torch.rand(n // 10, c, generator=g) < 0.05).long()
    targets = torch.randn(n, generator=g, dtype=torch.float64)
    random_t = TransitionMatrix.random(c, trace=0.6 * c, seed=0)

    methods: dict[str, tuple[str, Callable[[], object]]] = {
        "class_conditional (symmetric 0.4)": (
            f"{n} labels, C={c}",
            lambda: noise.symmetric_noise(labels, c, 0.4, seed=1),
        ),
        "class_conditional (pair_flip 0.4)": (
            f"{n} labels, C={c}",
            lambda: noise.pair_flip_noise(labels, c, 0.4, seed=1),
        ),
        "class_conditional (random T, trace 0.6C)": (
            f"{n} labels, C={c}",
            lambda: noise.class_conditional(labels, random_t, seed=1),
        ),
        "instance_dependent (rate 0.4)": (
            f"{n} labels, C={c}, D={args.features}",
            lambda: noise.instance_dependent(labels, features, num_classes=c, rate=0.4, seed=1),
        ),
        "multilabel_noise (drop/add/swap)": (
            f"{n // 10} x {c} tags",
            lambda: noise.multilabel_noise(
                tags, drop_rate=0.2, add_rate=0.01, swap_rate=0.1, seed=1
            ),
        ),
        "uniform_replacement (rate 0.4)": (
            f"{n} targets",
            lambda: noise.uniform_replacement(targets, rate=0.4, seed=1),
        ),
        "gaussian_noise": (
            f"{n} targets",
            lambda: noise.gaussian_noise(targets, scale=0.1, seed=1),
        ),
        "outlier_noise (rate 0.1)": (
            f"{n} targets",
            lambda: noise.outlier_noise(targets, rate=0.1, seed=1),
        ),
    }
    try:
        from cleanlab.benchmarking.noise_generation import generate_noisy_labels

        y_np = labels.numpy()
        col = random_t.to_column_stochastic().numpy()
        methods["cleanlab generate_noisy_labels (random T)"] = (
            f"{n} labels, C={c}",
            lambda: generate_noisy_labels(y_np, col),
        )
    except ImportError:
        pass

    rows, table = [], []
    for method, (setting, fn) in methods.items():
        median, best = timed(fn, args.repeats)
        table.append([method, setting, median, best])
        rows.append(_common.row(setting, method, "seconds_median", median, best=best))
    header = ["method", "setting", "median s", "best s"]
    preamble = (
        f"torch {torch.__version__}, {torch.get_num_threads()} torch threads, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"median / best of {args.repeats} runs after a warm-up."
    )
    _common.report(
        "simulate_speed", _common.markdown_table(header, table), rows, args.json, preamble
    )


if __name__ == "__main__":
    main()
