"""The tutorials' code runs: every ```python block of each docs/tutorials page, in order, in
one fresh module (as a reader pasting them into a script would), offline."""

from __future__ import annotations

import re
import sys
import tempfile
import types
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = sorted((DOCS / "tutorials").glob("*.md"))
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(page: Path) -> list[str]:
    """The ```python fenced blocks of a markdown page (other fences are not run)."""
    return _BLOCK.findall(page.read_text(encoding="utf-8"))


def test_every_tutorial_has_code():
    assert {p.stem for p in PAGES} >= {"own_data", "custom_task", "real_noise"}
    assert all(python_blocks(p) for p in PAGES)


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_tutorial_runs(page, tmp_path, monkeypatch, request):
    from labelnoise.tasks.registry import TASKS

    if "LABELNOISE_DATA" in page.read_text(encoding="utf-8"):
        root = request.getfixturevalue("data_dir")  # fails under LABELNOISE_REQUIRE_DATA=1
        monkeypatch.setenv("LABELNOISE_DATA", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the pages' mkdtemp() land here
    name = f"labelnoise_tutorial_{page.stem}"
    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)  # so "module:Class" registrations import
    tasks_before = dict(TASKS)
    try:
        for i, code in enumerate(python_blocks(page)):
            exec(compile(code, f"{page.name} block {i + 1}", "exec"), module.__dict__)
    finally:
        TASKS.clear()
        TASKS.update(tasks_before)
