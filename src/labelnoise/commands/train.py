"""``labelnoise train RECIPE.yaml [--section.key=value ...] [--resume | --overwrite]``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

HELP = "Train a YAML recipe (one run, or one run per variant) and write its run directory."

_FLAGS = ("--resume", "--overwrite", "--no-report", "--allow-code")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="YAML recipe (see docs/recipes.md)")
    parser.add_argument("--resume", action="store_true", help="continue the run in output_dir")
    parser.add_argument("--overwrite", action="store_true", help="replace the run in output_dir")
    parser.add_argument("--no-report", action="store_true", help="skip report.html")
    parser.add_argument(
        "--allow-code",
        action="store_true",
        help="let the recipe import modules outside the allow-listed packages (docs/recipes.md)",
    )
    parser.add_argument(
        "overrides", nargs=argparse.REMAINDER, help="dotted overrides, e.g. --loss.q=0.5"
    )


def run(args: argparse.Namespace) -> int:
    from labelnoise.config import load_recipe, parse_overrides

    rest = [a for a in args.overrides if a not in _FLAGS]
    flags = {a for a in args.overrides if a in _FLAGS}
    if args.allow_code or "--allow-code" in flags:
        import os

        from labelnoise._code import ALLOW_CODE_ENV

        os.environ[ALLOW_CODE_ENV] = "1"
    recipe = load_recipe(args.recipe)
    if not recipe:
        raise ValueError(
            f"recipe {args.recipe} must hold at least task: {{name: ...}}; got an empty file"
        )
    overrides = parse_overrides(rest)
    try:
        results = run_recipe(
            recipe,
            overrides,
            resume=args.resume or "--resume" in flags,
            overwrite=args.overwrite or "--overwrite" in flags,
            report=not (args.no_report or "--no-report" in flags),
        )
    finally:
        _close_process_group()
    return 0 if results else 1


def _close_process_group() -> None:
    """The command owns the process: tear the process group down once, after every variant
    (runs keep it alive between variants); exiting with it open can abort with SIGABRT."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def resolve_runs(
    recipe: dict[str, Any], overrides: dict[str, Any], only: list[str] | None = None
) -> list[Any]:
    """The resolved config of every run of a recipe (all checked before any trains).

    With variants, the overrides are applied to each variant after its own settings, so an
    override may set an option that only the variant has (``method.warmup_epochs`` of a
    ``method: {name: tabasco}`` variant); ``only`` keeps these variants (recipe order), and
    the overrides must then be valid for them alone.
    """
    import dataclasses

    from labelnoise.config import resolve

    if "variants" in overrides:  # variants given on the command line join the recipe's
        from labelnoise.config import deep_merge

        recipe = deep_merge(recipe, {"variants": overrides["variants"]})
        overrides = {k: v for k, v in overrides.items() if k != "variants"}
    if not recipe.get("variants"):
        return [resolve(recipe, overrides)]
    plain = resolve(recipe)
    base_name = str(overrides.get("name", plain.name))
    runs = []
    for name, spec in plain.variants.items():
        if only is not None and name not in only:
            continue
        try:
            cfg = resolve(recipe, overrides, variant=name)
        except ValueError as e:
            raise ValueError(f"variant {name!r}: {e}") from None
        spec = spec or {}
        changes: dict[str, Any] = {}
        if "name" not in spec:
            changes["name"] = name
        if "output_dir" not in spec:
            changes["output_dir"] = str(Path(cfg.output_dir.replace("{name}", base_name)) / name)
        runs.append(dataclasses.replace(cfg, **changes))
    return runs


def run_recipe(
    recipe: dict[str, Any],
    overrides: dict[str, Any],
    *,
    resume: bool = False,
    overwrite: bool = False,
    report: bool = True,
) -> list[tuple[str, dict[str, Any]]]:
    """Train every run of ``recipe``; print the comparison table; return ``(name, metrics)``."""
    from labelnoise.config import resolve
    from labelnoise.engine import train
    from labelnoise.engine.report import summary_table, write_report, write_summary
    from labelnoise.engine.setup import discard_failed_run, first_missing

    runs = resolve_runs(recipe, overrides)
    results = []
    for cfg in runs:
        if resume and len(runs) > 1 and not (cfg.run_dir / "config.yaml").is_file():
            resume_this = False  # a variant the interrupted run never reached starts fresh
        else:
            resume_this = resume
        created = first_missing(cfg.run_dir)
        try:
            metrics = train(cfg, resume=resume_this, overwrite=overwrite)
        except BaseException:  # a failed fresh run leaves no new file (a checkpoint stays)
            if not resume_this and _is_main():
                discard_failed_run(cfg.run_dir, created)
            raise
        if _is_main() and report:
            write_report(cfg.run_dir)
        results.append((cfg.name, metrics))
    if _is_main():
        base = resolve(recipe, overrides)
        if base.variants:
            write_summary(Path(base.run_dir), results, [c.run_dir for c in runs])
        print(summary_table(results))
        where = base.run_dir if base.variants else runs[0].run_dir
        print(f"\nrun directory: {where}")
    return results


def _is_main() -> bool:
    from accelerate import PartialState

    return PartialState().is_main_process
