"""Rerun every README results number from its recipe with ``labelnoise reproduce``.

Each entry below is one ``labelnoise reproduce RECIPE --variant ... --seeds ... --set ...``
command and the README numbers it gives back (in the README's units: ``scale`` 100 for %).
Runs go to ``runs/reproduce_all/<entry>/seed-<k>/<variant>``; a finished run is read back, not
retrained, so an interrupted sweep continues where it stopped. The table compares the README
number with the reproduced mean ± std (sample std over seeds) and writes
``benchmarks/results/reproduce_all.md``.

    python benchmarks/reproduce_all.py --dry-run            # the commands and the time estimate
    python benchmarks/reproduce_all.py --only 'digits*'     # some entries (fnmatch or substring)
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


def _seeds(n: int) -> tuple[int, ...]:
    return tuple(range(n))


def _graph() -> list[Entry]:
    ce = {"symm": [78.4, 74.4, 70.1, 64.5, 56.5], "asymm": [78.8, 71.1, 63.6, 51.8, 38.9]}
    ppl = {"symm": [82.6, 83.0, 82.7, 81.6, 80.3], "asymm": [82.7, 82.0, 81.5, 77.8, 59.3]}
    out = []
    for kind in ("symm", "asymm"):
        for i, rate in enumerate((0.1, 0.2, 0.3, 0.4, 0.5)):
            out.append(
                Entry(
                    f"graph-{kind}{int(rate * 100)}",
                    "graph (Cora, ERASE protocol)",
                    "recipes/graph/cora_erase_robust.yaml",
                    _seeds(10),
                    {("ce", "accuracy"): ce[kind][i], ("ppl", "accuracy"): ppl[kind][i]},
                    variants=("ce", "ppl"),
                    sets=(
                        f"task.noise.kind=erase_{kind}",
                        f"task.noise.rate={rate}",
                        "task.noise.run={seed}",
                    ),
                    scale=100,
                    minutes=20 * 20 / 60,
                )
            )
    return out


_CIFAR = ("train.eval_every=20", "detection.method=none")
_SEG = "recipes/segmentation/isbi2012_hard_"
_ACC = "accuracy"
ENTRIES: list[Entry] = [
    Entry(
        "quickstart",
        "Quickstart table",
        "recipes/quickstart.yaml",
        _seeds(3),
        {
            ("ce", _ACC): 0.904,
            ("gce", _ACC): 0.924,
            ("sce", _ACC): 0.922,
            ("elr", _ACC): 0.950,
            ("coteaching", _ACC): 0.911,
        },
        minutes=1.5,
    ),
    Entry(
        "digits-sym40",
        "classification (digits)",
        "recipes/classification/digits_robust.yaml",
        _seeds(5),
        {
            ("ce", _ACC): 73.8,
            ("gce", _ACC): 90.2,
            ("sce", _ACC): 89.9,
            ("apl_nce_rce", _ACC): 93.6,
            ("elr", _ACC): 96.0,
            ("coteaching", _ACC): 90.5,
            ("jocor", _ACC): 94.6,
        },
        variants=("ce", "gce", "sce", "apl_nce_rce", "elr", "coteaching", "jocor"),
        sets=("task.noise.kind=symmetric", "task.noise.rate=0.4"),
        scale=100,
        minutes=3,
    ),
    Entry(
        "digits-pair40",
        "classification (digits)",
        "recipes/classification/digits_robust.yaml",
        _seeds(5),
        {
            ("ce", _ACC): 65.2,
            ("elr", _ACC): 84.2,
            ("coteaching", _ACC): 82.7,
            ("jocor", _ACC): 82.6,
        },
        variants=("ce", "elr", "coteaching", "jocor"),
        sets=("task.noise.kind=pair_flip", "task.noise.rate=0.4"),
        scale=100,
        minutes=2,
    ),
    Entry(
        "digits-forward-pair40",
        "classification (digits)",
        "recipes/classification/digits_forward_pair_flip.yaml",
        _seeds(5),
        {("", _ACC): 95.1},
        scale=100,
        minutes=0.5,
    ),
    *_graph(),
    Entry(
        "audio-fsdd-tags40",
        "audio tagging (FSDD, 10 tags)",
        "recipes/audio/fsdd_tags.yaml",
        _seeds(3),
        {
            ("bce", "lwlrap"): 0.765,
            ("bce", "mAP"): 0.667,
            ("softmax", "lwlrap"): 0.816,
            ("softmax", "mAP"): 0.748,
        },
        variants=("bce", "softmax"),
        sets=("train.eval_every=20",),
        metrics=("lwlrap", "mAP"),
        minutes=6 * 230 / 60,
    ),
    Entry(
        "segmentation-clean",
        "semantic segmentation (ISBI-2012)",
        _SEG + "ce.yaml",
        _seeds(3),
        {("", "miou_argmax"): 0.759},
        sets=("task.noise.preset=none", "task.decision=prior_match"),
        metrics=("miou_argmax",),
        minutes=1,
    ),
    Entry(
        "segmentation-hard-ce",
        "semantic segmentation (ISBI-2012)",
        _SEG + "ce.yaml",
        _seeds(3),
        {("", "miou_argmax"): 0.470, ("", "miou"): 0.608},
        sets=("task.decision=prior_match",),
        metrics=("miou_argmax", "miou"),
        minutes=3 * 520 / 60,
        note="miou = the prior-matched decision, miou_argmax = argmax",
    ),
    Entry(
        "segmentation-hard-elr",
        "semantic segmentation (ISBI-2012)",
        _SEG + "elr_prior.yaml",
        _seeds(3),
        {("", "miou"): 0.645},
        metrics=("miou",),
        minutes=3 * 350 / 60,
    ),
    Entry(
        "segmentation-hard-gce",
        "semantic segmentation (ISBI-2012)",
        _SEG + "ce.yaml",
        _seeds(3),
        {("", "miou"): 0.634},
        sets=("loss.name=gce", "loss.q=0.7", "task.decision=prior_match"),
        metrics=("miou",),
        minutes=3 * 390 / 60,
    ),
    Entry(
        "segmentation-hard-bootstrap",
        "semantic segmentation (ISBI-2012)",
        _SEG + "bootstrap_hard.yaml",
        _seeds(3),
        {("", "miou"): 0.628, ("", "miou_argmax"): 0.536},
        sets=("task.decision=prior_match",),
        metrics=("miou", "miou_argmax"),
        minutes=3 * 400 / 60,
    ),
    Entry(
        "cifar10n-worst",
        "CIFAR-10N (real human noise)",
        "recipes/cifar10n/worst_small_cnn.yaml",
        (0,),
        {
            ("ce", _ACC): 42.6,
            ("coteaching", _ACC): 49.9,
            ("sce", _ACC): 46.7,
            ("elr", _ACC): 46.0,
        },
        variants=("ce", "coteaching", "sce", "elr"),
        sets=_CIFAR,
        scale=100,
        minutes=(600 + 1230 + 2 * 600) / 60,
    ),
    Entry(
        "cifar10n-worst-gce",
        "CIFAR-10N (real human noise)",
        "recipes/cifar10n/worst_small_cnn.yaml",
        _seeds(3),
        {("gce", _ACC): 46.4},
        variants=("gce",),
        sets=_CIFAR,
        scale=100,
        minutes=3 * 600 / 60,
    ),
    Entry(
        "cifar10n-worst-dividemix",
        "CIFAR-10N (real human noise)",
        "recipes/cifar10n/worst_dividemix.yaml",
        (0,),
        {("", _ACC): 48.3},
        sets=("train.eval_every=20",),
        scale=100,
        minutes=2640 / 60,
    ),
    Entry(
        "cifar10n-aggre",
        "CIFAR-10N (real human noise)",
        "recipes/cifar10n/aggre_small_cnn.yaml",
        (0,),
        {("ce", _ACC): 55.5, ("coteaching", _ACC): 57.1, ("gce", _ACC): 57.1},
        variants=("ce", "coteaching", "gce"),
        sets=_CIFAR,
        scale=100,
        minutes=(650 + 580 + 600) / 60,
    ),
    Entry(
        "cifar10n-aggre-dividemix",
        "CIFAR-10N (real human noise)",
        "recipes/cifar10n/aggre_dividemix.yaml",
        (0,),
        {("", _ACC): 53.0},
        sets=("train.eval_every=20",),
        scale=100,
        minutes=3260 / 60,
    ),
    Entry(
        "cifar10n-clean",
        "CIFAR-10N (real human noise)",
        "recipes/cifar10n/clean_small_cnn.yaml",
        (0,),
        {("", _ACC): 58.6},
        sets=("train.eval_every=20",),
        scale=100,
        minutes=380 / 60,
    ),
    Entry(
        "edges-bsds-annotator",
        "edge detection (BSDS500)",
        "recipes/edges/bsds_annotator.yaml",
        _seeds(3),
        {
            ("ce", "ods"): 0.6485,
            ("tolerance", "ods"): 0.6526,
            ("pnt_edge", "ods"): 0.6513,
            ("ema_distill", "ods"): 0.638,
        },
        variants=("ce", "tolerance", "pnt_edge", "ema_distill"),
        sets=("train.epochs=10", "train.select_by=last", "train.eval_every=10"),
        minutes=12 * 80 / 60,
    ),
    Entry(
        "regression-diabetes-sym40",
        "regression",
        "recipes/regression/diabetes_robust.yaml",
        _seeds(5),
        {("mse", "mae"): 53.613, ("mixture_linear", "mae"): 45.564},
        variants=("mse", "mixture_linear"),
        sets=("task.noise.kind=symmetric", "task.noise.rate=0.4"),
        minutes=1,
        note="README: MAE / MSE baseline = mixture_linear / mse (0.850)",
    ),
    Entry(
        "regression-diabetes-sym60",
        "regression",
        "recipes/regression/diabetes_robust.yaml",
        _seeds(5),
        {("mse", "mae"): 61.271, ("mixture_refit", "mae"): 47.902},
        variants=("mse", "mixture_refit"),
        sets=("task.noise.kind=symmetric", "task.noise.rate=0.6"),
        minutes=1,
        note="README: 0.782 = mixture_refit / mse",
    ),
    Entry(
        "regression-friedman1-sym40",
        "regression",
        "recipes/regression/friedman_robust.yaml",
        _seeds(5),
        {("mse", "mae"): 1.899, ("mixture_refit", "mae"): 0.892},
        variants=("mse", "mixture_refit"),
        sets=("task.noise.kind=symmetric", "task.noise.rate=0.4"),
        minutes=10,
        note="README: 0.470 = mixture_refit (trimmed pilot) / mse",
    ),
    Entry(
        "regression-friedman1-sym60",
        "regression",
        "recipes/regression/friedman_robust.yaml",
        _seeds(5),
        {("mse", "mae"): 2.650, ("mixture_refit", "mae"): 0.928},
        variants=("mse", "mixture_refit"),
        sets=("task.noise.kind=symmetric", "task.noise.rate=0.6"),
        minutes=10,
        note="README: 0.350 = mixture_refit / mse",
    ),
    *(
        Entry(
            f"ner-{labels}-{short}",
            "NER (NoiseBench)",
            f"recipes/ner/noisebench_frozen_{recipe}.yaml",
            _seeds(2),
            {("", "entity_f1"): value},
            sets=(f"task.labels={labels}",),
            scale=100,
            minutes=2 * minutes,
        )
        for labels, short, recipe, value, minutes in (
            ("crowd", "ce", "ce", 54.4, 5),
            ("crowd", "prune-elr", "prune_elr", 58.3, 6),
            ("llm", "ce", "ce", 46.2, 5),
            ("llm", "prune-elr", "prune_elr", 51.7, 6),
        )
    ),
]


def select(pattern: str | None) -> list[Entry]:
    """The entries whose name matches ``pattern`` (fnmatch, or a substring); all for None."""
    if pattern is None:
        return list(ENTRIES)
    return [e for e in ENTRIES if fnmatch.fnmatch(e.name, pattern) or pattern in e.name]


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
    args = p.parse_args()
    entries = select(args.only)
    if not entries:
        names = ", ".join(e.name for e in ENTRIES)
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
    for e in entries:
        rows, wall = run_entry(e, args.runs, data_dir)
        lines, out = compare(e, rows, wall)
        table += lines
        json_rows += out
        print(f"[{time.time() - t0:.0f} s] {e.name}: {wall:.0f} s", flush=True)
    load = os.getloadavg()
    pre = (
        f"`labelnoise reproduce` per entry (commands: `python benchmarks/reproduce_all.py "
        f"--dry-run`), runs in {args.runs}; {time.time() - t0:.0f} s in total, load average "
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
