"""``labelnoise aggregate``: infer one label per item from crowd answers."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

HELP = (
    "Aggregate crowd answers into one label per item (majority vote, Dawid-Skene, GLAD, MACE, "
    "mean, median, ...). Reads Zheng et al. CSVs (question,worker,answer), Snow et al. TSVs and "
    "crowd-kit tables (task,worker,label); writes item,label,confidence. Confidence is the "
    "posterior of the chosen class, or 1 / (1 + standard error) for numeric methods."
)

METHODS = ("mv", "wawa", "ds", "one-coin-ds", "glad", "mace", "mean", "median", "catd")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("answers", type=Path, metavar="ANSWERS", help="answer file (CSV/TSV)")
    parser.add_argument(
        "--method", choices=METHODS, default="ds", help="aggregation method (default: ds)"
    )
    parser.add_argument(
        "--output", type=Path, required=True, metavar="OUT.csv", help="where to write the labels"
    )
    parser.add_argument(
        "--truth",
        type=Path,
        default=None,
        metavar="TRUTH",
        help="gold labels (question,truth / task,true_label CSV or a Snow TSV): print accuracy, "
        "or MAE for numeric methods",
    )


def _format(value: object) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from labelnoise._io import atomic_write, check_output_file
    from labelnoise.common.aggregation import AGGREGATORS, NUMERIC_METHODS
    from labelnoise.common.datasets.crowd import read_answers, read_truth

    check_output_file(args.output, "--output")
    read = read_answers(args.answers)
    answers = read.answers
    numeric = args.method in NUMERIC_METHODS
    if numeric and not pd.api.types.is_numeric_dtype(answers["label"]):
        bad = int(np.flatnonzero(pd.to_numeric(answers["label"], errors="coerce").isna())[0])
        raise ValueError(
            f"{args.answers}:{read.lines[bad]}: --method {args.method} needs numeric answers; "
            f"got {answers['label'].iloc[bad]!r}"
        )
    truth = None
    if args.truth is not None:
        truth = read_truth(args.truth, items=pd.Index(answers["task"].unique()))
    model = AGGREGATORS[args.method]()
    labels = model.fit_predict(answers)
    if numeric:
        confidence = 1.0 / (1.0 + model.stderr_)
    else:
        confidence = model.probas_.max(axis=1)
    with atomic_write(args.output, newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["item", "label", "confidence"])
        for item, label, conf in zip(labels.index, labels.tolist(), confidence, strict=True):
            writer.writerow([item, _format(label), f"{conf:.6g}"])
    print(f"wrote {len(labels)} items to {args.output} ({args.method})")
    if truth is not None:
        pred = labels.reindex(truth.index)
        if numeric:
            mae = float(np.abs(pred.to_numpy(float) - truth.to_numpy(float)).mean())
            print(f"MAE {mae:.4f} on {len(truth)} items")
        else:
            acc = float((pred.astype(str) == truth.astype(str)).mean())
            print(f"accuracy {acc:.4f} on {len(truth)} items")
    return 0
