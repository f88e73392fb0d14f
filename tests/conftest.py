"""Shared fixtures: where the real data lives, and whether its absence is a failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _data_root() -> Path | None:
    env = os.environ.get("LABELNOISE_DATA")
    if env:
        return Path(env)
    guess = Path(__file__).resolve().parents[2] / "shared" / "data"
    return guess if guess.is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real-data root (``$LABELNOISE_DATA``).

    Missing data: skip with a reason, or fail when ``LABELNOISE_REQUIRE_DATA=1`` (CI).
    """
    root = _data_root()
    if root is None or not root.is_dir():
        msg = f"real data not found (set LABELNOISE_DATA; looked at {root})"
        if os.environ.get("LABELNOISE_REQUIRE_DATA") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return root


def require_data(path: Path) -> Path:
    """Skip (or fail under LABELNOISE_REQUIRE_DATA=1) when ``path`` does not exist."""
    if not path.exists():
        msg = f"real data file missing: {path}"
        if os.environ.get("LABELNOISE_REQUIRE_DATA") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return path
