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

METHODS = (
    "mv",
    "wawa",
    "ds",
    "one-coin-ds",
    "glad",
    "mace",
    "kos",
    "mmsr",
    "zbs",
    "ibcc",
    "ebcc",
    "mean",
    "median",
    "catd",
)


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
        "or MAE for numeric methods, on the gold items that have answers (coverage printed)",
    )
    parser.add_argument(
        "--duplicates",
        choices=("error", "first", "keep-first", "last", "keep-last"),
        default="error",
        help="a worker answering an item on several rows: refuse the file (error, the default) "
        "or keep the first / last of those answers",
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
    from labelnoise.common.datasets.crowd import read_answers

    check_output_file(args.output, "--output")
    inputs = [("ANSWERS", args.answers)] + ([("--truth", args.truth)] if args.truth else [])
    for name, path in inputs:
        if Path(path).resolve() == Path(args.output).resolve():
            raise ValueError(f"--output must differ from {name}; got {args.output} for both")
    read = read_answers(args.answers, duplicates=args.duplicates.removeprefix("keep-"))
    answers = read.answers
    numeric = args.method in NUMERIC_METHODS
    if numeric and not pd.api.types.is_numeric_dtype(answers["label"]):
        bad = int(np.flatnonzero(pd.to_numeric(answers["label"], errors="coerce").isna())[0])
        raise ValueError(
            f"{args.answers}:{read.lines[bad]}: --method {args.method} needs numeric answers; "
            f"got {answers['label'].iloc[bad]!r}"
        )
    truth, num_gold = None, 0
    if args.truth is not None:
        truth, num_gold = _gold_on_answered(args.truth, answers, args.method, numeric)
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
        n = len(truth)
        if numeric:
            mae = float(np.abs(pred.to_numpy(float) - truth.to_numpy(float)).mean())
            print(f"MAE {mae:.4f} on {n} items")
        else:
            acc = float((pred.astype(str) == truth.astype(str)).mean())
            print(f"accuracy {acc:.4f} on {n} items")
        if n < num_gold:
            print(
                f"scored on {n} of {num_gold} gold items ({100 * n / num_gold:.1f} %); "
                f"the other {num_gold - n} have no answers in {args.answers}"
            )
    return 0


def _gold_on_answered(path: Path, answers, method: str, numeric: bool) -> tuple:
    """The gold labels of the answered items and the number of gold items; refused (before
    anything is written) when no gold item has answers or the labels cannot be compared."""
    import pandas as pd

    from labelnoise.common.datasets.crowd import read_truth

    gold = read_truth(path)
    truth = gold[gold.index.isin(pd.Index(answers["task"].astype(str).unique()))]
    if truth.empty:
        raise ValueError(
            f"--truth {path}: needs gold items that have answers; got none of its "
            f"{len(gold)} items among the {answers['task'].nunique()} answered items"
        )
    if numeric and not pd.api.types.is_numeric_dtype(truth):
        bad = pd.to_numeric(truth, errors="coerce").isna()
        item = truth.index[bad.to_numpy()][0]
        raise ValueError(
            f"--truth {path}: --method {method} needs numeric gold labels; got "
            f"{truth[item]!r} for item {item!r}"
        )
    if not numeric:
        given = set(answers["label"].astype(str))
        if not truth.astype(str).isin(given).any():
            raise ValueError(
                f"--truth {path}: gold labels must be labels the workers used "
                f"(e.g. {sorted(given)[:5]}); got {sorted(set(truth.astype(str)))[:5]}"
            )
    return truth, len(gold)
