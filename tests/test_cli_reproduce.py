"""`labelnoise reproduce`: per-seed runs through the engine, mean ± std, JSON rows, reuse."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from labelnoise.cli import main

QUICKSTART = Path(__file__).resolve().parents[1] / "recipes" / "quickstart.yaml"
TINY = ["data.limit=300", "train.epochs=1", "detection.epochs=1"]
VARIANTS = ["ce", "gce"]


def _table(printed: str) -> dict[str, list[str]]:
    """variant -> the cells of its row in the printed markdown table."""
    rows = {}
    for line in printed.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] in VARIANTS:
            rows[cells[0]] = cells
    return rows


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reproduce")
    out, js = tmp / "out", tmp / "rows.json"
    args = ["reproduce", str(QUICKSTART), "--seeds", "0", "1", "--variant", *VARIANTS]
    args += ["--set", *TINY, "--output-dir", str(out), "--json", str(js), "--no-report"]
    return args, out, js


def test_mean_std_and_json_match_the_runs(reproduced, capsys):
    args, out, js = reproduced
    assert main(args) == 0
    printed = _table(capsys.readouterr().out)
    rows = json.loads(js.read_text())["rows"]
    assert len(rows) == len(VARIANTS) * 2
    keys = {"setting", "method", "metric", "value", "seed", "recipe", "variant", "overrides"}
    for r in rows:
        assert keys <= set(r)
        assert r["setting"] == f"quickstart/{r['variant']}" and r["metric"] == "accuracy"
        assert r["recipe"] == str(QUICKSTART) and isinstance(r["value"], float)
        assert r["overrides"] == {
            "data.limit": 300,
            "train.epochs": 1,
            "detection.epochs": 1,
            "seed": r["seed"],
        }
    for variant in VARIANTS:
        per_seed = {}
        for seed in (0, 1):
            metrics = json.loads((out / f"seed-{seed}" / variant / "metrics.json").read_text())
            saved = yaml.safe_load((out / f"seed-{seed}" / variant / "config.yaml").read_text())
            assert saved["seed"] == seed and saved["data"]["limit"] == 300
            per_seed[seed] = metrics["test"]["accuracy"]  # classification's primary metric
        mine = {r["seed"]: r["value"] for r in rows if r["variant"] == variant}
        assert mine == per_seed
        values = np.array([per_seed[0], per_seed[1]])
        cells = printed[variant]
        mean, std = (float(x) for x in cells[2].split("±"))
        assert mean == pytest.approx(values.mean(), abs=5e-5)
        assert std == pytest.approx(values.std(ddof=1), abs=5e-5)
        assert cells[1] == "accuracy" and cells[3] == "2"
        assert re.findall(r"(\d): ([\d.]+)", cells[4]) == [
            (str(k), f"{per_seed[k]:.4f}") for k in (0, 1)
        ]


def test_a_second_call_reuses_finished_runs(reproduced, capsys):
    args, out, js = reproduced
    if not (out / "seed-1" / "gce" / "metrics.json").is_file():
        assert main(args) == 0
    files = [
        out / f"seed-{k}" / v / f
        for k in (0, 1)
        for v in VARIANTS
        for f in ("metrics.json", "best_model.pt")
    ]
    before = {f: f.stat().st_mtime_ns for f in files}
    first = json.loads(js.read_text())["rows"]
    capsys.readouterr()
    assert main([*args[:5], "2", *args[5:]]) == 0  # --seeds 0 1 2: only seed 2 trains
    assert {f: f.stat().st_mtime_ns for f in files} == before
    rows = json.loads(js.read_text())["rows"]
    assert [r for r in rows if r["seed"] != 2] == first
    assert sorted({r["seed"] for r in rows}) == [0, 1, 2]
    assert (out / "seed-2" / "ce" / "metrics.json").is_file()


def test_a_recipe_without_variants(tmp_path, capsys):
    recipe = yaml.safe_load(QUICKSTART.read_text())
    del recipe["variants"]
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(recipe))
    out = tmp_path / "out"
    args = ["reproduce", str(path), "--seeds", "3", "--set", *TINY, "--output-dir", str(out)]
    assert main([*args, "--no-report", "--variant", "ce"]) == 2
    assert "--variant needs a recipe with variants" in capsys.readouterr().err
    assert not out.exists()
    js = tmp_path / "r.json"
    more = ["--set", "task.split_seed={seed}", "--no-report", "--json", str(js)]
    assert main([*args, *more]) == 0
    [row] = json.loads(js.read_text())["rows"]
    assert row["setting"] == "plain" and row["variant"] is None and row["seed"] == 3
    assert row["overrides"]["task.split_seed"] == 3  # {seed}: each run's own seed
    saved = yaml.safe_load((out / "seed-3" / "config.yaml").read_text())
    assert saved["task"]["split_seed"] == 3 and saved["seed"] == 3
    metrics = json.loads((out / "seed-3" / "metrics.json").read_text())
    assert row["value"] == metrics["test"]["accuracy"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--seeds"], "--seeds must name at least one seed"),
        ([], "--seeds must name at least one seed"),
        (["--seeds", "0", "-1"], "--seeds must be non-negative integers; got -1"),
        (["--seeds", "0", "0"], "--seeds must not repeat a seed; got 0 twice"),
        (["--seeds", "one"], "--seeds must be non-negative integers; got 'one'"),
        (["--seeds", "0", "--variant", "nope"], "--variant must be one of"),
        (["--seeds", "0", "--variant", "ce", "ce"], "--variant must not repeat"),
        (["--seeds", "0", "--set", "seed=4"], "--set must not set 'seed'"),
        (["--seeds", "0", "--set", "train.epochs=0"], "train.epochs must be >= 1"),
        (["--seeds", "0", "--set", "epochs"], "override must look like"),
    ],
)
def test_bad_arguments_are_one_line_errors(extra, message, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["reproduce", str(QUICKSTART), *extra, "--output-dir", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and message in err and "Traceback" not in err
    assert not out.exists()


def test_output_paths_are_checked_before_training(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    base = ["reproduce", str(QUICKSTART), "--seeds", "0", "--set", *TINY]
    assert main([*base, "--output-dir", str(afile)]) == 2
    assert "--output-dir must be a folder" in capsys.readouterr().err
    assert main([*base, "--output-dir", str(tmp_path / "o"), "--json", str(tmp_path)]) == 2
    assert "--json must be a file path" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_detection_metrics_by_dotted_name(tmp_path, capsys):
    """``--metric detection.<key>`` reads the run's detection section (label issues of the
    training set vs the simulated corruption); an unknown key names the ones there are."""
    out, js = tmp_path / "out", tmp_path / "r.json"
    args = ["reproduce", str(QUICKSTART), "--seeds", "0", "--variant", "ce", "--set", *TINY]
    args += ["--output-dir", str(out), "--no-report"]
    assert main([*args, "--json", str(js), "--metric", "accuracy", "detection.auprc"]) == 0
    rows = json.loads(js.read_text())["rows"]
    metrics = json.loads((out / "seed-0" / "ce" / "metrics.json").read_text())
    assert [r["metric"] for r in rows] == ["accuracy", "detection.auprc"]
    assert rows[1]["value"] == metrics["detection"]["auprc"]
    capsys.readouterr()
    assert main([*args, "--metric", "detection.nope"]) == 2
    err = capsys.readouterr().err
    assert "--metric must be one of the run's detection metrics [" in err and "'auprc'" in err


def test_set_reaches_an_option_only_a_variant_has(tmp_path, capsys):
    """``--set loss.q=0.5 --variant gce``: the override is applied after the variant's own
    settings (the base recipe's CE loss has no ``q``); without ``--variant`` the variants
    that do not accept it are named."""
    out = tmp_path / "out"
    args = ["reproduce", str(QUICKSTART), "--seeds", "0", "--output-dir", str(out)]
    assert main([*args, "--set", *TINY, "loss.q=0.5"]) == 2
    err = capsys.readouterr().err
    assert "variant 'ce'" in err and "q" in err and not out.exists()
    assert main([*args, "--variant", "gce", "--no-report", "--set", *TINY, "loss.q=0.5"]) == 0
    saved = yaml.safe_load((out / "seed-0" / "gce" / "config.yaml").read_text())
    assert saved["loss"] == {"name": "gce", "q": 0.5}
    assert sorted(p.name for p in (out / "seed-0").iterdir()) == ["gce"]
    # variants given as overrides (`labelnoise train R --variants.x.loss.name=sce`) join the
    # recipe's, each resolved with the other overrides applied after it
    from labelnoise.commands.train import resolve_runs

    recipe = yaml.safe_load(QUICKSTART.read_text())
    extra = {"variants": {"x": {"loss": {"name": "gce"}}}, "loss": {"q": 0.3}}
    runs = resolve_runs(recipe, extra, only=["gce", "x"])
    assert [(c.name, c.loss.name, c.loss.options) for c in runs] == [
        ("gce", "gce", {"q": 0.3}),
        ("x", "gce", {"q": 0.3}),
    ]
