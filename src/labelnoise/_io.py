"""Atomic file output: a failed run leaves no partial file behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Write to a temp file in the destination folder, then ``os.replace`` it into place.

    If the body raises, the temp file is removed and ``path`` is left untouched. The file
    gets the mode a plain ``open(path, "w")`` would give (``0o666`` less the umask).
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a plain open() honours the umask
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_output_file(path: str | os.PathLike, flag: str) -> Path:
    """``path`` as an output file: refused (``ValueError`` naming ``flag``) when it is an
    existing folder or its parent is an existing file, before anything is written."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{flag} must be a file path; got the folder {p}")
    parent = next((a for a in p.parents if a.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ValueError(f"{flag} must be under a folder; got {p} below the file {parent}")
    return p
