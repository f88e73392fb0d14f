"""Property tests on the file readers: any byte string gives a valid result or a clean
``ValueError`` naming the file -- never another exception.

Readers covered: the crowd answer / truth files of ``aggregate`` (Zheng CSV, Snow TSV,
crowd-kit CSV; :mod:`labelnoise.common.datasets.crowd`), the ``.npy`` / ``.csv`` arrays of
``detect`` and ``simulate`` (:mod:`labelnoise.commands._read`), YAML recipes
(:func:`labelnoise.config.load_recipe` then :func:`labelnoise.config.resolve`), and the
CIFAR-10N side-info CSV. Inputs are raw bytes, or near-valid files with random cells,
truncations and flipped bytes, so the examples reach past the first header check.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelnoise.cli import main
from labelnoise.commands._read import read_csv_table, read_npy
from labelnoise.common.datasets.cifar10n import read_cifar10n_workers
from labelnoise.common.datasets.crowd import CrowdAnswers, read_answers, read_truth
from labelnoise.config import RunConfig, load_recipe, resolve

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# ---------------------------------------------------------------------------------------------
# Strategies

CELLS = st.sampled_from(
    ["", " ", "0", "1", "2", "-1", "2.5", "1e309", "nan", "NA", "inf", "cat", "é", '"', '""',
     "a,b", "\t", "\x00", "\r", "\n", "gold", "question", "0x1F", "1_000", "  3  "]
)  # fmt: skip
HEADERS = st.sampled_from(
    [
        "question,worker,answer",
        "question,truth",
        "task,worker,label",
        "task,true_label",
        "task,label",
        "!amt_annotation_ids\t!amt_worker_ids\torig_id\tresponse\tgold",
        "orig_id\tgold",
        "Image-batch,Worker1-id,Worker2-id,Worker3-id",
        "a,b",
        "",
    ]
)


@st.composite
def table_bytes(draw: st.DrawFn) -> bytes:
    """A header from the known layouts and random rows of suspicious cells, in UTF-8 or
    Latin-1, or raw bytes."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=200))
    header = draw(HEADERS)
    sep = "\t" if "\t" in header else ","
    width = max(1, len(header.split(sep)))
    rows = draw(
        st.lists(st.lists(CELLS, min_size=width - 1, max_size=width + 1).map(sep.join), max_size=8)
    )
    text = "\n".join([header, *rows]) + draw(st.sampled_from(["", "\n", "\r\n"]))
    data = text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"])), "replace")
    return _mutate(draw, data)


def _mutate(draw: st.DrawFn, data: bytes) -> bytes:
    """As is, truncated, or with one byte replaced."""
    how = draw(st.integers(0, 2))
    if how == 1 and data:
        return data[: draw(st.integers(0, len(data) - 1))]
    if how == 2 and data:
        i = draw(st.integers(0, len(data) - 1))
        return data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1 :]
    return data


DTYPES = st.sampled_from(["<i8", "<f8", "<f4", "|u1", "|b1", "<c16", "<U3", "|S2", "<M8[s]"])


@st.composite
def npy_bytes(draw: st.DrawFn) -> bytes:
    """A small ``.npy`` of a random dtype and shape (possibly truncated or with a byte flipped),
    or bytes that start like one, or raw bytes."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.binary(max_size=200))
    if kind == 1:
        return b"\x93NUMPY" + draw(st.binary(max_size=120))
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    dtype = np.dtype(draw(DTYPES))
    values = draw(
        st.lists(st.integers(-3, 5), min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))
    )
    arr = np.array(values).reshape(shape).astype(dtype)
    if draw(st.booleans()) and dtype.kind == "f" and arr.size:
        arr.flat[0] = draw(st.sampled_from([np.nan, np.inf, -1.0, 0.5]))
    buf = io.BytesIO()
    np.save(buf, arr)
    return _mutate(draw, buf.getvalue())


YAML_KEYS = st.sampled_from(
    ["name", "task", "method", "train", "data", "optim", "loss", "model", "detection",
     "variants", "seed", "output_dir", "epochs", "lr", "batch_size", "limit", "folds"]
)  # fmt: skip
YAML_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**20),
    st.floats(allow_nan=True),
    st.sampled_from(["classification", "standard", "ce", "adamw", "", "{name}", "!!", "x:y"]),
)
YAML_VALUES = st.recursive(
    YAML_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(YAML_KEYS, inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def yaml_bytes(draw: st.DrawFn) -> bytes:
    """A YAML mapping of recipe-like keys and random values, or YAML-ish text, or raw
    bytes (possibly truncated or with a byte replaced)."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=200))
    if kind == 1:
        tokens = st.sampled_from(
            ["a: 1", "- x", "{", "}", "[", "]", "!!python/object:os.system", "&a", "*a", "---",
             "key:", "  nested: [1, 2", "\t", '"', "%YAML 1.1", "? ", ": ", "<<: *a", "\n"]
        )  # fmt: skip
        return "\n".join(draw(st.lists(tokens, max_size=10))).encode()
    recipe = draw(st.dictionaries(YAML_KEYS, YAML_VALUES, max_size=6))
    if draw(st.booleans()):
        recipe = {"task": {"name": "classification"}, **recipe}
    return _mutate(draw, yaml.safe_dump(recipe).encode())


# ---------------------------------------------------------------------------------------------
# Properties


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("readers")


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


@SETTINGS
@given(data=table_bytes())
def test_crowd_answers_reader(folder: Path, data: bytes) -> None:
    path = _write(folder, "answers.csv", data)
    try:
        read = read_answers(path)
    except ValueError as e:
        assert str(path) in str(e)
        return
    assert isinstance(read, CrowdAnswers)
    assert list(read.answers.columns) == ["task", "worker", "label"]
    assert len(read.answers) == len(read.lines) > 0


@SETTINGS
@given(data=table_bytes())
def test_crowd_truth_reader(folder: Path, data: bytes) -> None:
    path = _write(folder, "truth.tsv", data)
    try:
        truth = read_truth(path)
    except ValueError as e:
        assert str(path) in str(e)
        return
    assert len(truth) > 0 and truth.index.is_unique


@SETTINGS
@given(answers=table_bytes(), truth=table_bytes())
def test_aggregate_command(folder: Path, answers: bytes, truth: bytes) -> None:
    """The whole command: exit 0 with an output file, or exit 2 without one."""
    a, t = _write(folder, "a.csv", answers), _write(folder, "t.csv", truth)
    out = folder / "agg-out.csv"
    out.unlink(missing_ok=True)
    code = main(["aggregate", str(a), "--truth", str(t), "--method", "mv", "--output", str(out)])
    assert (code, out.exists()) in ((0, True), (2, False))


@SETTINGS
@given(data=npy_bytes())
def test_npy_reader(folder: Path, data: bytes) -> None:
    path = _write(folder, "x.npy", data)
    try:
        arr = read_npy(path, "--labels")
    except ValueError as e:
        assert "--labels" in str(e) and str(path) in str(e)
        return
    assert isinstance(arr, np.ndarray) and (arr.dtype.kind in "biufc")


@SETTINGS
@given(labels=npy_bytes(), probs=npy_bytes())
def test_detect_command(folder: Path, labels: bytes, probs: bytes) -> None:
    lab, pro = _write(folder, "l.npy", labels), _write(folder, "p.npy", probs)
    out = folder / "detect-out.csv"
    out.unlink(missing_ok=True)
    code = main(["detect", "--labels", str(lab), "--pred-probs", str(pro), "-o", str(out)])
    assert (code, out.exists()) in ((0, True), (2, False))


@SETTINGS
@given(data=npy_bytes())
def test_simulate_command(folder: Path, data: bytes) -> None:
    src = _write(folder, "y.npy", data)
    out = folder / "sim-out.npy"
    out.unlink(missing_ok=True)
    out.with_suffix(".json").unlink(missing_ok=True)
    argv = ["simulate", str(src), "-o", str(out), "--noise", "symmetric", "--rate", "0.2"]
    code = main([*argv, "--seed", "0"])
    assert (code, out.exists(), out.with_suffix(".json").exists()) in (
        (0, True, True),
        (2, False, False),
    )


@SETTINGS
@given(data=table_bytes())
def test_csv_array_reader(folder: Path, data: bytes) -> None:
    path = _write(folder, "p.csv", data)
    try:
        read_csv_table(path, "--pred-probs", header=None)
    except ValueError as e:
        assert "--pred-probs" in str(e) and str(path) in str(e)


@SETTINGS
@given(data=yaml_bytes())
def test_recipe_loader(folder: Path, data: bytes) -> None:
    path = _write(folder, "recipe.yaml", data)
    try:
        cfg = resolve(load_recipe(path))
    except ValueError:
        return
    assert isinstance(cfg, RunConfig)


@SETTINGS
@given(data=table_bytes())
def test_cifar10n_side_info_reader(folder: Path, data: bytes) -> None:
    path = _write(folder, "side_info.csv", data)
    try:
        workers = read_cifar10n_workers(path, num_images=8)
    except ValueError as e:
        assert path.name in str(e)
        return
    assert workers.shape == (8, 3)
