"""Every recipe under recipes/ runs (tiny steps, tiny data), so no recipe can rot.

Recipes that read files use the data root: the test passes ``data.data_dir`` from the
``data_dir`` fixture when the data is present; without it, a recipe that needs files is
skipped (a failure under ``LABELNOISE_REQUIRE_DATA=1``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelnoise.commands.train import run_recipe
from labelnoise.config import load_recipe, parse_overrides

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").rglob("*.yaml"))

SMOKE = [
    "--train.max_steps=2",
    "--train.progress=false",
    "--train.num_threads=1",
    "--data.limit=48",
    "--data.eval_limit=24",
    "--data.batch_size=16",
    "--detection.folds=2",
    "--detection.epochs=1",
]


def test_recipes_exist():
    assert any(p.name == "quickstart.yaml" for p in RECIPES)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_recipe_runs(path, tmp_path, request):
    try:
        root = request.getfixturevalue("data_dir")
    except pytest.skip.Exception:
        root = None
    args = [*SMOKE, f"--output_dir={tmp_path / 'out'}"]
    if root is not None:
        args.append(f"--data.data_dir={root}")
    recipe = load_recipe(path)
    try:
        results = run_recipe(recipe, parse_overrides(args), report=False)
    except FileNotFoundError as e:
        if root is None:
            pytest.skip(f"{path.name} needs the real data: {e}")
        raise
    assert results
    for _, metrics in results:
        assert metrics["train"]["steps"] <= 2
        assert metrics["test"] or metrics["val"]
    variants = recipe.get("variants") or {}
    if variants:
        summary = json.loads((tmp_path / "out" / "summary.json").read_text())
        assert sorted(summary) == sorted(variants)


def test_quickstart_from_the_command_line(tmp_path, capsys):
    """`labelnoise train recipes/quickstart.yaml`: table printed, metrics written, and every
    report (summary and per variant) references PNG files that exist."""
    import re

    from labelnoise.cli import main

    quickstart = next(p for p in RECIPES if p.name == "quickstart.yaml")
    out = tmp_path / "qs"
    assert main(["train", str(quickstart), *SMOKE, f"--output_dir={out}"]) == 0
    printed = capsys.readouterr().out
    assert (
        "| run |" in printed and "clean test accuracy" in printed and "issue precision" in printed
    )
    variants = load_recipe(quickstart)["variants"]
    for name in variants:
        assert name in printed
        assert json.loads((out / name / "metrics.json").read_text())["run"] == name
    for html in [out / "report.html", *(out / n / "report.html" for n in variants)]:
        refs = re.findall(r"(?:src|href)='([^']+)'", html.read_text())
        assert refs and all((html.parent / r).is_file() for r in refs), html
