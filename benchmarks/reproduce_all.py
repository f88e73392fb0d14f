"""Rerun every README results number from its recipe with ``labelnoise reproduce``.

Each entry of ``benchmarks/reproduce_all.yaml`` is one ``labelnoise reproduce RECIPE --variant ... --seeds ... --set ...``
command and the README numbers it gives back (in the README's units: ``scale`` 100 for %).
Runs go to ``runs/reproduce_all/<entry>/seed-<k>/<variant>``; a finished run is read back, not
retrained, so an interrupted sweep continues where it stopped. The table compares the README
number with the reproduced mean ± std (sample std over seeds) and writes
``benchmarks/results/reproduce_all.md``.

    python benchmarks/reproduce_all.py --dry-run            # the commands and the time estimate
    python benchmarks/reproduce_all.py --only 'digits*'     # some entries (fnmatch or substring)
    python benchmarks/reproduce_all.py --jobs 2             # two entries at a time (2 cores)
    make reproduce                                           # all of them (hours on 2 CPU cores)

Not covered (no training run behind the number): loss overhead, noise simulation, label-issue
detection, crowd aggregation (their own benchmarks), detection AUPRC columns, CLIP (not measured).
``minutes`` is each entry's estimated wall time on this 2-core machine, one process, from the
per-run times its benchmark recorded (most at load 7-20 while the machine was shared).
"""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import markdown_table, parser, report, row

ROOT = Path(__file__).resolve().parents[1]
Key = tuple[str, str]  # (variant, "" for a recipe without variants; metric)


@dataclass(frozen=True)
class Entry:
    """One ``labelnoise reproduce`` command and the README numbers it reproduces."""

    name: str
    row: str
    recipe: str
    seeds: tuple[int, ...]
    readme: dict[Key, float]
    variants: tuple[str, ...] = ()
    sets: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    scale: float = 1.0
    minutes: float = 1.0
    note: str = ""

    def command(self, out: Path | None = None, json_path: Path | None = None) -> list[str]:
        cmd = ["labelnoise", "reproduce", self.recipe]
        if self.variants:
            cmd += ["--variant", *self.variants]
        cmd += ["--seeds", *map(str, self.seeds)]
        if self.sets:
            cmd += ["--set", *self.sets]
        if self.metrics:
            cmd += ["--metric", *self.metrics]
        if out is not None:
            cmd += ["--output-dir", str(out), "--no-report"]
        if json_path is not None:
            cmd += ["--json", str(json_path)]
        return cmd


ENTRIES_FILE = Path(__file__).resolve().with_suffix(".yaml")
_FIELDS = {"name", "row", "recipe", "variants", "seeds", "set", "metrics", "readme", "scale"}
_FIELDS |= {"minutes", "note"}


def load_entries(path: Path = ENTRIES_FILE) -> list[Entry]:
    """The entries of ``benchmarks/reproduce_all.yaml`` (``yaml.safe_load``), checked: every
    error names the file, the entry and the key."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{path} must be a YAML list of entries; got {type(data).__name__}")
    out: list[Entry] = []
    for i, d in enumerate(data):
        where = f"{path} entry {i} ({d.get('name') if isinstance(d, dict) else d!r})"
        if not isinstance(d, dict) or not {"name", "row", "recipe", "seeds", "readme"} <= set(d):
            raise ValueError(f"{where} must be a mapping with name, row, recipe, seeds, readme")
        if set(d) - _FIELDS:
            raise ValueError(f"{where}: unknown keys {sorted(set(d) - _FIELDS)}")
        readme: dict[Key, float] = {}
        for k, v in d["readme"].items():
            variant, _, metric = str(k).rpartition("/")
            readme[(variant, metric)] = float(v)
        out.append(
            Entry(
                str(d["name"]),
                str(d["row"]),
                str(d["recipe"]),
                tuple(int(x) for x in d["seeds"]),
                readme,
                variants=tuple(d.get("variants", ())),
                sets=tuple(d.get("set", ())),
                metrics=tuple(d.get("metrics", ())),
                scale=float(d.get("scale", 1.0)),
                minutes=float(d.get("minutes", 1.0)),
                note=str(d.get("note", "")),
            )
        )
    names = [e.name for e in out]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: entry names must be unique; got {names}")
    return out


def select(entries: list[Entry], pattern: str | None) -> list[Entry]:
    """The entries whose name matches ``pattern`` (an entry's exact name selects only it;
    else fnmatch, or a substring); all for None."""
    if pattern is None:
        return list(entries)
    exact = [e for e in entries if e.name == pattern]
    if exact:
        return exact
    return [e for e in entries if fnmatch.fnmatch(e.name, pattern) or pattern in e.name]


def run_entry(e: Entry, runs: Path, data_dir: Path | None) -> tuple[list[dict[str, Any]], float]:
    """Run one entry's command in a subprocess; its JSON rows and wall seconds."""
    out, js = runs / e.name, runs / f"{e.name}.json"
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    if data_dir is not None:
        env["LABELNOISE_DATA"] = str(data_dir)
    cmd = [sys.executable, "-m", "labelnoise", *e.command(out, js)[1:]]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return json.loads(js.read_text())["rows"], time.perf_counter() - t0


def compare(e: Entry, rows: list[dict[str, Any]], wall: float) -> tuple[list, list]:
    """Table lines and JSON rows: README number vs the reproduced mean ± std."""
    lines, out = [], []
    for (variant, metric), readme in e.readme.items():
        vals = [
            e.scale * r["value"]
            for r in rows
            if (r["variant"] or "") == variant and r["metric"] == metric
        ]
        if not vals:
            continue
        mean = statistics.mean(vals)
        std = statistics.stdev(vals) if len(vals) > 1 else 0.0
        lines.append(
            [
                e.name,
                variant or "-",
                metric,
                readme,
                f"{mean:.4g} ± {std:.2g}",
                len(vals),
                f"{mean - readme:+.3g}",
                f"{wall / 60:.1f}",
            ]
        )
        over = {"set": list(e.sets), "seed": list(e.seeds)}
        out.append(
            row(
                e.name,
                variant or "-",
                metric,
                mean,
                std=std,
                readme=readme,
                n=len(vals),
                recipe=e.recipe,
                variant=variant or None,
                overrides=over,
                wall_s=wall,
            )
        )
    return lines, out


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--only", default=None, help="entries whose name matches (fnmatch/substring)")
    p.add_argument("--dry-run", action="store_true", help="print the commands and the estimate")
    p.add_argument("--list", action="store_true", help="print the README table of commands")
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "reproduce_all")
    p.add_argument(
        "--jobs", type=int, default=1, help="entries run at a time (one thread each; default 1)"
    )
    args = p.parse_args()
    if args.jobs < 1:
        print(f"--jobs must be >= 1; got {args.jobs}", file=sys.stderr)
        return 2
    every = load_entries()
    entries = select(every, args.only)
    if not entries:
        names = ", ".join(e.name for e in every)
        print(f"--only must match an entry of: {names}; got {args.only!r}", file=sys.stderr)
        return 2
    if args.list:
        print(
            markdown_table(
                ["README row", "numbers", "command"],
                [[e.row, _numbers(e), f"`{shlex.join(e.command())}`"] for e in entries],
            )
        )
        return 0
    if args.dry_run:
        for e in entries:
            print(f"# {e.name}: ~{e.minutes:.0f} min")
            print(shlex.join(e.command()))
        total = sum(e.minutes for e in entries)
        runs = sum(len(e.seeds) * max(1, len(e.variants)) for e in entries)
        print(f"# {len(entries)} entries, {runs} runs, estimated {total / 60:.1f} h in one process")
        return 0
    data_dir = args.data_dir if args.data_dir is not None and args.data_dir.is_dir() else None
    table, json_rows, t0 = [], [], time.time()
    done: dict[str, tuple[list, list]] = {}
    # --jobs > 1: the longest entries first, ``jobs`` subprocesses at a time
    order = sorted(entries, key=lambda e: -e.minutes) if args.jobs > 1 else entries
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(run_entry, e, args.runs, data_dir): e for e in order}
        for fut in as_completed(futures):
            e = futures[fut]
            rows, wall = fut.result()
            done[e.name] = compare(e, rows, wall)
            print(f"[{time.time() - t0:.0f} s] {e.name}: {wall:.0f} s", flush=True)
    for e in entries:  # the table in the entries' order
        table += done[e.name][0]
        json_rows += done[e.name][1]
    load = os.getloadavg()
    pre = (
        f"`labelnoise reproduce` per entry (commands: `python benchmarks/reproduce_all.py "
        f"--dry-run`), runs in {args.runs}, {args.jobs} entr{'y' if args.jobs == 1 else 'ies'} "
        f"at a time; {time.time() - t0:.0f} s in total, load average "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end. Mean ± sample std over "
        "seeds, in the README's units."
    )
    header = ["entry", "variant", "metric", "README", "reproduced", "seeds", "diff", "min"]
    suffix = (
        "" if args.only is None else "_" + "".join(c if c.isalnum() else "_" for c in args.only)
    )
    report("reproduce_all" + suffix, markdown_table(header, table), json_rows, args.json, pre)
    return 0


def _numbers(e: Entry) -> str:
    return ", ".join(f"{v or 'run'} {m} {x:g}" for (v, m), x in e.readme.items()) + (
        f" ({e.note})" if e.note else ""
    )


if __name__ == "__main__":
    sys.exit(main())
