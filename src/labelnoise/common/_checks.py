"""Boundary validation shared by every public entry point of the core.

Each check raises ``ValueError`` whose message names the argument, what was expected and
what was received. Checks run once at the public boundary; the private ``_compute_*`` fast
paths behind them assume valid input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

__all__ = [
    "as_long_tensor",
    "check_finite",
    "check_in_range",
    "check_labels",
    "check_nonempty",
    "check_probabilities",
    "check_rate",
    "check_same_length",
]


def check_rate(name: str, value: float, *, high_inclusive: bool = False) -> float:
    """Check that ``value`` is a rate in ``[0, 1)`` (or ``[0, 1]`` with ``high_inclusive``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1); got {value!r}") from None
    upper_ok = v <= 1.0 if high_inclusive else v < 1.0
    if math.isnan(v) or v < 0.0 or not upper_ok:
        bracket = "]" if high_inclusive else ")"
        raise ValueError(f"{name} must be in [0, 1{bracket}; got {value!r}")
    return v


def check_in_range(
    name: str,
    value: float,
    low: float,
    high: float,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Check ``low <= value <= high`` with the given inclusivity; return ``float(value)``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; got {value!r}") from None
    lo_ok = v >= low if low_inclusive else v > low
    hi_ok = v <= high if high_inclusive else v < high
    if math.isnan(v) or not (lo_ok and hi_ok):
        lb = "[" if low_inclusive else "("
        rb = "]" if high_inclusive else ")"
        raise ValueError(f"{name} must be in {lb}{low}, {high}{rb}; got {value!r}")
    return v


def as_long_tensor(name: str, labels: object) -> torch.Tensor:
    """Convert integer labels (array-like or tensor) to a ``torch.long`` tensor.

    Raises if the values are not integral (e.g. ``1.5``) or contain NaN.
    """
    if isinstance(labels, torch.Tensor):
        t = labels
    else:
        arr = np.asarray(labels)
        if arr.dtype.kind not in "biufc":  # strings, objects, dates, records
            raise ValueError(f"{name} must be an integer array; got dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.is_floating_point():
        if torch.isnan(t).any():
            raise ValueError(f"{name} must be integer labels; got NaN")
        if not torch.equal(t, t.round()):
            raise ValueError(f"{name} must be integer labels; got non-integral values")
    elif t.dtype == torch.bool or t.is_complex():
        raise ValueError(f"{name} must be integer labels; got dtype {t.dtype}")
    return t.long()


def check_nonempty(name: str, x: torch.Tensor | np.ndarray | Sequence) -> None:
    """Raise if ``x`` has no elements."""
    n = x.numel() if isinstance(x, torch.Tensor) else np.asarray(x).size
    if n == 0:
        raise ValueError(f"{name} must not be empty; got 0 elements")


def check_labels(
    name: str,
    labels: torch.Tensor,
    num_classes: int,
    *,
    ignore_index: int | None = None,
) -> None:
    """Check integer labels lie in ``[0, num_classes)``, except ``ignore_index``."""
    if labels.numel() == 0:
        return
    valid = labels if ignore_index is None else labels[labels != ignore_index]
    if valid.numel() == 0:
        return
    lo, hi = int(valid.min()), int(valid.max())
    if lo < 0 or hi >= num_classes:
        extra = "" if ignore_index is None else f" (or {ignore_index} to ignore)"
        got = f"min {lo}" if lo < 0 else f"max {hi}"
        raise ValueError(f"{name} must be in [0, {num_classes}){extra}; got {got}")


def check_finite(name: str, x: torch.Tensor | np.ndarray) -> None:
    """Raise if ``x`` holds NaN or infinite values."""
    t = torch.as_tensor(x)
    if t.is_floating_point() and not torch.isfinite(t).all():
        bad = "NaN" if torch.isnan(t).any() else "inf"
        raise ValueError(f"{name} must be finite; got {bad}")


def check_probabilities(
    name: str, probs: torch.Tensor, *, dim: int = -1, atol: float = 1e-4
) -> None:
    """Check ``probs`` is non-negative, finite and sums to 1 along ``dim`` within ``atol``."""
    check_finite(name, probs)
    if probs.numel() and float(probs.min()) < 0:
        raise ValueError(f"{name} must be non-negative; got min {float(probs.min()):.4g}")
    sums = probs.sum(dim=dim)
    err = (sums - 1).abs()
    if err.numel() and float(err.max()) > atol:
        i = int(err.flatten().argmax())
        raise ValueError(
            f"{name} must sum to 1 along dim {dim} (atol {atol}); "
            f"got a sum of {float(sums.flatten()[i]):.6g} at row {i}"
        )


def check_same_length(**arrays: object) -> int:
    """Check all keyword arrays have the same first dimension; return it."""
    lengths = {k: len(v) for k, v in arrays.items()}  # type: ignore[arg-type]
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise ValueError(f"{', '.join(lengths)} must have the same length; got {desc}")
    return next(iter(lengths.values()))
