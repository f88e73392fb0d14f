"""``benchmarks/reproduce_all.yaml``: every entry names a recipe, variants and overrides that
resolve (the command it prints would start), its README numbers belong to its variants and
metrics, and ``--only`` selects by exact name first."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import reproduce_all  # noqa: E402

from labelnoise.config import load_recipe, parse_overrides, resolve  # noqa: E402

ENTRIES = reproduce_all.load_entries()


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_entry_resolves(entry):
    root = BENCH.parent
    recipe = load_recipe(root / entry.recipe)
    in_recipe = list(recipe.get("variants") or {})
    assert set(entry.variants) <= set(in_recipe), entry.variants
    variants = list(entry.variants) or in_recipe or [None]  # no --variant: every variant
    for variant, metric in entry.readme:
        assert (variant or None) in variants, (variant, variants)  # "" = no variants
        if entry.metrics:
            assert metric in entry.metrics, (metric, entry.metrics)
    for seed in entry.seeds[:1]:
        sets = [s.replace("{seed}", str(seed)) for s in entry.sets]
        over = parse_overrides([f"--{s}" for s in sets]) | {"seed": seed}
        for variant in variants:
            resolve(recipe, over, variant=variant)


def test_only_selects_an_exact_name_first():
    names = [e.name for e in reproduce_all.select(ENTRIES, "cifar10n-aggre")]
    assert names == ["cifar10n-aggre"]
    assert len(reproduce_all.select(ENTRIES, "cifar10n-aggre*")) == 2
    assert {e.name for e in reproduce_all.select(ENTRIES, "graph-symm")} >= {"graph-symm10"}
