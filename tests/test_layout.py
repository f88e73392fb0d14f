"""The repository's layout rules: a thin package top, self-contained docs, and no training loop
outside the engine and the methods."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "labelnoise"

#: What the package top may hold: the five layers and thin modules (entry points, config,
#: typed-value checks, atomic file writes) plus the PEP 561 marker.
ALLOWED_TOP = {
    "methods",
    "engine",
    "commands",
    "common",
    "tasks",
    "__init__.py",
    "__main__.py",
    "cli.py",
    "config.py",
    "_typed.py",
    "_code.py",
    "_io.py",
    "py.typed",
}


def _repo_files() -> list[Path]:
    """Tracked and untracked, not ignored, files of the repository."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [REPO / p for p in out.split("\0") if p and (REPO / p).is_file()]


def test_package_top_holds_only_the_layers_and_thin_modules():
    found = {p.name for p in PACKAGE.iterdir() if p.name != "__pycache__"}
    extra = sorted(found - ALLOWED_TOP)
    assert not extra, f"src/labelnoise/ must hold only {sorted(ALLOWED_TOP)}; got also {extra}"
    assert (PACKAGE / "py.typed").is_file()


def test_no_file_refers_to_the_design_notes():
    name = "DESIGN" + ".md"  # spelled apart so this file does not match itself
    hits = []
    for path in _repo_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary files
        if name in text:
            hits.append(str(path.relative_to(REPO)))
    assert not hits, f"files must stand alone; these refer to {name}: {hits}"


_TRAINING = re.compile(r"\.backward\(|\b\w*opt\w*\.step\(\)")


def test_no_training_step_outside_the_engine():
    """One loop: the backward pass and the optimizer steps live in the engine's step
    (engine/step.py; loop.py shows it in its docstring) only; benchmarks train through the
    engine too, except the bare reference loops of the loss- and engine-overhead timing
    benchmarks."""
    allowed = {
        "src/labelnoise/engine/step.py",
        "src/labelnoise/engine/loop.py",
        "benchmarks/loss_overhead.py",
        "benchmarks/engine_overhead.py",
    }
    hits = []
    for path in sorted([*PACKAGE.rglob("*.py"), *(REPO / "benchmarks").rglob("*.py")]):
        rel = str(path.relative_to(REPO))
        if rel in allowed:
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _TRAINING.search(line.split("#")[0]):
                hits.append(f"{rel}:{i}: {line.strip()}")
    assert not hits, "no training step outside engine/step.py:\n" + "\n".join(hits)
