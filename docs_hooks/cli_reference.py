"""mkdocs hook: the CLI reference page, generated from the argparse parsers.

``docs/reference/cli.md`` holds the marker ``<!-- cli-reference -->``; at build time
:func:`on_page_markdown` replaces it with :func:`render`, which walks
``labelnoise.cli.build_parser()`` -- so the page always matches ``labelnoise --help``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

MARKER = "<!-- cli-reference -->"
PAGE = "reference/cli.md"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps its sub-parsers in this action
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options_table(parser: argparse.ArgumentParser) -> str:
    rows = ["| argument | default | help |", "|---|---|---|"]
    for a in parser._actions:
        if isinstance(a, argparse._HelpAction):
            continue
        name = ", ".join(f"`{s}`" for s in a.option_strings) or f"`{a.metavar or a.dest}`"
        if a.choices is not None and not isinstance(a.choices, dict):
            name += " (" + " \\| ".join(f"`{c}`" for c in a.choices) + ")"
        default = (
            "" if a.default in (None, argparse.SUPPRESS, False) or a.required else f"`{a.default}`"
        )
        text = (a.help or "").replace("|", "\\|").replace("\n", " ")
        if text == argparse.SUPPRESS:
            continue
        rows.append(f"| {name} | {default} | {text} |")
    return "\n".join(rows)


def render() -> str:
    """Markdown of every ``labelnoise`` subcommand: description, usage and arguments."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps usage lines at $COLUMNS
    try:
        from labelnoise.cli import build_parser

        parser = build_parser()
        parts = [f"```text\n{parser.format_usage().strip()}\n```"]
        for name, sub in _subcommands(parser).items():
            parts.append(f"## labelnoise {name}")
            parts.append(sub.description or "")
            parts.append(f"```text\n{sub.format_usage().strip()}\n```")
            parts.append(_options_table(sub))
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    return "\n\n".join(parts) + "\n"


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """mkdocs event: fill the marker of the CLI reference page."""
    if page.file.src_uri == PAGE:
        return markdown.replace(MARKER, render())
    return markdown
