"""Bad input to ``labelnoise train``, ``evaluate`` and ``report``, as a new user would give it.

Each case runs ``labelnoise.cli.main`` in-process on files written to ``in/`` (``in/run``: a
copy of a finished tiny run, for ``evaluate`` / ``report``, with the case's files put over it)
and an empty ``out/`` folder, and asserts: exit code 2, a message that names the argument or the
file (the case's regex), no ``Traceback``, and no file created or changed anywhere (a failed
``train`` removes what it wrote).
"""

from __future__ import annotations

import io
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from labelnoise.cli import main
from tests.reliability._harness import check_refused

Files = dict[str, "bytes | None"]
Case = tuple[str, Files, list[str], str]

# A tiny, fast recipe: sklearn's bundled digits, 2 steps.
BASE = """\
name: tiny
task: {name: classification, dataset: digits, hidden: 16, noise: {kind: symmetric, rate: 0.2}}
data: {batch_size: 16, limit: 64, eval_limit: 32}
train: {epochs: 1, max_steps: 2, progress: false, num_threads: 1}
detection: {method: none}
"""
RUN = ["train", "{i}/r.yaml", "--no-report", "--output_dir={o}/run"]


def recipe(text: str = BASE) -> Files:
    return {"r.yaml": text.encode()}


def npz(**arrays: object) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def npz_recipe(data: bytes, extra: str = "") -> Files:
    text = BASE.replace("dataset: digits", "dataset: {i}/d.npz" + extra)
    return {"r.yaml": text.encode(), "d.npz": data}


def train(case: str, files: Files, match: str, *extra: str) -> Case:
    return (f"train-{case}", files, [*RUN, *extra], match)


X = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)
Y = np.arange(40) % 3

TRAIN_CASES: list[Case] = [
    train("yaml-syntax", recipe("task: {name: [\n"), r"r\.yaml"),
    train("python-tag", recipe("task: !!python/object/apply:os.system ['true']\n"), r"r\.yaml"),
    train("not-a-mapping", recipe("- a\n- b\n"), r"r\.yaml.*mapping|mapping.*r\.yaml"),
    train("empty-recipe", recipe(""), r"r\.yaml"),
    train("binary-recipe", {"r.yaml": b"\xff\xfe\x00\x81" * 8}, r"r\.yaml"),
    ("train-missing-recipe", {}, [*RUN], r"r\.yaml"),
    ("train-recipe-is-folder", {"r.yaml": None}, [*RUN], r"r\.yaml"),
    train("unknown-key", recipe(BASE + "epochz: 3\n"), r"epochz"),
    train("unknown-task", recipe(BASE.replace("classification", "clasification")), r"task"),
    train("no-task", recipe("name: x\n"), r"task"),
    train("task-not-mapping", recipe("task: 3\n"), r"task"),
    train("limit-0", recipe(), r"data\.limit", "--data.limit=0"),
    train("limit-negative", recipe(), r"data\.limit", "--data.limit=-5"),
    train("eval-limit-0", recipe(), r"data\.eval_limit", "--data.eval_limit=0"),
    train("epochs-0", recipe(), r"train\.epochs", "--train.epochs=0"),
    train("epochs-text", recipe(), r"train\.epochs", "--train.epochs=abc"),
    train("epochs-float", recipe(), r"train\.epochs", "--train.epochs=1.5"),
    train("max-steps-0", recipe(), r"train\.max_steps", "--train.max_steps=0"),
    train(
        "folds-1", recipe(), r"detection\.folds", "--detection.method=kfold", "--detection.folds=1"
    ),
    train("detection-unknown", recipe(), r"detection\.method", "--detection.method=magic"),
    train("lr-negative", recipe(), r"optim\.lr", "--optim.lr=-1"),
    train("lr-nan", recipe(), r"optim\.lr", "--optim.lr=nan"),
    train("optimizer-unknown", recipe(), r"optim\.name", "--optim.name=adamq"),
    train("weight-decay-negative", recipe(), r"optim\.weight_decay", "--optim.weight_decay=-1"),
    train("scheduler-unknown", recipe(), r"optim\.scheduler", "--optim.scheduler=wavy"),
    train("loss-unknown", recipe(), r"loss", "--loss.name=hinge2"),
    train("loss-option-unknown", recipe(), r"loss.*qq|qq", "--loss.name=gce", "--loss.qq=0.5"),
    train("gce-q-out-of-range", recipe(), r"\bq\b", "--loss.name=gce", "--loss.q=2"),
    train("method-unknown", recipe(), r"method", "--method.name=magic"),
    train("selector-unknown", recipe(), r"selector", "--selector.name=magic"),
    train("batch-size-0", recipe(), r"data\.batch_size", "--data.batch_size=0"),
    train("noise-rate-above-1", recipe(), r"noise.*rate|rate", "--task.noise.rate=1.5"),
    train("noise-kind-unknown", recipe(), r"noise.*kind|kind", "--task.noise.kind=sparkly"),
    train("select-by-unknown", recipe(), r"train\.select_by", "--train.select_by=vibes"),
    train("grad-accum-0", recipe(), r"train\.grad_accum", "--train.grad_accum=0"),
    train("max-grad-norm-negative", recipe(), r"train\.max_grad_norm", "--train.max_grad_norm=-1"),
    train("unknown-override", recipe(), r"train\.nope", "--train.nope=1"),
    train("override-no-value", recipe(), r"train\.epochs", "--train.epochs"),
    train("data-dir-missing", recipe(), r"data\.data_dir", "--data.data_dir={i}/nowhere"),
    train("output-dir-is-file", {**recipe(), "f": b"x"}, r"output_dir", "--output_dir={i}/f"),
    train(
        "output-dir-holds-files",
        {**recipe(), "other": None, "other/a.txt": b"keep me"},
        r"output_dir",
        "--output_dir={i}/other",
    ),
    train("resume-without-run", recipe(), r"--resume", "--resume"),
    train("resume-and-overwrite", recipe(), r"--resume.*--overwrite", "--resume", "--overwrite"),
    train("npz-length-mismatch", npz_recipe(npz(x=X, y=Y[:30])), r"d\.npz"),
    train("npz-no-y", npz_recipe(npz(x=X)), r"d\.npz"),
    train("npz-not-a-zip", npz_recipe(b"PK\x03\x04 not really"), r"d\.npz"),
    train("npz-empty-file", npz_recipe(b""), r"d\.npz"),
    train("npz-object-array", npz_recipe(npz(x=X, y=np.array([{}] * 40, dtype=object))), r"d\.npz"),
    train("npz-string-labels", npz_recipe(npz(x=X, y=np.array(["a"] * 40))), r"d\.npz|labels"),
    train("npz-float-labels", npz_recipe(npz(x=X, y=Y + 0.5)), r"d\.npz|labels"),
    train("npz-negative-labels", npz_recipe(npz(x=X, y=Y - 1)), r"labels"),
    train("npz-nan-features", npz_recipe(npz(x=np.full_like(X, np.nan), y=Y)), r"d\.npz|finite"),
    train(
        "npz-missing",
        recipe(BASE.replace("dataset: digits", "dataset: {i}/nope.npz")),
        r"nope\.npz",
    ),
    train(
        "labels-above-num-classes",
        npz_recipe(npz(x=X, y=Y), ", num_classes: 2"),
        r"labels must be in \[0, 2\)",
    ),
    train("variants-not-mapping", recipe(BASE + "variants: [a, b]\n"), r"variants"),
    train("variant-bad-option", recipe(BASE + "variants: {a: {loss: {name: nope}}}\n"), r"loss"),
    train("seed-text", recipe(), r"seed", "--seed=abc"),
    train("model-unknown", recipe(), r"task\.model|model", "--task.model=transformer9000"),
]


def evaluate(case: str, files: Files, match: str, run: str = "{i}/run") -> Case:
    return (f"evaluate-{case}", {"run": None, **files}, ["evaluate", run], match)


def report(case: str, files: Files, match: str, run: str = "{i}/run") -> Case:
    return (f"report-{case}", {"run": None, **files}, ["report", run], match)


def _pickled_object() -> bytes:
    class _Evil:
        def __reduce__(self):
            return (print, ("unpickled!",))

    return pickle.dumps(_Evil())


def _torch_bytes(obj: object) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


RUN_CASES: list[Case] = [
    evaluate("missing", {}, r"run_dir", run="{i}/nowhere"),
    evaluate("is-a-file", {"f": b"x"}, r"run_dir", run="{i}/f"),
    evaluate("no-weights", {"run/best_model.pt": None}, r"best_model\.pt"),
    evaluate("weights-garbage", {"run/best_model.pt": b"garbage" * 10}, r"best_model\.pt"),
    evaluate("weights-empty", {"run/best_model.pt": b""}, r"best_model\.pt"),
    evaluate("weights-pickle", {"run/best_model.pt": _pickled_object()}, r"best_model\.pt"),
    evaluate("weights-not-dict", {"run/best_model.pt": _torch_bytes([1, 2])}, r"best_model\.pt"),
    evaluate(
        "weights-wrong-shapes",
        {"run/best_model.pt": _torch_bytes({"w": torch.zeros(3)})},
        r"best_model\.pt",
    ),
    evaluate("config-garbage", {"run/config.yaml": b"task: {name: [\n"}, r"config\.yaml"),
    evaluate("config-list", {"run/config.yaml": b"- 1\n"}, r"config\.yaml"),
    evaluate("config-unknown-key", {"run/config.yaml": b"nope: 1\n"}, r"config\.yaml"),
    evaluate("config-binary", {"run/config.yaml": b"\xff\xfe\x00" * 9}, r"config\.yaml"),
    evaluate(
        "config-python-tag", {"run/config.yaml": b"x: !!python/name:os.system\n"}, r"config\.yaml"
    ),
    evaluate("no-config", {"run/config.yaml": None}, r"config\.yaml"),
    report("missing", {}, r"run_dir", run="{i}/nowhere"),
    report("is-a-file", {"f": b"x"}, r"run_dir", run="{i}/f"),
    report("no-metrics", {"run/metrics.json": None}, r"metrics\.json"),
    report("metrics-garbage", {"run/metrics.json": b"{not json"}, r"metrics\.json"),
    report("metrics-list", {"run/metrics.json": b"[1, 2]"}, r"metrics\.json"),
    report("metrics-no-test", {"run/metrics.json": b'{"run": "x"}'}, r"metrics\.json"),
    report("metrics-binary", {"run/metrics.json": b"\xff\xfe\x00" * 9}, r"metrics\.json"),
    report("history-garbage", {"run/history.jsonl": b"{oops\n"}, r"history\.jsonl"),
    report("history-wrong-rows", {"run/history.jsonl": b'{"a": 1}\n'}, r"history\.jsonl"),
    report("dynamics-garbage", {"run/dynamics.npz": b"not a zip"}, r"dynamics\.npz"),
    report(
        "dynamics-wrong-shapes",
        {"run/dynamics.npz": npz(loss=np.zeros(3), is_corrupted=np.zeros((2, 2)))},
        r"dynamics\.npz",
    ),
    report("transitions-garbage", {"run/transitions.json": b"[[["}, r"transitions\.json"),
    report("transitions-not-matrices", {"run/transitions.json": b'{"a": 3}'}, r"transitions\.json"),
    report(
        "label-issues-binary", {"run/label_issues.csv": b"\xff\xfe\x00" * 9}, r"label_issues\.csv"
    ),
]

CASES: list[Case] = TRAIN_CASES + RUN_CASES


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run (digits, 2 steps, with dynamics and label issues)."""
    root = tmp_path_factory.mktemp("finished")
    (root / "r.yaml").write_text(BASE.replace("method: none", "method: kfold, folds: 2, epochs: 1"))
    code = main(["train", str(root / "r.yaml"), "--no-report", f"--output_dir={root / 'run'}"])
    assert code == 0
    return root / "run"


@pytest.mark.parametrize("files,argv,match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    files: Files,
    argv: list[str],
    match: str,
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    for name, data in files.items():
        dest = src / name
        if name == "run" and data is None:
            shutil.copytree(request.getfixturevalue("finished_run"), dest)
        elif data is None:
            if dest.is_file():
                dest.unlink()
            elif dest.is_dir() and name.startswith("run/"):
                shutil.rmtree(dest)
            elif not name.startswith("run/"):
                dest.mkdir(parents=True, exist_ok=True)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            text = data.replace(b"{i}", str(src).encode()) if name.endswith(".yaml") else data
            dest.write_bytes(text)
    check_refused(tmp_path, [a.format(i=src, o=out) for a in argv], match, capsys)


def test_case_count() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 80
