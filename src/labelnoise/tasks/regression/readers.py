"""Readers for regression data: tables with named columns, scikit-learn datasets, raters.

* :func:`read_table` -- CSV or Parquet with named feature and target columns.
* :func:`load_sklearn` -- scikit-learn's bundled ``diabetes`` (Efron et al., 2004) and
  ``linnerud``, and the synthetic nonlinear ``friedman1`` (Friedman, 1991) of any size.
* :func:`read_raters` / :func:`aggregate_raters` -- long ``(item, annotator, value)`` tables
  turned into one target per item with the core's numeric aggregators.

Every reader returns float arrays; bad input raises ``ValueError`` naming the column, the
row and the value, and a missing file raises ``FileNotFoundError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["RegressionData", "aggregate_raters", "load_sklearn", "read_raters", "read_table"]


@dataclass(frozen=True)
class RegressionData:
    """Features and targets.

    Attributes:
        x: ``(N, D)`` float32 features.
        y: ``(N,)`` float64 targets.
        feature_names: ``D`` column names.
        target_name: name of the target column.
        ids: optional ``(N,)`` item ids (raters' tables).
    """

    x: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    target_name: str
    ids: np.ndarray | None = None


def _read_frame(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"path must be an existing CSV or Parquet file; got {path}")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".csv", ".tsv", ".txt"):
        return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    raise ValueError(f"path must end in .csv, .tsv, .parquet or .pq; got {path.name!r}")


def _at(i: int, where: str, line_offset: int | None) -> str:
    """``row i+1 (line L of FILE)``; rows count data rows from 1, lines count the header."""
    if line_offset is None:
        return f"row {i + 1} of {where}"
    return f"row {i + 1} (line {i + line_offset} of {where})"


def _numeric_column(
    df: pd.DataFrame, column: str, *, where: str, line_offset: int | None
) -> np.ndarray:
    """``df[column]`` as float64, or ValueError naming the first non-numeric row."""
    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) & raw.notna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"column {column!r} must be numeric; got {raw.iloc[i]!r} at "
            f"{_at(i, where, line_offset)}"
        )
    return values


def _check_target(y: np.ndarray, name: str, where: str, line_offset: int | None) -> None:
    missing = np.flatnonzero(~np.isfinite(y))
    if missing.size:
        i = int(missing[0])
        raise ValueError(
            f"target {name!r} must be finite; got {y[i]} at {_at(i, where, line_offset)}"
        )
    if y.size < 2 or float(np.ptp(y)) == 0.0:
        raise ValueError(
            f"target {name!r} must vary; got the constant {float(y[0])!r} for all {y.size} rows"
        )


def _impute(
    x: np.ndarray, names: list[str], nan_features: str, where: str, offset: int | None
) -> None:
    nan = np.isnan(x)
    if not nan.any():
        return
    if nan_features == "error":
        i, j = (int(v[0]) for v in np.nonzero(nan))
        raise ValueError(
            f"features must not be missing (or pass nan_features='mean'); got NaN in "
            f"column {names[j]!r} at {_at(i, where, offset)}"
        )
    means = np.nanmean(np.where(nan.all(axis=0, keepdims=True), 0.0, x), axis=0)
    x[nan] = np.take(means, np.nonzero(nan)[1])


def read_table(
    path: str | Path,
    *,
    target: str,
    features: Sequence[str] | None = None,
    nan_features: Literal["error", "mean"] = "error",
) -> RegressionData:
    """Read a CSV / TSV / Parquet table with named columns.

    Args:
        path: ``.csv``, ``.tsv``, ``.parquet`` or ``.pq`` file with a header row.
        target: name of the target column (numeric, finite, not constant).
        features: feature column names; default every other column.
        nan_features: ``"error"`` (default) rejects missing feature values; ``"mean"``
            imputes each missing value with its column mean (columns that are entirely
            missing become 0).

    Returns:
        :class:`RegressionData` with ``x (N, D)`` float32 and ``y (N,)`` float64.
    """
    p = Path(path)
    df = _read_frame(p)
    where, offset = p.name, (None if p.suffix.lower() in (".parquet", ".pq") else 2)
    if nan_features not in ("error", "mean"):
        raise ValueError(f"nan_features must be 'error' or 'mean'; got {nan_features!r}")
    columns = [str(c) for c in df.columns]
    df.columns = columns
    if target not in columns:
        raise ValueError(f"target column {target!r} must be in {p.name}; got columns {columns}")
    names = [c for c in columns if c != target] if features is None else [str(f) for f in features]
    missing = [c for c in names if c not in columns]
    if missing:
        raise ValueError(f"feature columns must be in {p.name}; got missing {missing}")
    if not names:
        raise ValueError(f"features must name at least one column; got none in {p.name}")
    y = _numeric_column(df, target, where=where, line_offset=offset)
    _check_target(y, target, where, offset)
    x = np.stack([_numeric_column(df, c, where=where, line_offset=offset) for c in names], 1)
    _impute(x, names, nan_features, where, offset)
    return RegressionData(x.astype(np.float32), y, names, target)


def load_sklearn(
    name: Literal["diabetes", "linnerud", "friedman1"],
    *,
    target: str | None = None,
    n_samples: int = 20000,
    noise: float = 1.0,
    seed: int = 0,
) -> RegressionData:
    """A scikit-learn dataset by name (no download).

    Args:
        name: ``diabetes`` (442 x 10, disease progression; Efron et al., 2004),
            ``linnerud`` (20 x 3, ``target`` one of ``Weight``, ``Waist``, ``Pulse``;
            default ``Weight``) or ``friedman1`` (synthetic nonlinear, ``n_samples`` x 10,
            ``y = 10 sin(pi x1 x2) + 20 (x3 - 1/2)^2 + 10 x4 + 5 x5 + noise * eps``,
            Friedman 1991; ``noise`` and ``seed`` apply to it only).
        target: column for multi-target sets.

    Returns:
        :class:`RegressionData`.
    """
    from sklearn import datasets

    if name == "diabetes":
        d = datasets.load_diabetes()
        return RegressionData(
            d.data.astype(np.float32), d.target.astype(np.float64), list(d.feature_names), "y"
        )
    if name == "linnerud":
        d = datasets.load_linnerud()
        col = target or "Weight"
        if col not in d.target_names:
            raise ValueError(f"target must be one of {list(d.target_names)}; got {col!r}")
        y = d.target[:, list(d.target_names).index(col)].astype(np.float64)
        return RegressionData(d.data.astype(np.float32), y, list(d.feature_names), col)
    if name == "friedman1":
        if not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
            raise ValueError(f"n_samples must be an integer >= 2; got {n_samples!r}")
        x, y = datasets.make_friedman1(n_samples=int(n_samples), noise=noise, random_state=seed)
        return RegressionData(
            x.astype(np.float32), y.astype(np.float64), [f"x{i}" for i in range(10)], "y"
        )
    raise ValueError(f"name must be one of diabetes, linnerud, friedman1; got {name!r}")


def read_raters(
    path: str | Path,
    *,
    item: str = "question",
    annotator: str = "worker",
    value: str = "answer",
) -> pd.DataFrame:
    """A long ``(item, annotator, value)`` rating table (CSV / TSV / Parquet).

    Ids are kept as strings; ``value`` must be numeric and finite.

    Returns:
        DataFrame with columns ``item``, ``annotator`` (str) and ``value`` (float64).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"path must be an existing ratings file; got {p}")
    if p.suffix.lower() in (".parquet", ".pq"):
        df, offset = pd.read_parquet(p), None
    else:
        sep = "\t" if p.suffix.lower() == ".tsv" else ","
        df, offset = pd.read_csv(p, sep=sep, dtype={item: str, annotator: str}), 2
    for col in (item, annotator, value):
        if col not in df.columns:
            raise ValueError(f"column {col!r} must be in {p.name}; got columns {list(df.columns)}")
    v = _numeric_column(df, value, where=p.name, line_offset=offset)
    if not np.isfinite(v).all():
        i = int(np.flatnonzero(~np.isfinite(v))[0])
        raise ValueError(f"column {value!r} must be finite; got {v[i]} at {_at(i, p.name, offset)}")
    return pd.DataFrame(
        {"item": df[item].astype(str), "annotator": df[annotator].astype(str), "value": v}
    )


def aggregate_raters(
    ratings: pd.DataFrame, *, method: Literal["mean", "median", "catd"] = "mean"
) -> pd.Series:
    """One target per item from a long ``(item, annotator, value)`` table.

    Uses the core's numeric aggregators: ``mean`` / ``median`` (per-item mean / median) or
    ``catd`` (CATD, Li et al., PVLDB 2014: rater reliabilities from a chi-square confidence
    interval weight the per-item mean).

    Returns:
        float64 Series indexed by item id.
    """
    from labelnoise.common import aggregation

    classes = {"mean": "MeanAggregator", "median": "MedianAggregator", "catd": "CATD"}
    if method not in classes:
        raise ValueError(f"method must be one of {sorted(classes)}; got {method!r}")
    for col in ("item", "annotator", "value"):
        if col not in ratings.columns:
            raise ValueError(f"ratings must have column {col!r}; got {list(ratings.columns)}")
    agg = getattr(aggregation, classes[method])()
    out = agg.fit_predict(ratings["item"], ratings["annotator"], ratings["value"])
    return out.astype(np.float64)
