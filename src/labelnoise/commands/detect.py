"""``labelnoise detect``: find label issues from given labels and predicted probabilities.

Reads ``--labels`` (``(N,)`` integers) and ``--pred-probs`` (``(N, K)`` out-of-sample
probabilities) from ``.npy`` or ``.csv`` files (CSV: one column of labels / K columns of
probabilities; a non-numeric first row is taken as a header), runs
:func:`labelnoise.common.detection.find_label_issues`, and writes a CSV ranked from the most to
the least suspicious example: flagged rows first, each group by increasing quality, with
columns ``index, given_label, suggested_label, quality, is_issue``. The output is written
atomically after everything has been computed: a bad input leaves no file behind.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Find label issues (confident learning) from labels + pred_probs files; write a ranked CSV."

FILTERS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
)
METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--labels", type=Path, required=True, help="(N,) labels: .npy or .csv")
    parser.add_argument(
        "--pred-probs", type=Path, required=True, help="(N, K) probabilities: .npy or .csv"
    )
    parser.add_argument("--filter-by", choices=FILTERS, default="prune_by_noise_rate")
    parser.add_argument(
        "--method", choices=METHODS, default="self_confidence", help="quality score to rank by"
    )
    parser.add_argument("--frac-noise", type=float, default=1.0, help="pruning rules only")
    parser.add_argument("--only-issues", action="store_true", help="write flagged rows only")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output .csv")


def _read(path: Path, name: str):
    """``(N,)`` / ``(N, K)`` numbers from a ``.npy`` or ``.csv`` file (ValueError naming
    ``name`` and the file otherwise)."""
    from labelnoise.commands._read import check_input_file, read_csv_table, read_npy

    check_input_file(path, name)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return read_npy(path, name)
    if suffix == ".csv":
        import pandas as pd

        table = read_csv_table(path, name, header=None)
        num = table.apply(pd.to_numeric, errors="coerce")
        if len(num) and num.iloc[0].isna().all():
            num = num.iloc[1:]
        if num.isna().to_numpy().any():
            raise ValueError(f"{name} must be a numeric CSV; got non-numeric cells in {path.name}")
        arr = num.to_numpy()
        return arr[:, 0] if arr.ndim == 2 and arr.shape[1] == 1 else arr
    raise ValueError(f"{name} must be a .npy or .csv file; got {path.name!r}")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from labelnoise._io import atomic_write, check_output_file
    from labelnoise.common.detection import find_label_issues, get_label_quality_scores

    out = check_output_file(Path(args.output), "--output")
    if out.suffix.lower() != ".csv":
        raise ValueError(f"--output must be a .csv file; got {out.name!r}")
    for flag, path in (("--labels", args.labels), ("--pred-probs", args.pred_probs)):
        if Path(path).resolve() == out.resolve():
            raise ValueError(f"--output must differ from {flag}; got {out} for both")
    labels = _read(Path(args.labels), "--labels")
    probs = _read(Path(args.pred_probs), "--pred-probs")
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    is_issue = find_label_issues(
        labels, probs, filter_by=args.filter_by, frac_noise=args.frac_noise
    )
    quality = get_label_quality_scores(labels, probs, method=args.method)
    y = np.asarray(labels).astype(np.int64)
    suggested = np.asarray(probs).argmax(axis=1)
    order = np.lexsort((quality, ~is_issue))
    if args.only_issues:
        order = order[is_issue[order]]
    with atomic_write(out) as f:
        f.write("index,given_label,suggested_label,quality,is_issue\n")
        for i in order:
            f.write(f"{i},{y[i]},{suggested[i]},{quality[i]:.8g},{int(is_issue[i])}\n")
    print(
        f"labelnoise detect: {int(is_issue.sum())} issues of {y.shape[0]} examples "
        f"(filter_by={args.filter_by}) -> {out}"
    )
    return 0
