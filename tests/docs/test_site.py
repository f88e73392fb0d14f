"""The documentation site's sources: the nav lists every page, relative links and anchors
resolve, every ``:::`` API reference imports and has a docstring, and the CLI reference hook
covers every argparse option. With mkdocs installed (``labelnoise[docs]``), the strict build
itself runs."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _nav_pages(nav: object) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [p for item in nav for p in _nav_pages(item)]
    if isinstance(nav, dict):
        return [p for v in nav.values() for p in _nav_pages(v)]
    return []


def _config() -> dict:
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))


def _slug(heading: str) -> str:
    """Python-Markdown's toc slug: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\s-]", "", heading.strip().lower())
    return re.sub(r"[-\s]+", "-", text).strip("-")


def _anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    return {_slug(m) for m in re.findall(r"^#+\s+(.*)$", text, re.M)}


def test_nav_lists_every_page_and_only_existing_ones():
    cfg = _config()
    assert cfg["docs_dir"] == "docs" and cfg["theme"]["name"] == "material"
    nav = _nav_pages(cfg["nav"])
    assert len(nav) == len(set(nav))
    assert all((DOCS / p).is_file() for p in nav), [p for p in nav if not (DOCS / p).is_file()]
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages == set(nav)


def test_relative_links_and_anchors_resolve():
    bad = []
    for page in DOCS.rglob("*.md"):
        text = _FENCE.sub("", page.read_text(encoding="utf-8"))
        for target in _LINK.findall(text):
            if re.match(r"^[a-z]+:", target):
                continue  # http(s), mailto
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.is_file() or DOCS not in dest.parents:
                bad.append(f"{page.relative_to(DOCS)}: {target} (no such page)")
            elif anchor and anchor not in _anchors(dest):
                bad.append(f"{page.relative_to(DOCS)}: {target} (no such heading)")
    assert not bad, bad


def _references() -> list[tuple[str, str]]:
    out = []
    for page in DOCS.rglob("*.md"):
        for ident in re.findall(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), re.M):
            out.append((page.relative_to(DOCS).as_posix(), ident))
    return out


def test_api_references_import_and_have_docstrings():
    refs = _references()
    assert len(refs) >= 15
    for page, ident in refs:
        parts = ident.split(".")
        for i in range(len(parts), 0, -1):  # the longest importable module prefix
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            for attr in parts[i:]:
                obj = getattr(obj, attr)
            break
        else:
            raise AssertionError(f"{page}: ::: {ident} does not import")
        assert (obj.__doc__ or "").strip(), f"{page}: ::: {ident} has no docstring"


def test_cli_reference_covers_every_subcommand_and_option():
    import argparse

    sys.path.insert(0, str(ROOT / "docs_hooks"))
    try:
        import cli_reference
    finally:
        sys.path.remove(str(ROOT / "docs_hooks"))
    from labelnoise.cli import COMMANDS, build_parser

    text = cli_reference.render()
    subs = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    ).choices
    assert set(subs) == set(COMMANDS)
    for name, parser in subs.items():
        assert f"## labelnoise {name}\n" in text
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            for flag in action.option_strings:
                assert f"`{flag}`" in text, (name, flag)

    class Page:
        class file:  # noqa: N801 (the shape of mkdocs' Page.file)
            src_uri = cli_reference.PAGE

    page_text = (DOCS / cli_reference.PAGE).read_text(encoding="utf-8")
    assert cli_reference.MARKER in page_text
    filled = cli_reference.on_page_markdown(page_text, Page)
    assert cli_reference.MARKER not in filled and "## labelnoise train" in filled


def test_strict_build(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("material")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "reference" / "cli" / "index.html").is_file()
