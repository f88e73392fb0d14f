"""Shared benchmark plumbing: CLI flags, the markdown table, the JSON rows.

Every benchmark takes ``--data-dir DIR`` (where it reads real data) and ``--json PATH``, prints
a markdown table and writes it to ``benchmarks/results/<name>.md``. The JSON file holds
``{"rows": [{"setting": ..., "method": ..., "metric": ..., "value": ...}, ...]}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labelnoise._io import atomic_write  # noqa: E402


def parser(description: str, *, needs_data: bool = True) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` with the standard ``--data-dir`` and ``--json`` flags."""
    p = argparse.ArgumentParser(description=description)
    if needs_data:
        default = os.environ.get("LABELNOISE_DATA")
        p.add_argument(
            "--data-dir",
            type=Path,
            default=Path(default) if default else None,
            help="real-data root (default: $LABELNOISE_DATA)",
        )
    p.add_argument("--json", type=Path, default=None, help="write the result rows here as JSON")
    return p


def data_dir_or_exit(args: argparse.Namespace) -> Path:
    """The ``--data-dir`` value, or exit 2 with a message naming the flag."""
    if args.data_dir is None or not Path(args.data_dir).is_dir():
        print(f"--data-dir must be an existing directory; got {args.data_dir}", file=sys.stderr)
        sys.exit(2)
    return Path(args.data_dir)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub markdown table; floats are printed with 4 significant digits."""

    def fmt(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def report(
    name: str, table: str, rows: list[dict[str, Any]], json_path: Path | None, preamble: str = ""
) -> None:
    """Print ``table``, save it as ``benchmarks/results/<name>.md`` and the rows as JSON."""
    text = (preamble.rstrip() + "\n\n" if preamble else "") + table + "\n"
    print(text)
    with atomic_write(RESULTS / f"{name}.md") as f:
        f.write(f"# {name}\n\n{text}")
    if json_path is not None:
        with atomic_write(json_path) as f:
            json.dump({"rows": rows}, f, indent=1)


def row(setting: str, method: str, metric: str, value: float, **extra: Any) -> dict[str, Any]:
    """One JSON row."""
    return {"setting": setting, "method": method, "metric": metric, "value": value, **extra}
