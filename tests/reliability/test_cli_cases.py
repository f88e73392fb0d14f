"""Bad input, as a hostile user would give it, to ``simulate``, ``detect``, ``aggregate`` and the
public API of :mod:`labelnoise.common`.

Each CLI case runs ``labelnoise.cli.main`` in-process on files written to ``in/`` and an
empty ``out/`` folder, and asserts: exit code 2, a message that names the argument or the
file (the case's regex), no ``Traceback``, and no file created or changed anywhere.
Each API case asserts a ``ValueError`` / ``TypeError`` whose message names the argument.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from labelnoise.common import losses as _losses
from labelnoise.common import noise as _noise
from labelnoise.common._random import numpy_rng
from labelnoise.common.aggregation import DawidSkene, MajorityVote, MeanAggregator
from labelnoise.common.datasets.crowd import read_answers
from labelnoise.common.detection import (
    compute_confident_joint,
    estimate_transition_anchor,
    estimate_transition_confident_joint,
    find_label_issues,
    get_label_quality_scores,
    num_label_issues,
)
from labelnoise.common.transition import TransitionMatrix
from tests.reliability._harness import check_refused

# ---------------------------------------------------------------------------------------------
# Inputs


def npy(a: object) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(a), allow_pickle=True)
    return buf.getvalue()


def npz(**arrays: object) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


N, K = 12, 3
LABELS = np.arange(N) % K
_rng = np.random.default_rng(0)
PROBS = _rng.dirichlet(np.ones(K), size=N)


def _probs_with(i: int, j: int, value: float) -> np.ndarray:
    p = PROBS.copy()
    p[i, j] = value
    return p


FOLDER = None  # a files-dict value: make a folder with that name
BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\xfa"
TRUNCATED_NPY = npy(PROBS)[:100]

Files = dict[str, bytes | None]
Case = tuple[str, Files, list[str], str]

# --- detect ----------------------------------------------------------------------------------

DETECT_FILES: Files = {"l.npy": npy(LABELS), "p.npy": npy(PROBS)}


def detect(
    case: str,
    files: Files,
    match: str,
    *extra: str,
    labels: str = "{i}/l.npy",
    probs: str = "{i}/p.npy",
    out: str = "{o}/r.csv",
) -> Case:
    argv = ["detect", "--labels", labels, "--pred-probs", probs, "-o", out, *extra]
    return (f"detect-{case}", {**DETECT_FILES, **files}, argv, match)


DETECT_CASES: list[Case] = [
    detect("labels-missing", {}, r"--labels.*nope\.npy", labels="{i}/nope.npy"),
    detect("probs-missing", {}, r"--pred-probs.*nope\.npy", probs="{i}/nope.npy"),
    detect("labels-0-byte", {"l.npy": b""}, r"--labels.*l\.npy"),
    detect("probs-0-byte", {"p.npy": b""}, r"--pred-probs.*p\.npy"),
    detect("probs-truncated", {"p.npy": TRUNCATED_NPY}, r"--pred-probs.*p\.npy"),
    detect("labels-garbage-npy", {"l.npy": b"hello, world\n"}, r"--labels.*l\.npy"),
    detect("labels-binary-npy", {"l.npy": BINARY}, r"--labels.*l\.npy"),
    detect("labels-npz-as-npy", {"l.npy": npz(a=LABELS)}, r"--labels.*l\.npy"),
    detect("labels-pickled", {"l.npy": npy(np.array([{"a": 1}], dtype=object))}, r"--labels"),
    detect("labels-strings", {"l.npy": npy(np.array(["a", "b"] * 6))}, r"--labels.*dtype"),
    detect("labels-bytes", {"l.npy": npy(np.array([b"a", b"b"] * 6))}, r"--labels.*dtype"),
    detect(
        "labels-structured",
        {"l.npy": npy(np.zeros(N, dtype=[("a", "i8"), ("b", "f8")]))},
        r"--labels.*dtype",
    ),
    detect("labels-complex", {"l.npy": npy(LABELS.astype(complex))}, r"labels"),
    detect("labels-non-integral", {"l.npy": npy(LABELS + 0.5)}, r"labels.*integer"),
    detect("labels-nan", {"l.npy": npy(np.where(LABELS == 1, np.nan, LABELS))}, r"labels.*NaN"),
    detect("labels-negative", {"l.npy": npy(LABELS - 1)}, r"labels must be in \[0, 3\)"),
    detect("labels-ge-k", {"l.npy": npy(LABELS + 1)}, r"labels must be in \[0, 3\)"),
    detect("labels-2d", {"l.npy": npy(np.stack([LABELS, LABELS], 1))}, r"labels.*shape"),
    detect("labels-0d", {"l.npy": npy(np.int64(1))}, r"labels.*shape"),
    detect("labels-empty", {"l.npy": npy(np.zeros(0, dtype=int))}, r"labels.*shape"),
    detect("labels-short", {"l.npy": npy(LABELS[:-1])}, r"labels must have shape \(12,\)"),
    detect("probs-1d", {"p.npy": npy(PROBS[:, 0])}, r"pred_probs.*shape"),
    detect("probs-3d", {"p.npy": npy(PROBS[:, :, None])}, r"pred_probs.*shape"),
    detect("probs-0d", {"p.npy": npy(np.float64(0.5))}, r"pred_probs.*shape"),
    detect("probs-empty", {"p.npy": npy(np.zeros((0, K)))}, r"pred_probs must not be empty"),
    detect("probs-one-class", {"p.npy": npy(np.ones((N, 1)))}, r"pred_probs.*K >= 2"),
    detect("probs-nan", {"p.npy": npy(_probs_with(3, 1, np.nan))}, r"pred_probs.*NaN"),
    detect("probs-inf", {"p.npy": npy(_probs_with(3, 1, np.inf))}, r"pred_probs.*inf"),
    detect("probs-negative", {"p.npy": npy(_probs_with(0, 0, -0.5))}, r"pred_probs.*negative"),
    detect("probs-rows-not-1", {"p.npy": npy(PROBS * 2)}, r"pred_probs rows must sum to 1"),
    detect("probs-strings", {"p.npy": npy(PROBS.astype(str))}, r"--pred-probs.*dtype"),
    detect("probs-bool", {"p.npy": npy(PROBS > 0.3)}, r"pred_probs"),
    detect("labels-txt", {"l.txt": b"0\n1\n"}, r"--labels.*\.txt", labels="{i}/l.txt"),
    detect("labels-folder", {"d": FOLDER}, r"--labels.*d", labels="{i}/d"),
    detect(
        "csv-labels-text", {"l.csv": b"label\n0\ncat\n"}, r"--labels.*l\.csv", labels="{i}/l.csv"
    ),
    detect("csv-labels-empty", {"l.csv": b""}, r"--labels.*l\.csv", labels="{i}/l.csv"),
    detect("csv-labels-binary", {"l.csv": BINARY}, r"--labels.*l\.csv", labels="{i}/l.csv"),
    detect(
        "csv-probs-ragged",
        {"p.csv": b"0.5,0.5\n0.2,0.3,0.5\n"},
        r"--pred-probs.*p\.csv",
        probs="{i}/p.csv",
    ),
    detect(
        "csv-probs-nul",
        {"p.csv": b"0.5,0.5\n0.2\x00,0.8\n"},
        r"--pred-probs.*p\.csv",
        probs="{i}/p.csv",
    ),
    detect(
        "csv-probs-unclosed-quote",
        {"p.csv": b'0.5,0.5\n"0.2,0.8\n'},
        r"--pred-probs.*p\.csv",
        probs="{i}/p.csv",
    ),
    detect("output-txt", {}, r"--output.*\.txt", out="{o}/r.txt"),
    detect("output-folder", {"r.csv": FOLDER}, r"--output.*folder", out="{i}/r.csv"),
    detect("output-below-file", {"f": b"x"}, r"--output.*below the file", out="{i}/f/r.csv"),
    detect(
        "output-is-labels",
        {"l.csv": b"0\n1\n2\n" * 4},
        r"--output must differ from --labels",
        labels="{i}/l.csv",
        out="{i}/l.csv",
    ),
    detect("frac-noise-negative", {}, r"frac_noise", "--frac-noise", "-0.5"),
    detect("frac-noise-above-1", {}, r"frac_noise", "--frac-noise", "1.5"),
    detect("frac-noise-nan", {}, r"frac_noise", "--frac-noise", "nan"),
    detect("frac-noise-text", {}, r"--frac-noise", "--frac-noise", "lots"),
    detect("filter-by-unknown", {}, r"--filter-by", "--filter-by", "vibes"),
    detect("method-unknown", {}, r"--method", "--method", "entropy"),
    detect("unknown-flag", {}, r"unrecognized arguments: --fast", "--fast"),
]

# --- simulate --------------------------------------------------------------------------------

SIM_FILES: Files = {
    "y.npy": npy(LABELS),
    "y.csv": b"id,label,target\n" + b"".join(b"%d,%d,%.1f\n" % (i, i % 3, i / 2) for i in range(N)),
    "x.npy": npy(_rng.normal(size=(N, 4))),
}


def simulate(case: str, files: Files, match: str, *extra: str, src: str = "y.npy") -> Case:
    argv = ["simulate", f"{{i}}/{src}", *extra]
    if "-o" not in extra:
        argv += ["-o", "{o}/noisy" + Path(src).suffix]
    return (f"simulate-{case}", {**SIM_FILES, **files}, argv, match)


SYM = ("--noise", "symmetric", "--rate", "0.2")
SIM_CASES: list[Case] = [
    simulate("input-missing", {}, r"input.*nope\.npy", *SYM, src="nope.npy"),
    simulate("input-txt", {"y.txt": b"0\n1\n"}, r"input.*\.txt", *SYM, src="y.txt"),
    simulate("input-folder", {"d.npy": FOLDER}, r"input.*d\.npy", *SYM, src="d.npy"),
    simulate("input-0-byte", {"y.npy": b""}, r"input.*y\.npy", *SYM),
    simulate("input-truncated", {"y.npy": TRUNCATED_NPY}, r"input.*y\.npy", *SYM),
    simulate("input-garbage", {"y.npy": b"not an array"}, r"input.*y\.npy", *SYM),
    simulate("input-npz-as-npy", {"y.npy": npz(y=LABELS)}, r"input.*y\.npy", *SYM),
    simulate(
        "input-pickled", {"y.npy": npy(np.array([None, 1], dtype=object))}, r"input.*y\.npy", *SYM
    ),
    simulate("labels-non-integral", {"y.npy": npy(LABELS + 0.5)}, r"labels.*integer", *SYM),
    simulate("labels-nan", {"y.npy": npy(np.array([0.0, np.nan, 1.0]))}, r"labels.*NaN", *SYM),
    simulate("labels-negative", {"y.npy": npy(LABELS - 1)}, r"labels.*got min -1", *SYM),
    simulate(
        "labels-complex", {"y.npy": npy(LABELS.astype(complex))}, r"input.*dtype complex", *SYM
    ),
    simulate("labels-empty", {"y.npy": npy(np.zeros(0, dtype=int))}, r"input.*y\.npy", *SYM),
    simulate(
        "labels-ge-num-classes", {}, r"labels must be in \[0, 2\)", *SYM, "--num-classes", "2"
    ),
    simulate(
        "labels-huge", {"y.npy": npy(LABELS * 2**40)}, r"--num-classes must be <= 16384", *SYM
    ),
    simulate("num-classes-huge", {}, r"--num-classes", *SYM, "--num-classes", str(10**6)),
    simulate("num-classes-zero", {}, r"num-classes|num_classes", *SYM, "--num-classes", "0"),
    simulate("num-classes-negative", {}, r"num-classes|num_classes", *SYM, "--num-classes", "-3"),
    simulate("rate-missing", {}, r"--rate is required", "--noise", "symmetric"),
    simulate("rate-above-1", {}, r"rate", "--noise", "symmetric", "--rate", "1.5"),
    simulate("rate-negative", {}, r"rate", "--noise", "pair_flip", "--rate", "-0.1"),
    simulate("rate-nan", {}, r"rate", "--noise", "random", "--rate", "nan"),
    simulate("rate-text", {}, r"--rate", "--noise", "symmetric", "--rate", "high"),
    simulate("noise-unknown", {}, r"--noise", "--noise", "adversarial", "--rate", "0.2"),
    simulate("noise-missing", {}, r"--noise"),
    simulate("unknown-flag", {}, r"unrecognized arguments: --classes", *SYM, "--classes", "3"),
    simulate(
        "mapping-garbage",
        {},
        r"--mapping",
        "--noise",
        "mapping",
        "--rate",
        ".2",
        "--mapping",
        "0->1",
    ),
    simulate(
        "mapping-out-of-range",
        {},
        r"mapping",
        "--noise",
        "mapping",
        "--rate",
        ".2",
        "--mapping",
        "0:7",
    ),
    simulate("mapping-cifar10-on-3-classes", {}, r"mapping", "--noise", "mapping", "--rate", "0.2"),
    simulate(
        "instance-no-features", {}, r"--features is required", "--noise", "instance", "--rate", ".2"
    ),
    simulate(
        "instance-features-missing",
        {},
        r"--features.*nope\.npy",
        "--noise",
        "instance",
        "--rate",
        ".2",
        "--features",
        "{i}/nope.npy",
    ),
    simulate(
        "instance-features-0-byte",
        {"x.npy": b""},
        r"--features.*x\.npy",
        "--noise",
        "instance",
        "--rate",
        ".2",
        "--features",
        "{i}/x.npy",
    ),
    simulate(
        "instance-features-short",
        {"x.npy": npy(np.ones((N - 2, 4)))},
        r"features",
        "--noise",
        "instance",
        "--rate",
        ".2",
        "--features",
        "{i}/x.npy",
    ),
    simulate(
        "instance-features-nan",
        {"x.npy": npy(np.full((N, 4), np.nan))},
        r"features",
        "--noise",
        "instance",
        "--rate",
        ".2",
        "--features",
        "{i}/x.npy",
    ),
    simulate(
        "instance-features-strings",
        {"x.npy": npy(np.full((N, 4), "a"))},
        r"features",
        "--noise",
        "instance",
        "--rate",
        ".2",
        "--features",
        "{i}/x.npy",
    ),
    simulate(
        "instance-max-flip-2",
        {},
        r"max_flip|--max-flip",
        "--noise",
        "instance",
        "--rate",
        ".2",
        "--features",
        "{i}/x.npy",
        "--max-flip",
        "2",
    ),
    simulate("gaussian-no-scale", {}, r"--scale is required", "--noise", "gaussian"),
    simulate("gaussian-negative-scale", {}, r"scale", "--noise", "gaussian", "--scale", "-1"),
    simulate("gaussian-nan-scale", {}, r"scale", "--noise", "gaussian", "--scale", "nan"),
    simulate(
        "gaussian-on-text-csv",
        {"t.csv": b"label\ncat\ndog\n"},
        r"targets|label",
        "--noise",
        "gaussian",
        "--scale",
        "1",
        "--column",
        "label",
        src="t.csv",
    ),
    simulate(
        "uniform-low-above-high",
        {},
        r"low|high",
        "--noise",
        "uniform",
        "--rate",
        ".2",
        "--low",
        "5",
        "--high",
        "1",
    ),
    simulate("outlier-rate-2", {}, r"rate", "--noise", "outlier", "--rate", "2"),
    simulate("seed-huge", {}, r"seed", *SYM, "--seed", str(2**70)),
    simulate("csv-no-column", {}, r"--column is required", *SYM, src="y.csv"),
    simulate(
        "csv-unknown-column", {}, r"--column must be one of", *SYM, "--column", "y", src="y.csv"
    ),
    simulate(
        "csv-missing-values",
        {"y.csv": b"label\n0\n\n1\nNA\n"},
        r"--column 'label' must have no missing values",
        *SYM,
        "--column",
        "label",
        src="y.csv",
    ),
    simulate(
        "csv-0-byte", {"y.csv": b""}, r"input.*y\.csv", *SYM, "--column", "label", src="y.csv"
    ),
    simulate(
        "csv-binary", {"y.csv": BINARY}, r"input.*y\.csv", *SYM, "--column", "label", src="y.csv"
    ),
    simulate(
        "csv-ragged",
        {"y.csv": b"a,label\n1,0\n2,1,7,8\n"},
        r"input.*y\.csv",
        *SYM,
        "--column",
        "label",
        src="y.csv",
    ),
    simulate(
        "output-suffix", {}, r"--output must have the input's suffix", *SYM, "-o", "{o}/n.csv"
    ),
    simulate(
        "output-is-input", {}, r"--output must differ from the input", *SYM, "-o", "{i}/y.npy"
    ),
    simulate("output-folder", {"n.npy": FOLDER}, r"--output.*folder", *SYM, "-o", "{i}/n.npy"),
    simulate(
        "output-below-file", {"f": b"x"}, r"--output.*below the file", *SYM, "-o", "{i}/f/n.npy"
    ),
    simulate(
        "report-folder", {"r.json": FOLDER}, r"--report.*folder", *SYM, "--report", "{i}/r.json"
    ),
    simulate("report-is-input", {}, r"--report must differ", *SYM, "--report", "{i}/y.npy"),
    simulate(
        "report-is-output",
        {},
        r"--report must differ",
        *SYM,
        "-o",
        "{o}/n.npy",
        "--report",
        "{o}/n.npy",
    ),
]

# --- aggregate -------------------------------------------------------------------------------

ANSWERS = b"question,worker,answer\n1,a,0\n1,b,0\n1,c,1\n2,a,1\n2,b,1\n2,c,1\n3,a,0\n3,b,1\n"
TRUTH = b"question,truth\n1,0\n2,1\n3,0\n"
AGG_FILES: Files = {"a.csv": ANSWERS, "t.csv": TRUTH}


def aggregate(
    case: str, files: Files, match: str, *extra: str, src: str = "{i}/a.csv", out: str = "{o}/r.csv"
) -> Case:
    argv = ["aggregate", src, "--output", out, *extra]
    return (f"aggregate-{case}", {**AGG_FILES, **files}, argv, match)


TRUTH_ARG = ("--truth", "{i}/t.csv")
AGG_CASES: list[Case] = [
    aggregate("answers-missing", {}, r"answers.*nope\.csv", src="{i}/nope.csv"),
    aggregate("answers-folder", {"d.csv": FOLDER}, r"answers.*d\.csv", src="{i}/d.csv"),
    aggregate("answers-0-byte", {"a.csv": b""}, r"a\.csv"),
    aggregate("answers-header-only", {"a.csv": b"question,worker,answer\n"}, r"a\.csv.*empty"),
    aggregate("answers-wrong-header", {"a.csv": b"item,annotator,y\n1,a,0\n"}, r"a\.csv: header"),
    aggregate("answers-ragged", {"a.csv": ANSWERS + b"4,a\n"}, r"a\.csv:10: expected 3 fields"),
    aggregate("answers-empty-item", {"a.csv": ANSWERS + b",d,1\n"}, r"a\.csv:10: item id"),
    aggregate("answers-empty-worker", {"a.csv": ANSWERS + b"4,,1\n"}, r"a\.csv:10: worker id"),
    aggregate("answers-nan", {"a.csv": ANSWERS + b"4,a,NaN\n"}, r"a\.csv:10: answer .*missing"),
    aggregate(
        "answers-inf", {"a.csv": ANSWERS + b"4,a,inf\n"}, r"a\.csv:10: answer must be finite"
    ),
    aggregate("answers-duplicate", {"a.csv": ANSWERS + b"3,b,1\n"}, r"a\.csv:10: .*--duplicates"),
    aggregate("answers-binary", {"a.csv": BINARY}, r"a\.csv: answers must be a UTF-8 text file"),
    aggregate(
        "answers-latin1", {"a.csv": ANSWERS + "4,é,1\n".encode("latin-1")}, r"a\.csv: .*UTF-8"
    ),
    aggregate(
        "answers-unclosed-quote",
        {"a.csv": ANSWERS + b'4,"a,1\n5,b,0\n'},
        r"a\.csv:11: expected 3 fields",
    ),
    aggregate(
        "answers-snow-conflicting-gold",
        {
            "s.tsv": b"!amt_annotation_ids\t!amt_worker_ids\torig_id\tresponse\tgold\n"
            b"x\ta\t1\t0\t0\ny\tb\t1\t1\t1\n"
        },
        r"s\.tsv:2: gold must be the same on every row of an item; item '1'",
        src="{i}/s.tsv",
    ),
    aggregate(
        "numeric-method-text-answers",
        {"a.csv": b"question,worker,answer\n1,a,low\n1,b,high\n"},
        r"a\.csv:2: --method mean needs numeric answers",
        "--method",
        "mean",
    ),
    aggregate("method-unknown", {}, r"--method", "--method", "em"),
    aggregate("duplicates-unknown", {}, r"--duplicates", "--duplicates", "sum"),
    aggregate("output-missing", {}, r"--output", out="--method"),
    aggregate("unknown-flag", {}, r"unrecognized arguments: --gold", "--gold", "{i}/t.csv"),
    aggregate("truth-missing", {}, r"truth.*nope\.csv", "--truth", "{i}/nope.csv"),
    aggregate("truth-0-byte", {"t.csv": b""}, r"t\.csv", *TRUTH_ARG),
    aggregate("truth-binary", {"t.csv": BINARY}, r"t\.csv: truth must be a UTF-8", *TRUTH_ARG),
    aggregate("truth-wrong-header", {"t.csv": b"id,gold\n1,0\n"}, r"t\.csv: header", *TRUTH_ARG),
    aggregate(
        "truth-missing-label", {"t.csv": b"question,truth\n1,\n"}, r"t\.csv:2: truth", *TRUTH_ARG
    ),
    aggregate(
        "truth-conflict", {"t.csv": TRUTH + b"1,1\n"}, r"t\.csv:5: item '1' has two", *TRUTH_ARG
    ),
    aggregate(
        "truth-no-overlap",
        {"t.csv": b"question,truth\n7,0\n8,1\n"},
        r"--truth .*t\.csv: needs gold items that have answers",
        *TRUTH_ARG,
    ),
    aggregate(
        "truth-other-labels",
        {"t.csv": b"question,truth\n1,yes\n2,no\n"},
        r"--truth .*t\.csv: gold labels must be labels the workers used",
        *TRUTH_ARG,
    ),
    aggregate(
        "truth-text-numeric-method",
        {"t.csv": b"question,truth\n1,low\n2,high\n"},
        r"--truth .*t\.csv: --method median needs numeric gold",
        "--method",
        "median",
        *TRUTH_ARG,
    ),
    aggregate("output-folder", {"r.csv": FOLDER}, r"--output.*folder", out="{i}/r.csv"),
    aggregate("output-below-file", {"f": b"x"}, r"--output.*below the file", out="{i}/f/r.csv"),
    aggregate("output-is-answers", {}, r"--output must differ from ANSWERS", out="{i}/a.csv"),
    aggregate(
        "output-is-truth", {}, r"--output must differ from --truth", *TRUTH_ARG, out="{i}/t.csv"
    ),
]

CLI_CASES: list[Case] = DETECT_CASES + SIM_CASES + AGG_CASES


@pytest.mark.parametrize(
    "files,argv,match", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_cli_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], files: Files, argv: list[str], match: str
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    for name, data in files.items():
        if data is None:
            (src / name).mkdir()
        else:
            (src / name).write_bytes(data)
    check_refused(tmp_path, [a.format(i=src, o=out) for a in argv], match, capsys)


def test_case_count() -> None:
    ids = [c[0] for c in CLI_CASES] + [c[0] for c in API_CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 110


# ---------------------------------------------------------------------------------------------
# Public API: (case, call, regex naming the argument)


ApiCase = tuple[str, Callable[[], object], str]
_T = torch.tensor
LOGITS = torch.randn(N, K, generator=torch.Generator().manual_seed(0))
TARGET = torch.as_tensor(LABELS)
CROWD = pd.DataFrame({"task": ["1", "1", "2"], "worker": ["a", "b", "a"], "label": [0, 1, 1]})

API_CASES: list[ApiCase] = [
    ("fli-probs-1d", lambda: find_label_issues(LABELS, PROBS[:, 0]), r"pred_probs"),
    ("fli-probs-nan", lambda: find_label_issues(LABELS, _probs_with(1, 1, np.nan)), r"pred_probs"),
    ("fli-rows-not-1", lambda: find_label_issues(LABELS, PROBS + 0.1), r"pred_probs"),
    ("fli-labels-ge-k", lambda: find_label_issues(LABELS + 1, PROBS), r"labels"),
    ("fli-labels-negative", lambda: find_label_issues(LABELS - 1, PROBS), r"labels"),
    ("fli-length-mismatch", lambda: find_label_issues(LABELS[:5], PROBS), r"labels"),
    ("fli-empty", lambda: find_label_issues([], np.zeros((0, K))), r"pred_probs"),
    ("fli-string-labels", lambda: find_label_issues(["a"] * N, PROBS), r"labels"),
    ("fli-string-probs", lambda: find_label_issues(LABELS, PROBS.astype(str)), r"pred_probs"),
    ("fli-filter-by", lambda: find_label_issues(LABELS, PROBS, filter_by="x"), r"filter_by"),  # type: ignore[arg-type]
    ("fli-frac-noise", lambda: find_label_issues(LABELS, PROBS, frac_noise=2.0), r"frac_noise"),
    ("fli-labels-list-of-lists", lambda: find_label_issues([[0]] * N, PROBS), r"labels"),
    (
        "fli-confident-joint-shape",
        lambda: find_label_issues(LABELS, PROBS, confident_joint=np.ones((2, 2))),
        r"confident_joint",
    ),
    ("quality-method", lambda: get_label_quality_scores(LABELS, PROBS, method="x"), r"method"),  # type: ignore[arg-type]
    (
        "quality-k-mismatch",
        lambda: get_label_quality_scores(LABELS, PROBS[:, :2] / PROBS[:, :2].sum(1, keepdims=True)),
        r"labels",
    ),
    (
        "cj-thresholds-shape",
        lambda: compute_confident_joint(LABELS, PROBS, thresholds=np.ones(2)),
        r"thresholds",
    ),
    (
        "num-issues-method",
        lambda: num_label_issues(LABELS, PROBS, estimation_method="x"),  # type: ignore[arg-type]
        r"estimation_method",
    ),
    (
        "tm-cj-labels-ge-k",
        lambda: estimate_transition_confident_joint(LABELS + 1, PROBS),
        r"labels",
    ),
    ("tm-anchor-1d", lambda: estimate_transition_anchor(PROBS[:, 0]), r"pred_probs"),
    ("tm-anchor-quantile", lambda: estimate_transition_anchor(PROBS, quantile=1.5), r"quantile"),
    ("tm-not-square", lambda: TransitionMatrix(np.ones((2, 3)) / 3), r"matrix|square"),
    ("tm-rows-not-1", lambda: TransitionMatrix(np.ones((3, 3))), r"matrix|sum"),
    ("tm-nan", lambda: TransitionMatrix(np.full((2, 2), np.nan)), r"matrix|finite|NaN"),
    ("tm-symmetric-k0", lambda: TransitionMatrix.symmetric(0, 0.2), r"num_classes"),
    ("tm-symmetric-rate", lambda: TransitionMatrix.symmetric(3, 1.5), r"rate"),
    ("tm-pair-flip-k1", lambda: TransitionMatrix.pair_flip(1, 0.2), r"num_classes"),
    ("tm-mapping-range", lambda: TransitionMatrix.from_mapping(3, {0: 5}, 0.2), r"mapping"),
    ("tm-random-trace", lambda: TransitionMatrix.random(3, trace=7.0), r"trace"),
    (
        "tm-counts-mismatch",
        lambda: TransitionMatrix.from_counts(LABELS, LABELS[:4]),
        r"clean|noisy",
    ),
    (
        "tm-counts-k",
        lambda: TransitionMatrix.from_counts(LABELS, LABELS, num_classes=2),
        r"clean|noisy|num_classes",
    ),
    (
        "noise-cc-k-mismatch",
        lambda: _noise.class_conditional(LABELS, TransitionMatrix.symmetric(2, 0.1)),
        r"labels",
    ),
    ("noise-cc-not-tm", lambda: _noise.class_conditional(LABELS, np.ones((3, 3))), r"transition"),  # type: ignore[arg-type]
    ("noise-sym-rate", lambda: _noise.symmetric_noise(LABELS, 3, 1.2), r"rate"),
    ("noise-sym-float-labels", lambda: _noise.symmetric_noise(LABELS + 0.5, 3, 0.2), r"labels"),
    (
        "noise-sym-string-labels",
        lambda: _noise.symmetric_noise(np.array(["a", "b"]), 3, 0.2),
        r"labels",
    ),
    ("noise-pair-negative", lambda: _noise.pair_flip_noise(LABELS - 1, 3, 0.2), r"labels"),
    ("noise-gauss-scale", lambda: _noise.gaussian_noise(np.ones(4), scale=-1.0), r"scale"),
    (
        "noise-gauss-nan-target",
        lambda: _noise.gaussian_noise(np.array([1.0, np.nan]), scale=1.0),
        r"targets",
    ),
    ("noise-uniform-rate", lambda: _noise.uniform_replacement(np.ones(4), rate=2.0), r"rate"),
    (
        "noise-uniform-low-high",
        lambda: _noise.uniform_replacement(np.ones(4), rate=0.1, low=2.0, high=1.0),
        r"low|high",
    ),
    ("noise-outlier-rate", lambda: _noise.outlier_noise(np.ones(4), rate=-0.1), r"rate"),
    (
        "noise-instance-features",
        lambda: _noise.instance_dependent(LABELS, np.ones((N - 1, 2)), num_classes=3, rate=0.2),
        r"features",
    ),
    (
        "noise-instance-max-flip",
        lambda: _noise.instance_dependent(
            LABELS, np.ones((N, 2)), num_classes=3, rate=0.2, max_flip=2.0
        ),
        r"max_flip",
    ),
    (
        "noise-multilabel-rate",
        lambda: _noise.multilabel_noise(np.eye(3), drop_rate=1.5),
        r"drop_rate",
    ),
    ("loss-ce-1d-logits", lambda: _losses.ce(LOGITS[:, 0], TARGET), r"logits"),
    ("loss-ce-target-ge-k", lambda: _losses.ce(LOGITS, TARGET + 1), r"target"),
    ("loss-ce-length", lambda: _losses.ce(LOGITS, TARGET[:3]), r"target"),
    ("loss-ce-reduction", lambda: _losses.ce(LOGITS, TARGET, reduction="avg"), r"reduction"),  # type: ignore[arg-type]
    ("loss-ce-weight-k", lambda: _losses.ce(LOGITS, TARGET, weight=torch.ones(2)), r"weight"),
    ("loss-ce-soft-not-1", lambda: _losses.ce(LOGITS, torch.ones(N, K)), r"target"),
    ("loss-gce-q", lambda: _losses.gce(LOGITS, TARGET, q=0.0), r"\bq\b"),
    ("loss-focal-gamma", lambda: _losses.focal(LOGITS, TARGET, gamma=-1.0), r"gamma"),
    (
        "loss-forward-k-mismatch",
        lambda: _losses.forward_correction(
            LOGITS, TARGET, transition=TransitionMatrix.symmetric(4, 0.2)
        ),
        r"transition",
    ),
    ("loss-mse-shape", lambda: _losses.mse(torch.ones(4), torch.ones(5)), r"pred|target"),
    (
        "loss-build-unknown",
        lambda: _losses.build_loss("crossentropy", num_classes=3),
        r"name|crossentropy",
    ),
    ("agg-missing-column", lambda: MajorityVote().fit(CROWD.drop(columns="worker")), r"worker"),
    ("agg-empty", lambda: DawidSkene().fit(CROWD.iloc[:0]), r"answers|empty"),
    ("agg-nan-label", lambda: DawidSkene().fit(CROWD.assign(label=[0, np.nan, 1])), r"label"),
    ("agg-mean-text", lambda: MeanAggregator().fit(CROWD.assign(label=["a", "b", "c"])), r"label"),
    ("seed-negative-numpy", lambda: numpy_rng(-1), r"seed"),
    ("seed-float", lambda: _noise.symmetric_noise(LABELS, 3, 0.2, seed=1.5), r"seed"),  # type: ignore[arg-type]
    ("crowd-duplicates-policy", lambda: read_answers("x.csv", duplicates="sum"), r"duplicates"),
]


@pytest.mark.parametrize("call,match", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_api_bad_input(call: Callable[[], object], match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        call()
