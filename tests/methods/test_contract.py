"""The contract between every method and every task, read from the registries at test time.

For each ``(method, task)`` in ``METHODS x TASKS``:

* a pair the method declares (``Method.tasks`` None: every task) trains 2 optimizer steps
  through :func:`labelnoise.engine.train` on tiny synthetic data and **resumes exactly**: the
  run's step-2 checkpoint is removed (as if it had been killed right after step 1's
  checkpoint) and the run is resumed to step 2; metrics, history, the selected weights and
  every network's weights in the final checkpoint equal the straight run's;
* every other pair is refused by :func:`labelnoise.config.resolve` with a message naming both
  the method and the task.

A new task needs a tiny recipe in :data:`TINY` (the test says so when one is missing); a new
method whose defaults cannot run needs its recipe overlay in :data:`METHOD_OVERLAY`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from labelnoise.config import deep_merge, resolve
from labelnoise.engine import train
from labelnoise.methods import METHODS
from labelnoise.methods.registry import runs_on
from labelnoise.tasks.registry import TASKS

# --- tiny data, written once per session ---------------------------------------------------

IMAGE = 32  # side of the synthetic segmentation images


def _png_pairs(root: Path, n: int, *, blobs: bool) -> None:
    """ISBI-like ``train/{image,label}/*.png``: bright cells (255 in the mask) on dark."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for sub in ("image", "label"):
        (root / "train" / sub).mkdir(parents=True)
    for i in range(n):
        if blobs:  # separated squares: instances
            mask = np.zeros((IMAGE, IMAGE), dtype=bool)
            for j in range(2):
                x0, y0 = 2 + 12 * j, int(rng.integers(2, IMAGE - 10))
                mask[y0 : y0 + 7, x0 : x0 + 7] = True
        else:
            mask = np.kron(rng.random((IMAGE // 4, IMAGE // 4)) < 0.5, np.ones((4, 4), bool))
        image = np.where(mask, 200, 40) + rng.integers(0, 20, mask.shape)
        Image.fromarray(image.astype(np.uint8)).save(root / "train" / "image" / f"{i}.png")
        Image.fromarray((mask * 255).astype(np.uint8)).save(root / "train" / "label" / f"{i}.png")


def _segmentation(root: Path) -> dict:
    _png_pairs(root / "syn", 6, blobs=False)
    task = {"dataset": "syn", "image_size": IMAGE, "val_count": 2, "width": 4, "encoder_depth": 2}
    return {"task": task, "data": {"batch_size": 2}}


def _instance_segmentation(root: Path) -> dict:
    _png_pairs(root / "blobs", 6, blobs=True)
    task = {"dataset": "blobs", "image_size": IMAGE, "val_count": 2, "width": 8, "min_area": 4}
    return {"task": task, "data": {"batch_size": 2}}


def _classification(root: Path) -> dict:
    task = {"dataset": "digits", "hidden": 8, "noise": {"kind": "symmetric", "rate": 0.4}}
    return {"task": task, "data": {"limit": 32, "eval_limit": 16, "batch_size": 16}}


def _regression(root: Path) -> dict:
    task = {
        "dataset": "friedman1",
        "n_samples": 80,
        "hidden": [8],
        "noise": {"kind": "symmetric", "rate": 0.4},
    }
    return {"task": task, "loss": {"name": "mse"}, "data": {"limit": 32, "batch_size": 16}}


def _graph(root: Path) -> dict:
    """Two communities of 15 nodes (a ring each, one bridge), features near the class mean."""
    rng = np.random.default_rng(0)
    n = 30
    y = np.repeat([0, 1], n // 2)
    x = (np.eye(2)[y] + 0.3 * rng.normal(size=(n, 2))).astype(np.float32)
    ring = [(i, (i + 1) % 15) for i in range(15)]
    edges = np.array(ring + [(a + 15, b + 15) for a, b in ring] + [(0, 15)]).T
    idx = rng.permutation(n)
    np.savez(
        root / "graph.npz",
        x=x,
        y=y,
        edge_index=edges,
        train_idx=idx[:16],
        val_idx=idx[16:22],
        test_idx=idx[22:],
    )
    task = {"dataset": "graph.npz", "hidden": 8, "noise": {"kind": "symmetric", "rate": 0.2}}
    return {"task": task}


def _edges(root: Path) -> dict:
    from tests.tasks.edges.fixtures import RECIPE, write_bsds

    write_bsds(root, n_train=4, n_val=2)
    return {"task": RECIPE["task"], "loss": RECIPE["loss"], "data": {"batch_size": 2}}


def _audio(root: Path) -> dict:
    """20 clips of 0.4 s with tones for the tags ``low`` / ``mid`` / ``high``."""
    import soundfile

    rng = np.random.default_rng(0)
    freqs = {"low": 300.0, "mid": 900.0, "high": 2500.0}
    sr, rows = 8000, []
    t = np.arange(int(0.4 * sr)) / sr
    for i in range(20):
        tags = [k for k in freqs if rng.random() < 0.4] or ["low"]
        wave = 0.01 * rng.normal(size=t.shape)
        for k in tags:
            wave += 0.3 * np.sin(2 * np.pi * freqs[k] * t)
        soundfile.write(str(root / f"clip{i}.wav"), wave.astype(np.float32), sr)
        rows.append(f'clip{i}.wav,"{",".join(tags)}"')
    (root / "train.csv").write_text("fname,labels\n" + "\n".join(rows) + "\n")
    task = {
        "dataset": "train.csv",
        "audio_dir": ".",
        "vocabulary": list(freqs),
        "val_fraction": 0.2,
        "test_fraction": 0.2,
        "n_mels": 16,
        "frames": 16,
        "channels": [4, 8],
        "dropout": 0.0,
        "noise": {"kind": "tags", "rate": 0.2},
    }
    return {"task": task, "loss": {"name": "bce"}, "data": {"batch_size": 6}}


def _clip(root: Path) -> dict:
    """A 3-class image folder and the tiny random CLIP."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(["cat", "dog", "sea_lion"]):
        (root / "folder" / name).mkdir(parents=True)
        for i in range(6):
            base = np.zeros((32, 32, 3)) + 240 * np.eye(3)[c]
            img = np.clip(base + rng.normal(0, 40, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / "folder" / name / f"{i}.png")
    task = {"model": "tiny-random", "dataset": "folder", "shots": 2, "val_shots": 1}
    return {"task": task, "data": {"batch_size": 3}}


CONLL = (
    "-DOCSTART- -X- -X- O\n\n"
    "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\ncall NN I-NP O\n\n"
    "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\nvisited VBD B-VP O\nBrussels NNP B-NP B-LOC\n\n"
    "Unbelievably NNP B-NP O\nhyperpolarized JJ I-NP O\nWashington NNP B-NP B-LOC\n\n"
    "Anna NNP B-NP B-PER\nflew VBD B-VP O\nto TO B-PP O\nParis NNP B-NP B-LOC\n\n"
)


def _ner(root: Path) -> dict:
    """CoNLL-03-format files and a random 1-layer BERT with MiniLM's tokenizer (offline)."""
    from tests.tasks.ner.tiny import make_tiny_bert

    d = root / "ner" / "conll03"
    d.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        (d / f"{split}.txt").write_text(CONLL)
    model = make_tiny_bert(root / "tiny_bert")
    task = {"dataset": "conll03", "model": model}
    return {"task": task, "data": {"batch_size": 2}}


#: task name -> writes tiny data under the given folder, returns the recipe's task-specific
#: sections (``task`` without its name, and ``loss`` / ``data`` where the task needs them).
TINY: dict[str, Callable[[Path], dict]] = {
    "classification": _classification,
    "regression": _regression,
    "graph": _graph,
    "edges": _edges,
    "audio": _audio,
    "clip": _clip,
    "ner": _ner,
    "segmentation": _segmentation,
    "instance_segmentation": _instance_segmentation,
}

#: method name -> recipe overlay its defaults need (selector, options), per task where needed.
METHOD_OVERLAY: dict[str, Callable[[str], dict]] = {
    "coteaching": lambda task: {"selector": {"name": "coteaching", "forget_rate": 0.2}},
    "dividemix": lambda task: {"method": {"warmup_epochs": 1}},
    "crosssplit": lambda task: {"method": {"warmup_epochs": 1}},
    "splitnet": lambda task: {"method": {"warmup_epochs": 1}},
    "rent": lambda task: {"method": {"warmup_epochs": 1}},
    "annotator_confusion": lambda task: {"task": {"noise": {"kind": "all_annotators"}}},
    "uplme": lambda task: {"task": {"variance_head": True}},
    # the source phase only (2 steps): the target set is read when step 1 starts
    "colada": lambda task: {
        "task": {"frozen": True},
        "method": {"source_epochs": 2, "iterations": 1, "step_epochs": 1},
        "train": {"epochs": 4},
    },
    "aum": lambda task: {"method": {"identify_epochs": 1, "passes": 1}, "train": {"epochs": 3}},
    "tabasco": lambda task: {"method": {"warmup_epochs": 1}},
    "moit": lambda task: {"method": {"k": 3, "correction_epoch": 1}},
    "late_stopping": lambda task: {
        "method": {"k_schedule": [1], "warmup_epochs": 0, "final_epochs": 1}
    },
    "ner_prune": lambda task: {"task": {"frozen": True}, "method": {"folds": 2, "fold_epochs": 1}},
    "ner_relabel": lambda task: {"task": {"frozen": True}},
    "ppl": lambda task: {
        "task": {"model": "ppr_mlp"},
        # epoch 0 only evaluates the teacher (no step): train.epochs 3 = 1 + 1 round x 2
        "method": {"rounds": 1, "round_epochs": 2},
        "train": {"epochs": 3},
    },
    "erase": lambda task: {"method": {"hidden": 8, "heads": 2, "embedding": 8}},
    "graphcleaner": lambda task: {"method": {"base_epochs": 1, "folds": 1}},
}

COMMON = {
    "name": "contract",
    "optim": {"lr": 0.01},
    # 2 steps at most; epochs of 1 batch resume at epoch ends, longer ones mid-epoch
    "train": {
        "epochs": 2,
        "max_steps": 2,
        "checkpoint_every": 1,
        "keep_checkpoints": 2,
        "select_by": "last",
        "progress": False,
        "num_threads": 1,
    },
    "detection": {"method": "none"},
}

_ROOTS: dict[str, tuple[Path, dict]] = {}


def tiny_recipe(task: str, method: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The recipe of ``(method, task)`` (data written once per session)."""
    if task not in TINY:
        pytest.fail(f"task {task!r} has no tiny recipe: add one to TINY in {__file__}")
    if task not in _ROOTS:
        root = tmp_path_factory.mktemp(f"data_{task}")
        _ROOTS[task] = (root, TINY[task](root))
    root, sections = _ROOTS[task]
    recipe = deep_merge(COMMON, sections)
    recipe = deep_merge(recipe, {"task": {"name": task}, "data": {"data_dir": str(root)}})
    recipe = deep_merge(recipe, {"method": {"name": method}})
    if method in METHOD_OVERLAY:
        recipe = deep_merge(recipe, METHOD_OVERLAY[method](task))
    return recipe


#: (method, task) -> why the pair breaks the contract today (strict: the mark must go once
#: the pair runs, or is refused at config time).
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


def _runs(declared: bool) -> list[Any]:
    pairs = []
    for m in METHODS:
        for t in TASKS:
            if runs_on(m, t) == declared:
                known = KNOWN_FAILURES.get((m, t)) if declared else None
                marks = [pytest.mark.xfail(reason=known, strict=True)] if known else []
                pairs.append(pytest.param(m, t, id=f"{m}-{t}", marks=marks))
    return pairs


# --- comparison ------------------------------------------------------------------------------


def _outputs(run_dir: Path) -> dict[str, Any]:
    """What a resumed run must reproduce: metrics (less wall time), history, selected weights,
    and every tensor of the final checkpoint (all networks, loop and method state)."""
    from safetensors.torch import load_file

    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["train"].pop("wall_time_s", None)
    last = sorted((run_dir / "checkpoints").glob("step-*"))[-1]
    return {
        "metrics": metrics,
        "history": (run_dir / "history.jsonl").read_text().splitlines(),
        "best": torch.load(run_dir / "best_model.pt", weights_only=True),
        "checkpoint": last.name,
        "weights": {p.name: load_file(p) for p in sorted(last.glob("*.safetensors"))},
        "loop_state": torch.load(last / "loop_state.pt", weights_only=True),
    }


def _assert_equal(a: Any, b: Any, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.shape == b.shape, where
        assert torch.equal(a, b) or torch.allclose(a, b, atol=1e-6, equal_nan=True), (
            f"{where}: max |diff| {(a.double() - b.double()).abs().max()}"
        )
    elif isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), f"{where}: keys differ"
        for k in a:
            if k in ("wall_time_s", "elapsed_s"):  # wall clock, not state
                continue
            _assert_equal(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_equal(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, abs=1e-6, nan_ok=True), f"{where}: {a} != {b}"
    elif isinstance(a, str) and a.startswith("{"):  # a history row
        _assert_equal(json.loads(a), json.loads(b), where)
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


# --- the contract ----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "task"), _runs(declared=True))
def test_declared_pair_trains_two_steps_and_resumes_exactly(method, task, tmp_path_factory):
    recipe = tiny_recipe(task, method, tmp_path_factory)
    run_dir = tmp_path_factory.mktemp(f"run_{method}_{task}") / "run"
    cfg = resolve(recipe, {"output_dir": str(run_dir)})
    metrics = train(cfg)
    assert metrics["method"] == method and metrics["task"] == task
    assert metrics["train"]["steps"] == 2, f"{method} on {task}: {metrics['train']}"
    straight = _outputs(run_dir)
    assert straight["checkpoint"] == "step-00000002" and straight["weights"]

    # killed right after step 1's checkpoint: drop everything written later, resume to step 2
    ckpts = run_dir / "checkpoints"
    assert (ckpts / "step-00000001").is_dir(), sorted(p.name for p in ckpts.iterdir())
    shutil.rmtree(ckpts / "step-00000002")
    (run_dir / "metrics.json").unlink()
    resumed = train(cfg, resume=True)
    assert resumed["train"]["steps"] == 2
    _assert_equal(straight, _outputs(run_dir), f"{method}/{task}")


@pytest.mark.parametrize(("method", "task"), _runs(declared=False))
def test_undeclared_pair_is_refused_at_config_time(method, task):
    recipe = {"task": {"name": task}, "method": {"name": method}}
    with pytest.raises(ValueError) as e:
        resolve(recipe)
    msg = str(e.value)
    assert repr(method) in msg and repr(task) in msg, msg


def test_every_task_has_a_tiny_recipe_and_the_pairs_cover_the_registries():
    assert sorted(TINY) == sorted(TASKS), "add or remove the tiny recipe of a task"
    declared, refused = _runs(declared=True), _runs(declared=False)
    assert len(declared) + len(refused) == len(METHODS) * len(TASKS)
    assert {p.values[0] for p in declared} == set(METHODS)  # every method runs somewhere
