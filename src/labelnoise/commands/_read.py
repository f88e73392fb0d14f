"""Readers for the array files the CLI takes (``.npy`` and headerless / headed ``.csv``).

Every failure is a ``ValueError`` (or ``FileNotFoundError``) whose message names the flag and
the file and says what was expected: an empty, truncated, pickled, zipped or binary file never
reaches the user as a numpy / pandas traceback.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["check_input_file", "read_csv_table", "read_npy"]


def check_input_file(path: Path, name: str) -> Path:
    """``path`` as an existing regular file (``FileNotFoundError`` / ``ValueError`` naming
    ``name`` otherwise)."""
    if path.is_dir():
        raise ValueError(f"{name} must be a file; got the folder {path}")
    if not path.is_file():
        raise FileNotFoundError(f"{name} file not found: {path}")
    return path


def read_npy(path: Path, name: str, *, numeric: bool = True) -> np.ndarray:
    """The array of a ``.npy`` file, without unpickling anything.

    The header is checked against the file size before any data is read, so a header that
    declares a huge shape cannot allocate memory. ``numeric`` refuses non-number dtypes
    (strings, structured records).
    """
    check_input_file(path, name)
    what = f"{name} must be a {'numeric ' if numeric else ''}.npy array"
    size = path.stat().st_size
    with open(path, "rb") as f:
        magic = f.read(6)
        f.seek(0)
        if magic[:4] == b"PK\x03\x04":
            raise ValueError(f"{what}; got a zip (.npz) archive in {path}")
        if magic != b"\x93NUMPY":
            reason = "an empty file" if size == 0 else "a file without the .npy header"
            raise ValueError(f"{what}; got {reason}: {path}")
        try:
            major, _ = np.lib.format.read_magic(f)
            if major == 1:
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            offset = f.tell()
        except Exception as e:  # numpy parses the header with ast: SyntaxError, TokenError, ...
            raise ValueError(f"{what}; got a damaged header in {path} ({e})") from None
    if dtype.hasobject:
        raise ValueError(f"{what}; got pickled Python objects (dtype {dtype}) in {path}")
    count = int(np.prod(shape, dtype=np.float64))  # float: a declared shape may overflow int64
    expected = count * dtype.itemsize
    if size - offset < expected:
        raise ValueError(
            f"{what}; got a truncated file {path}: shape {shape} needs {expected} bytes of "
            f"data, the file has {size - offset}"
        )
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as e:  # the header passed: whatever numpy raises means a damaged file
        raise ValueError(f"{what}; could not read {path}: {e}") from None
    if numeric and not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"{what}; got dtype {arr.dtype} in {path}")
    return arr


def read_csv_table(path: Path, name: str, **kwargs):
    """``pandas.read_csv(path, **kwargs)``; an empty, ragged or non-UTF-8 file is a
    ``ValueError`` naming ``name`` and the file."""
    import pandas as pd

    check_input_file(path, name)
    try:
        return pd.read_csv(path, **kwargs)
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{name} must be a UTF-8 CSV file; got a byte that is not UTF-8 at offset {e.start} "
            f"in {path}"
        ) from None
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{name} must be a CSV file with a header or data; got {path}, empty"
        ) from None
    except (pd.errors.ParserError, ValueError) as e:
        msg = " ".join(str(e).split())
        raise ValueError(f"{name} must be a well-formed CSV file; got {path}: {msg}") from None
