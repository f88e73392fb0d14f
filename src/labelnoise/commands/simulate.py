"""``labelnoise simulate``: corrupt a labels file and report the realised noise.

Reads labels from a ``.npy`` array or one column of a ``.csv`` (integer or string classes, or
real targets), applies a simulator of :mod:`labelnoise.common.noise`, and writes the noisy
labels in the input's format plus a JSON report (realised transition matrix and noise rate,
the seed, the arguments). Both files are written atomically, and only once everything has
been computed, so a failed run writes nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = (
    "Apply a label-noise simulator to a .npy / .csv labels file; write noisy labels + JSON report."
)

CLASS_NOISE = ("symmetric", "pair_flip", "mapping", "random", "instance")
CONTINUOUS_NOISE = ("gaussian", "uniform", "outlier")
#: The most classes class noise takes (its C x C float64 transition matrix is 2 GiB then).
MAX_CLASSES = 16384


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="labels file: .npy array or .csv (see --column)")
    parser.add_argument(
        "-o", "--output", type=Path, required=True, help="noisy labels, same format as the input"
    )
    parser.add_argument(
        "--report", type=Path, default=None, help="JSON report (default: OUTPUT with .json)"
    )
    parser.add_argument("--column", default=None, help="CSV column holding the labels")
    parser.add_argument(
        "--noise", required=True, choices=CLASS_NOISE + CONTINUOUS_NOISE, help="simulator"
    )
    parser.add_argument("--rate", type=float, default=None, help="noise rate in [0, 1)")
    parser.add_argument(
        "--num-classes", type=int, default=None, help="C (default: max label + 1 / #names)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed (default: drawn, reported)")
    parser.add_argument("--ignore-index", type=int, default=-100, help="unlabelled units (npy)")
    parser.add_argument(
        "--mapping",
        default="cifar10",
        help="mapping noise: 'src:dst,src:dst,...' or 'cifar10' (Patrini et al., 2017)",
    )
    parser.add_argument("--features", type=Path, default=None, help="instance noise: (N, D) .npy")
    parser.add_argument("--max-flip", type=float, default=1.0, help="instance noise: flip bound")
    parser.add_argument("--scale", type=float, default=None, help="gaussian sd / outlier shift")
    parser.add_argument("--low", type=float, default=None, help="uniform: range low (default min)")
    parser.add_argument(
        "--high", type=float, default=None, help="uniform: range high (default max)"
    )


def run(args: argparse.Namespace) -> int:
    import json
    import secrets

    import numpy as np

    from labelnoise._io import atomic_write, check_output_file
    from labelnoise.commands._read import check_input_file, read_csv_table, read_npy

    src, out = Path(args.input), Path(args.output)
    fmt = src.suffix.lower()
    if fmt not in (".npy", ".csv"):
        raise ValueError(f"input must be a .npy or .csv file; got {src.name!r}")
    if out.suffix.lower() != fmt:
        raise ValueError(f"--output must have the input's suffix {fmt}; got {out.name!r}")
    if out.resolve() == src.resolve():
        raise ValueError(f"--output must differ from the input; got {out}")
    check_input_file(src, "input")
    report_path = Path(args.report) if args.report is not None else out.with_suffix(".json")
    if report_path.resolve() in (src.resolve(), out.resolve()):
        raise ValueError(f"--report must differ from the input and the output; got {report_path}")
    check_output_file(out, "--output")
    check_output_file(report_path, "--report")
    seed = args.seed if args.seed is not None else secrets.randbits(31)

    table, values = None, None
    if fmt == ".npy":
        values = read_npy(src, "input", numeric=False)
    else:
        table = read_csv_table(src, "input")
        if args.column is None:
            raise ValueError(f"--column is required for a .csv input; got None ({list(table)})")
        if args.column not in table.columns:
            raise ValueError(f"--column must be one of {list(table.columns)}; got {args.column!r}")
        missing = int(table[args.column].isna().sum())
        if missing:
            raise ValueError(f"--column {args.column!r} must have no missing values; got {missing}")
        values = table[args.column].to_numpy(copy=True)

    if values.size == 0:
        raise ValueError(f"input must hold at least one label; got none in {src}")
    if values.dtype.kind not in "biufOUS":
        raise ValueError(f"input must hold numbers or class names; got dtype {values.dtype}")
    if args.noise in CONTINUOUS_NOISE and values.dtype.kind not in "biuf":
        raise ValueError(
            f"--noise {args.noise} needs numeric targets; got {values.dtype} values in {src}"
        )
    names = None
    if args.noise in CLASS_NOISE and values.dtype.kind in "OUS":
        names, values = np.unique(values.astype(str), return_inverse=True)
    noisy, report = _simulate(values, args, seed, names)

    if names is not None:
        noisy = names[noisy]
    elif args.noise in CLASS_NOISE:
        noisy = noisy.astype(values.dtype, copy=False)
    text = json.dumps(
        {
            "input": str(src),
            "output": str(out),
            "noise": args.noise,
            "seed": seed,
            "arguments": {k: _jsonable(v) for k, v in vars(args).items() if not k.startswith("_")},
            **report,
        },
        indent=1,
    )
    with atomic_write(report_path) as rf:
        if table is None:
            with atomic_write(out, "wb") as f:
                np.save(f, noisy)
        else:
            table[args.column] = noisy
            with atomic_write(out, newline="") as f:
                table.to_csv(f, index=False)
        rf.write(text + "\n")
    print(f"wrote {out} and {report_path} (realised noise rate {report['noise_rate']:.4f})")
    return 0


def _simulate(values, args: argparse.Namespace, seed: int, names) -> tuple:
    """Run the chosen simulator; return ``(noisy numpy array, report dict)``."""

    from labelnoise.common import noise
    from labelnoise.common._random import make_generator
    from labelnoise.common.transition import CIFAR10_MAPPING, TransitionMatrix

    g = make_generator(seed)
    if args.noise in CONTINUOUS_NOISE:
        if args.noise == "gaussian":
            result = noise.gaussian_noise(values, scale=_required(args.scale, "--scale"), seed=g)
        elif args.noise == "uniform":
            rate = _required(args.rate, "--rate")
            result = noise.uniform_replacement(
                values, rate=rate, low=args.low, high=args.high, seed=g
            )
        else:
            extra = {} if args.scale is None else {"scale": args.scale}
            result = noise.outlier_noise(
                values, rate=_required(args.rate, "--rate"), seed=g, **extra
            )
        diff = (result.noisy - result.clean).abs()
        return result.noisy.numpy(), {
            "num_units": int(result.clean.numel()),
            "noise_rate": float(result.is_corrupted.double().mean()),
            "mean_abs_change": float(diff.mean()),
        }

    from labelnoise.common._checks import as_long_tensor

    labels = as_long_tensor("labels", values)
    valid = labels[labels != args.ignore_index]
    if args.num_classes is not None:
        c = args.num_classes
    elif names is not None:
        c = len(names)
    else:
        c = int(valid.max()) + 1 if valid.numel() else 0
        if c < 2:
            raise ValueError(
                f"--num-classes must be >= 2; got {c} from the labels (max label + 1): pass "
                "--num-classes, or check the input"
            )
    if c > MAX_CLASSES:
        how = "" if args.num_classes is not None else " from the labels (max label + 1)"
        raise ValueError(
            f"--num-classes must be <= {MAX_CLASSES} (the C x C transition matrix); got {c}{how}"
        )
    rate = _required(args.rate, "--rate")
    requested = None
    if args.noise == "instance":
        if args.features is None:
            raise ValueError("--features is required for --noise instance; got None")
        from labelnoise.commands._read import read_npy

        feats = read_npy(Path(args.features), "--features")
        result = noise.instance_dependent(
            labels, feats, num_classes=c, rate=rate, seed=g, max_flip=args.max_flip
        )
    else:
        if args.noise == "symmetric":
            t = TransitionMatrix.symmetric(c, rate)
        elif args.noise == "pair_flip":
            t = TransitionMatrix.pair_flip(c, rate)
        elif args.noise == "mapping":
            t = TransitionMatrix.from_mapping(
                c, _parse_mapping(args.mapping, CIFAR10_MAPPING), rate
            )
        else:
            from labelnoise.common._checks import check_rate

            t = TransitionMatrix.random(c, trace=c * (1 - check_rate("rate", rate)), seed=g)
        requested = t.numpy().tolist()
        result = noise.class_conditional(labels, t, seed=g, ignore_index=args.ignore_index)
    keep = result.clean != args.ignore_index
    realised = TransitionMatrix.from_counts(result.clean[keep], result.noisy[keep], num_classes=c)
    report = {
        "num_units": int(keep.sum()),
        "num_classes": c,
        "noise_rate": float(result.is_corrupted[keep].double().mean()),
        "realised_transition_matrix": realised.numpy().tolist(),
    }
    if requested is not None:
        report["requested_transition_matrix"] = requested
    if names is not None:
        report["class_names"] = [str(n) for n in names]
    return result.noisy.numpy(), report


def _required(value, flag: str):
    if value is None:
        raise ValueError(f"{flag} is required for this --noise; got None")
    return value


def _parse_mapping(text: str, cifar10: dict[int, int]) -> dict[int, int]:
    if text.strip().lower() == "cifar10":
        return dict(cifar10)
    try:
        pairs = [item.split(":") for item in text.split(",") if item.strip()]
        return {int(a): int(b) for a, b in pairs}
    except ValueError:
        raise ValueError(
            f"--mapping must look like 'src:dst,src:dst' or 'cifar10'; got {text!r}"
        ) from None


def _jsonable(v):
    return str(v) if isinstance(v, Path) else v
