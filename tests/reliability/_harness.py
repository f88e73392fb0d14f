"""The check every bad-input case of ``tests/reliability`` makes: run the CLI in-process on
prepared files and assert exit code 2, a message matching the case, no traceback and no file
created or changed under the case's folder."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from labelnoise.cli import main


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` with a digest of its bytes (folders: ``/``)."""
    return {
        str(p.relative_to(root)): "/" if p.is_dir() else hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


def check_refused(
    root: Path, argv: list[str], match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run ``labelnoise argv``; assert it was refused cleanly and left ``root`` as it was."""
    before = snapshot(root)
    try:
        code = main(argv)
    except SystemExit as e:  # argparse: unknown flag or value
        code = int(e.code or 0)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code == 2, err
    assert re.search(match, err), f"{match!r} not in {err!r}"
    assert snapshot(root) == before, "a file was created or changed"
