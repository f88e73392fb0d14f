"""benchmarks/clip_cifar10n.py: its rows are recipes/clip recipes with named overrides, trained
by labelnoise.engine.train (here with the tiny random CLIP on fake CIFAR-10 zips)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module("clip_cifar10n")


def _args(**kw):
    base = dict(
        model="tiny-random",
        label_set="worst",
        shots=1,
        epochs=1,
        lr=0.002,
        test_per_class=1,
        pseudo_pool=None,
        set=["train.max_steps=2", "train.num_threads=1"],
    )
    return SimpleNamespace(**(base | kw))


def test_rows_resolve_to_their_recipes(bench, tmp_path):
    args = _args()
    zs = bench.build_config("zero-shot CLIP", args, 2, tmp_path, str(tmp_path / "z"))
    assert zs.optim.lr == 0.0 and zs.train.epochs == 1  # the zero-shot recipe is not trained
    assert zs.seed == 2 and zs.task.options.shots == 1 and zs.task.options.val_shots == 0
    gce = bench.build_config("CoOp + GCE", args, 0, tmp_path, str(tmp_path / "g"))
    assert gce.loss.name == "gce" and gce.optim.lr == 0.002 and gce.train.epochs == 1
    assert gce.task.options.noise.label_set == "worst" and gce.detection.method == "none"
    ptnl = bench.build_config(
        "PTNL (zero-shot pseudo-labels) + GCE", args, 0, tmp_path, str(tmp_path / "p")
    )
    assert ptnl.task.options.labels == "pseudo" and ptnl.task.options.pseudo_pool is None
    text = bench.describe("CoOp + CE", bench.overrides("CoOp + CE", args, 0))
    assert text.startswith("recipes/clip/cifar10n_worst_coop_ce.yaml --seed=0")


def test_rows_train_through_the_engine(bench, tmp_path):
    """Zero-shot through the engine (lr 0) scores the adapter's zero-shot accuracy; CoOp
    trains (max_steps 2) on the fake CIFAR-10N worst labels."""
    from tests.common.datasets.test_cifar10n import fake_cifar10n_root

    root, *_ = fake_cifar10n_root(tmp_path)
    metrics, recipe = bench.run_one("zero-shot CLIP", _args(), 0, root)
    assert metrics["test"]["accuracy"] == pytest.approx(metrics["data"]["zeroshot_test_accuracy"])
    assert "--task.model=tiny-random" in recipe
    metrics, _ = bench.run_one("CoOp + CE", _args(), 0, root)
    assert metrics["train"]["steps"] == 1 and 0.0 <= metrics["test"]["accuracy"] <= 1.0
