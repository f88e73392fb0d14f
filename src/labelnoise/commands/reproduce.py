"""``labelnoise reproduce RECIPE --seeds 0 1 2 [--variant V ...] [--set key=value ...]``.

Trains a recipe (every variant, or the chosen ones) once per seed through
:func:`labelnoise.engine.train`, into ``<output-dir>/seed-<k>/<variant>`` (``seed-<k>`` alone for
a recipe without variants), then prints a markdown table of the clean-test metric per variant:
mean ± sample standard deviation (``ddof = 1``; 0 with one seed), the number of seeds and the
per-seed values. ``--json`` writes one row per (variant, metric, seed)::

    {"rows": [{"setting": "quickstart/ce", "method": "standard", "metric": "accuracy",
               "value": 0.91, "seed": 0, "recipe": "recipes/quickstart.yaml", "variant": "ce",
               "overrides": {"seed": 0, ...}, "run_dir": "..."}, ...]}

A run directory that already holds a run of the same config is resumed (a finished run is read
back, not retrained; an interrupted one continues from its last checkpoint), so calling the
command again with more seeds only trains the new ones. ``{seed}`` in a ``--set`` value is
replaced by each run's seed (ERASE's protocol: ``--set task.noise.run={seed}``). The test metric is the task adapter's
primary metric (``accuracy``, ``miou``, ``entity_f1``, ``lwlrap``, ``ods``, ``mae``, ...) unless
``--metric`` names others from the run's ``metrics.json`` ``test`` section, or
``detection.<key>`` from its ``detection`` section (label-issue detection on the training set
against the known corrupted examples: ``detection.f1``, ``detection.precision``, ``detection.auprc``, ...).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import math
from pathlib import Path
from typing import Any

HELP = "Train a recipe once per seed and print mean ± std of its clean-test metric."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="YAML recipe (see docs/recipes.md)")
    parser.add_argument(
        "--seeds", nargs="*", default=None, metavar="K", help="seeds, e.g. --seeds 0 1 2"
    )
    parser.add_argument(
        "--variant",
        nargs="+",
        action="extend",
        default=None,
        metavar="V",
        help="only these variants (default: every variant of the recipe)",
    )
    parser.add_argument(
        "--output-dir",
        default=None,
        help="root of the runs, <DIR>/seed-<k>/<variant> (default: the recipe's output_dir "
        "with '-reproduce' appended)",
    )
    parser.add_argument("--json", default=None, help="write the per-seed rows here as JSON")
    parser.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="dotted overrides as `labelnoise train` takes them, e.g. --set train.epochs=5; "
        "{seed} in a value is each run's seed",
    )
    parser.add_argument(
        "--metric",
        nargs="+",
        action="extend",
        default=None,
        help="test metrics to report (default: the task's primary metric), or detection.<key> "
        "from metrics.json's detection section",
    )
    parser.add_argument("--overwrite", action="store_true", help="retrain runs that already exist")
    parser.add_argument("--no-report", action="store_true", help="skip each run's report.html")


def parse_seeds(values: list[str] | None) -> list[int]:
    """``--seeds`` as distinct non-negative integers (``ValueError`` naming the flag)."""
    if not values:
        raise ValueError("--seeds must name at least one seed, e.g. --seeds 0 1 2; got none")
    seeds: list[int] = []
    for v in values:
        try:
            k = int(v)
        except ValueError:
            raise ValueError(f"--seeds must be non-negative integers; got {v!r}") from None
        if k < 0:
            raise ValueError(f"--seeds must be non-negative integers; got {k}")
        if k in seeds:
            raise ValueError(f"--seeds must not repeat a seed; got {k} twice")
        seeds.append(k)
    return seeds


def primary_metric(task_name: str) -> str:
    """The adapter's primary metric for ``task_name``, read without building the task (every
    adapter's ``primary_metric`` is a constant of its class)."""
    from labelnoise.tasks.registry import get_task

    cls = get_task(task_name)
    attr = inspect.getattr_static(cls, "primary_metric")
    if isinstance(attr, property) and attr.fget is not None:
        return str(attr.fget(object.__new__(cls)))
    return str(attr)


def plan(
    recipe: dict[str, Any],
    overrides: list[str],
    seeds: list[int],
    variants: list[str] | None,
    output_dir: Path | None,
) -> tuple[Path, list[tuple[int, str | None, Any, dict[str, Any]]]]:
    """Every run to train, all resolved (and so checked) before any trains.

    Returns ``(root, [(seed, variant or None, RunConfig, overrides as given), ...])``.
    """
    from labelnoise.commands.train import resolve_runs
    from labelnoise.config import parse_overrides, resolve

    given = parse_overrides([o.replace("{seed}", str(seeds[0])) for o in overrides])
    for key in ("seed", "variants"):
        if key in given:
            raise ValueError(f"--set must not set {key!r}; use --seeds / --variant; got {key}=…")
    names = list(resolve(recipe).variants) if recipe.get("variants") else []
    if variants is not None:
        unknown = [v for v in variants if v not in names]
        if not names and variants:
            raise ValueError(f"--variant needs a recipe with variants; got {variants}")
        if unknown:
            raise ValueError(f"--variant must be one of {names}; got {unknown[0]!r}")
        if len(set(variants)) != len(variants):
            raise ValueError(f"--variant must not repeat a variant; got {variants}")
    if output_dir is not None:
        root = output_dir
    else:  # the recipe's run directory (overrides applied, no variant) + "-reproduce"
        plain = {k: v for k, v in recipe.items() if k != "variants"}
        keep = {k: v for k, v in given.items() if k in ("name", "output_dir")}
        root = Path(f"{resolve(plain, keep).run_dir}-reproduce")
    runs: list[tuple[int, str | None, Any, dict[str, Any]]] = []
    for seed in seeds:
        this = parse_overrides([o.replace("{seed}", str(seed)) for o in overrides])
        shown = {k: _plain(v) for k, v in _flat(this).items()}
        over = {**this, **parse_overrides([f"seed={seed}"])}
        cfgs = resolve_runs(recipe, over, only=variants)
        labels: list[str | None] = [n for n in names if variants is None or n in variants]
        for name, cfg in zip(labels or [None], cfgs, strict=True):
            where = root / f"seed-{seed}" / name if name else root / f"seed-{seed}"
            cfg = dataclasses.replace(cfg, output_dir=str(where))
            runs.append((seed, name, cfg, {**shown, "seed": seed}))
    return root, runs


def run(args: argparse.Namespace) -> int:
    from labelnoise._io import atomic_write, check_output_file
    from labelnoise.commands.train import _close_process_group, _is_main
    from labelnoise.config import load_recipe
    from labelnoise.engine import train
    from labelnoise.engine.report import write_report

    seeds = parse_seeds(args.seeds)
    json_path = check_output_file(args.json, "--json") if args.json else None
    out = Path(args.output_dir) if args.output_dir else None
    if out is not None and out.exists() and not out.is_dir():
        raise ValueError(f"--output-dir must be a folder; got the file {out}")
    recipe = load_recipe(args.recipe)
    root, runs = plan(recipe, args.overrides, seeds, args.variant, out)
    results: list[tuple[int, str | None, Any, dict[str, Any], dict[str, Any]]] = []
    try:
        for seed, name, cfg, shown in runs:
            resume = not args.overwrite and (cfg.run_dir / "config.yaml").is_file()
            try:
                metrics = train(cfg, resume=resume, overwrite=args.overwrite)
            except ValueError as e:
                if resume and "differs" in str(e):
                    raise ValueError(
                        f"{cfg.run_dir} holds a run of another config; pass --overwrite to "
                        f"retrain it or choose another --output-dir ({e})"
                    ) from None
                raise
            if _is_main() and not args.no_report:
                write_report(cfg.run_dir)
            results.append((seed, name, cfg, shown, metrics))
    finally:
        _close_process_group()
    if not _is_main():
        return 0
    rows = collect_rows(args.recipe, results, args.metric)
    print(markdown(rows))
    print(f"\nrun directories: {root}/seed-<k>")
    if json_path is not None:
        with atomic_write(json_path) as f:
            json.dump({"rows": rows}, f, indent=1)
    return 0


def collect_rows(
    recipe_path: str,
    results: list[tuple[int, str | None, Any, dict[str, Any], dict[str, Any]]],
    metrics: list[str] | None,
) -> list[dict[str, Any]]:
    """One JSON row per (run, metric): the clean-test value read from the run's metrics."""
    rows = []
    stem = Path(recipe_path).stem
    for seed, name, cfg, shown, m in results:
        wanted = metrics or [primary_metric(cfg.task.name)]
        for metric in wanted:
            section, key = ("test", metric)
            if metric.startswith("detection."):
                section, key = "detection", metric.split(".", 1)[1]
            values = m.get(section) or {}
            if not isinstance(values.get(key), (int, float)):
                numeric = sorted(k for k, v in values.items() if isinstance(v, (int, float)))
                what = "test metrics" if section == "test" else "detection metrics"
                raise ValueError(
                    f"--metric must be one of the run's {what} {numeric}; got "
                    f"{metric!r} ({cfg.run_dir}/metrics.json)"
                )
            rows.append(
                {
                    "setting": f"{stem}/{name}" if name else stem,
                    "method": _method(m),
                    "metric": metric,
                    "value": float(values[key]),
                    "seed": seed,
                    "recipe": recipe_path,
                    "variant": name,
                    "overrides": shown,
                    "run_dir": str(cfg.run_dir),
                }
            )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """variant | metric | mean ± std | n seeds | per-seed values (seed order as given)."""
    groups: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for r in rows:
        groups.setdefault((r["variant"] or r["setting"], r["metric"]), []).append(
            (r["seed"], r["value"])
        )
    lines = [
        "| variant | metric | mean ± std | n seeds | per-seed values |",
        "|---|---|---|---|---|",
    ]
    for (variant, metric), vals in groups.items():
        mean, std = mean_std([v for _, v in vals])
        per_seed = ", ".join(f"{k}: {v:.4f}" for k, v in vals)
        lines.append(
            f"| {variant} | {metric} | {mean:.4f} ± {std:.4f} | {len(vals)} | {per_seed} |"
        )
    return "\n".join(lines)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof = 1``; 0.0 for a single value)."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, 0.0
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))


def _method(m: dict[str, Any]) -> str:
    parts = [str(m.get("method", "standard"))]
    if m.get("loss") not in (None, "ce"):
        parts.append(f"loss={m['loss']}")
    if m.get("selector") not in (None, "none"):
        parts.append(f"selector={m['selector']}")
    return " ".join(parts)


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _plain(v: Any) -> Any:
    """A CLI override's parsed value as plain JSON."""
    parsed = getattr(v, "parsed", v)
    return (
        parsed
        if isinstance(parsed, (str, int, float, bool, type(None), list, dict))
        else str(parsed)
    )
