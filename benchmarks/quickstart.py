"""The quickstart (`make run`) as a benchmark: wall time (target < 180 s) and its table.

Runs ``labelnoise train recipes/quickstart.yaml`` in a subprocess (imports included, as a
user sees it) once per seed and reports, per variant, clean test accuracy and label-issue
precision / recall (mean +- std over seeds), with the wall time of each run.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import markdown_table, parser, report, row

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    p = parser(__doc__.splitlines()[0], needs_data=False)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = p.parse_args()
    results: dict[str, dict[str, list[float]]] = {}
    walls = []
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [
                sys.executable,
                "-m",
                "labelnoise",
                "train",
                str(ROOT / "recipes/quickstart.yaml"),
                f"--output_dir={tmp}/qs",
                f"--seed={seed}",
            ]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
            walls.append(time.perf_counter() - t0)
            summary = json.loads((Path(tmp) / "qs" / "summary.json").read_text())
        for name, m in summary.items():
            r = results.setdefault(name, {"acc": [], "prec": [], "rec": []})
            r["acc"].append(m["test"]["accuracy"])
            r["prec"].append(m["detection"]["precision"])
            r["rec"].append(m["detection"]["recall"])

    def ms(v: list[float]) -> str:
        return f"{statistics.mean(v):.4f}" + (
            f" +- {statistics.stdev(v):.4f}" if len(v) > 1 else ""
        )

    rows = [[n, ms(r["acc"]), ms(r["prec"]), ms(r["rec"])] for n, r in results.items()]
    recipe = {"recipe": "recipes/quickstart.yaml", "overrides": {"seed": args.seeds}}
    json_rows = [
        row("digits sym40", n, k, statistics.mean(v), variant=n, **recipe)
        for n, r in results.items()
        for k, v in r.items()
    ]
    json_rows.append(row("digits sym40", "all", "wall_s", max(walls), **recipe))
    table = markdown_table(
        ["variant", "clean test accuracy", "issue precision", "issue recall"], rows
    )
    pre = (
        f"`labelnoise train recipes/quickstart.yaml`, seeds {args.seeds}, {os.cpu_count()} "
        f"CPUs (shared): wall time per run {', '.join(f'{w:.0f} s' for w in walls)} "
        "(target < 180 s). Model selected on noisy validation labels; label issues from "
        "3-fold out-of-sample confident learning (prune_by_noise_rate)."
    )
    report("quickstart", table, json_rows, args.json, preamble=pre)
    return 0


if __name__ == "__main__":
    sys.exit(main())
