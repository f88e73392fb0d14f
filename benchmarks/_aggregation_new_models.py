"""1M-answer timing of the truth-inference models of issue #23, ours vs crowd-kit.

Used by ``benchmarks/aggregation.py`` (not run on its own). Same generator as that script's
speed table (Dawid-Skene annotators, 5 answers per item); KOS is binary, so it gets the
two-class version; M-MSR is timed on the 1,000-annotator set (ours only: crowd-kit's dense
matrices do not fit) and on one with ``--mmsr-annotators`` annotators (both). Ours: median of
``--repeats`` runs; crowd-kit: ``--ck-repeats`` runs (default 1, they take minutes).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from _common import markdown_table, row

from labelnoise.common.aggregation import AGGREGATORS

NO_CROWDKIT = {
    "ibcc": "none in crowd-kit",
    "ebcc": "none in crowd-kit",
}
#: Why crowd-kit's M-MSR is not run on the 1,000-annotator set (see the module docstring).
MMSR_TOO_BIG = (
    "not run: dense 1,000 x 200,000 observation matrix (1.6 GB), a Python loop over 10^6 "
    "annotator pairs, and a dense sign graph of (1,000 + positive pairs)^2 entries (TB)"
)


def _runs(fit: Callable[[pd.DataFrame], pd.Series], frame: pd.DataFrame, truth: np.ndarray, k: int):
    secs, acc = [], float("nan")
    for _ in range(k):
        start = time.perf_counter()
        pred = fit(frame)
        secs.append(time.perf_counter() - start)
        acc = float((pred.sort_index().to_numpy() == truth).mean())
    return statistics.median(secs), secs, acc


def _fmt_runs(median: float, secs: list[float]) -> str:
    if len(secs) == 1:
        return f"{median:.2f} (1 run)"
    return f"{median:.2f} (median of {len(secs)}: " + ", ".join(f"{s:.2f}" for s in secs) + ")"


def new_models_speed(
    args: Any,
    synthetic: Callable[..., tuple[pd.DataFrame, np.ndarray]],
    ck_methods: dict[str, Callable[[pd.DataFrame], pd.Series]],
    rows: list[dict[str, Any]],
) -> str:
    """Time KOS, M-MSR, ZBS, IBCC and EBCC at ``args.speed_items`` x 5 answers; a markdown text."""
    n = args.speed_items
    sets = {
        "5 classes, 1,000 annotators": synthetic(n),
        "2 classes, 1,000 annotators": synthetic(n, n_classes=2),
        f"5 classes, {args.mmsr_annotators} annotators": synthetic(
            n, n_annotators=args.mmsr_annotators
        ),
    }
    five, two, few = sets
    plan = [
        ("kos", two, True),
        ("zbs", five, True),
        ("mmsr", five, False),
        ("mmsr", few, True),
        ("ibcc", five, False),
        ("ebcc", five, False),
    ]
    load_before = os.getloadavg()
    table = []
    for method, setting, with_ck in plan:
        frame, truth = sets[setting]
        reps = args.ebcc_repeats if method == "ebcc" else args.repeats
        ours_fit = lambda d, m=method: AGGREGATORS[m]().fit_predict(d)  # noqa: E731
        t_ours, secs, acc = _runs(ours_fit, frame, truth, reps)
        label = f"synthetic-{len(frame)} ({setting})"
        rows.append(row(label, f"labelnoise:{method}", "seconds", t_ours, runs=secs, accuracy=acc))
        print(f"labelnoise {method} [{setting}]: {secs} acc {acc:.4f}", flush=True)
        ck_cell, ratio, ck_acc = NO_CROWDKIT.get(method, MMSR_TOO_BIG), "-", "-"
        if with_ck and method in ck_methods:
            t_ck, ck_secs, ck_acc = _runs(ck_methods[method], frame, truth, args.ck_repeats)
            rows.append(
                row(label, f"crowd-kit:{method}", "seconds", t_ck, runs=ck_secs, accuracy=ck_acc)
            )
            print(f"crowd-kit {method} [{setting}]: {ck_secs} acc {ck_acc:.4f}", flush=True)
            ck_cell, ratio = _fmt_runs(t_ck, ck_secs), t_ours / t_ck
            rows.append(row(label, method, "time ratio labelnoise/crowd-kit", ratio))
        elif with_ck:
            ck_cell = "skipped (--no-crowdkit)"
        table.append(
            [
                method,
                f"{len(frame)} answers, {setting}",
                _fmt_runs(t_ours, secs),
                ck_cell,
                ratio,
                acc,
                ck_acc,
            ]
        )
    load_after = os.getloadavg()
    header = [
        "method",
        "data",
        "labelnoise s",
        "crowd-kit s",
        "ratio ours / crowd-kit",
        "labelnoise acc",
        "crowd-kit acc",
    ]
    load = (
        f"Load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after: {', '.join(f'{x:.2f}' for x in load_after)} (2 cores, shared; BLAS 1 thread)."
    )
    return "\n\n".join([markdown_table(header, table), load])
