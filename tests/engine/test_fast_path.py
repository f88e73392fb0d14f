"""The engine's fast paths give the same results as the slow ones: in-memory batches cut from
a dataset's tensors equal the DataLoader's (order, keys, dtypes, mid-epoch skip), a run on
them equals a run on the DataLoader bit for bit, and the deferred finite check (accelerator
devices) stops a run where the immediate one does."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

import labelnoise.engine.loop as loop_module
import labelnoise.engine.run as run_module
from labelnoise.config import deep_merge, resolve
from labelnoise.engine import train
from labelnoise.engine.data import Reindexed, TensorBatches, make_loader, tensor_batches
from labelnoise.tasks.base import TensorDataset
from labelnoise.tasks.classification import ClassificationAdapter, ClassificationConfig

TINY = {
    "task": {"name": "classification", "hidden": 16, "noise": {"kind": "symmetric", "rate": 0.4}},
    "data": {"limit": 90, "eval_limit": 40, "batch_size": 16},
    "optim": {"lr": 0.01},
    "train": {"epochs": 3, "progress": False, "num_threads": 1},
    "detection": {"folds": 2, "epochs": 1},
}


def _dataset(n: int = 23, weight: bool = True) -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=g)
    y = torch.randint(0, 4, (n,), generator=g)
    w = torch.rand(n, generator=g) if weight else None
    return TensorDataset(x, y, (y + 1) % 4, w)


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("wrapped", [False, True])
def test_tensor_batches_equal_the_dataloader_batches(wrapped):
    ds = _dataset()
    data = Reindexed(ds, [5, 0, 9, 3, 17, 11, 2, 20, 8, 14, 1]) if wrapped else ds
    adapter = ClassificationAdapter(ClassificationConfig())
    loader = make_loader(data, adapter, batch_size=4, seed=3, shuffle=True)
    fast = tensor_batches(data, adapter, batch_size=4, seed=3, device="cpu")
    assert isinstance(fast, TensorBatches) and len(fast) == len(loader)
    for epoch in (0, 1, 5):
        loader.sampler.set_epoch(epoch)  # type: ignore[attr-defined]
        fast.set_epoch(epoch)
        slow = list(loader)
        got = list(fast)
        assert len(got) == len(slow)
        for a, b in zip(got, slow, strict=True):
            _same(a, b)
        for k in (1, len(slow) - 1):  # a mid-epoch resume: the same batches from k on
            rest = list(fast.skip(k))
            assert len(rest) == len(slow) - k
            for a, b in zip(rest, slow[k:], strict=True):
                _same(a, b)
        assert len(list(fast)) == len(slow)  # skip() applies to one iteration only


def test_full_batch_is_the_whole_split_once():
    ds = _dataset(10, weight=False)
    cols = ds.tensors()
    assert cols is not None
    fast = TensorBatches(cols, batch_size=64, seed=0, shuffle=True)
    (batch,) = list(fast)
    assert sorted(batch["example_id"].tolist()) == list(range(10))
    assert torch.equal(batch["x"], ds.x[batch["example_id"]])
    (plain,) = list(TensorBatches(cols, batch_size=10, seed=0, shuffle=False))
    _same(plain, cols)


def test_fast_path_only_where_it_equals_the_loader():
    ds = _dataset()
    adapter = ClassificationAdapter(ClassificationConfig())
    kw: dict[str, Any] = {"batch_size": 4, "seed": 0, "device": "cpu"}
    assert tensor_batches(ds, adapter, num_processes=2, **kw) is None  # ranks shard batches
    assert tensor_batches(ds, adapter, grad_accum=2, **kw) is None  # end-of-loader sync

    class OwnCollate(ClassificationAdapter):
        def collate(self, items):
            return super().collate(items)

    assert tensor_batches(ds, OwnCollate(ClassificationConfig()), **kw) is None

    class OwnItems(TensorDataset):
        def __getitem__(self, i):
            return {**super().__getitem__(i), "extra": 1}

    assert tensor_batches(OwnItems(ds.x, ds.target, ds.clean), adapter, **kw) is None
    assert (
        tensor_batches(Reindexed(OwnItems(ds.x, ds.target, ds.clean), [0]), adapter, **kw) is None
    )


def _outputs(run: Path) -> tuple[list[dict], dict, dict, dict]:
    history = [json.loads(x) for x in (run / "history.jsonl").read_text().splitlines()]
    with np.load(run / "dynamics.npz") as z:
        dyn = {k: z[k] for k in z.files}
    best = torch.load(run / "best_model.pt", weights_only=True)
    metrics = json.loads((run / "metrics.json").read_text())
    return history, dyn, best, metrics


@pytest.mark.parametrize("variant", ["ce", "coteaching"])
def test_a_run_on_the_fast_path_equals_the_dataloader_run(tmp_path, monkeypatch, variant):
    over: dict = {}
    if variant == "coteaching":
        over = {"method": {"name": "coteaching"}, "selector": {"name": "coteaching"}}
    used = []

    def spy(*a, **k):
        used.append(tensor_batches(*a, **k))
        return used[-1]

    monkeypatch.setattr(loop_module, "tensor_batches", spy)
    train(resolve(deep_merge(TINY, {"output_dir": str(tmp_path / "fast"), **over})))
    assert used and isinstance(used[0], TensorBatches)  # the run took the fast path
    monkeypatch.setattr(loop_module, "tensor_batches", lambda *a, **k: None)
    train(resolve(deep_merge(TINY, {"output_dir": str(tmp_path / "slow"), **over})))
    fh, fd, fb, fm = _outputs(tmp_path / "fast")
    sh, sd, sb, sm = _outputs(tmp_path / "slow")
    assert fh == sh  # train_loss, lr and every metric of every epoch, exactly
    for k in sd:
        np.testing.assert_array_equal(fd[k], sd[k])
    for k in sb:
        assert torch.equal(fb[k], sb[k]), k
    assert fm["test"] == sm["test"] and fm["detection"] == sm["detection"]


def test_graph_runs_one_full_batch_step_per_epoch_on_the_fast_path(tmp_path, monkeypatch, data_dir):
    """Cora (real data): the training nodes are one batch (``data.batch_size`` >= 140) cut
    from the node columns, and the run equals the DataLoader run."""
    from labelnoise.config import load_recipe

    recipe = load_recipe(
        Path(__file__).resolve().parents[2] / "recipes/graph/cora_erase_robust.yaml"
    )

    def cfg(name: str) -> Any:
        over = {
            "output_dir": str(tmp_path / name),
            "data": {"data_dir": str(data_dir)},
            "train": {"epochs": 3, "checkpoint_every_epochs": 3},
        }
        return resolve(recipe, over, variant="ce")

    used = []

    def spy(*a, **k):
        used.append(tensor_batches(*a, **k))
        return used[-1]

    monkeypatch.setattr(loop_module, "tensor_batches", spy)
    metrics = train(cfg("fast"))
    assert isinstance(used[0], TensorBatches) and len(used[0]) == 1
    assert metrics["train"]["steps"] == 3  # one step per epoch
    monkeypatch.setattr(loop_module, "tensor_batches", lambda *a, **k: None)
    train(cfg("slow"))
    fh, fd, fb, _ = _outputs(tmp_path / "fast")
    sh, sd, sb, _ = _outputs(tmp_path / "slow")
    assert fh == sh
    for k in sb:
        assert torch.equal(fb[k], sb[k]), k


def test_deferred_finite_check_stops_where_the_immediate_one_does(tmp_path, monkeypatch):
    def nan_run(name: str) -> str:
        cfg = resolve(
            deep_merge(
                TINY,
                {
                    "output_dir": str(tmp_path / name),
                    "optim": {"name": "sgd", "lr": 1e30, "momentum": 0.0},
                    "train": {"checkpoint_every": 1},
                },
            )
        )
        with pytest.raises(ValueError, match="loss must be finite") as e:
            train(cfg)
        return str(e.value).replace(name, "RUN")

    immediate = nan_run("now")
    monkeypatch.setattr(run_module, "defer_finite_check", lambda device: True)
    deferred = nan_run("later")
    assert deferred == immediate  # same step, epoch and kept checkpoint
    ckpts = sorted((tmp_path / "later" / "checkpoints").glob("step-*"))
    assert ckpts and str(ckpts[-1]).replace("later", "RUN") in deferred


def test_deferred_check_names_the_first_bad_step(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from labelnoise.engine.checkpoint import Checkpointer
    from labelnoise.engine.state import LoopState

    monkeypatch.setattr(run_module, "defer_finite_check", lambda device: True)
    acc = SimpleNamespace(num_processes=1, is_main_process=True, wait_for_everyone=lambda: None)
    run: Any = SimpleNamespace(
        accelerator=acc, ckpt=Checkpointer(acc, tmp_path), state=LoopState(step=3, epoch=1)
    )
    run_module.stop_if_not_finite(run, torch.tensor([0.5, 1e30]))
    run_module.raise_if_not_finite(run)  # all finite: nothing
    run_module.stop_if_not_finite(run, torch.tensor([float("nan")]))
    run.state.step = 5
    run_module.stop_if_not_finite(run, torch.tensor([float("inf")]))
    with pytest.raises(run_module.NonFiniteLossError, match=r"at step 4 \(epoch 2\)"):
        run_module.raise_if_not_finite(run)


def test_dynamics_record_reduces_like_reduce_units():
    """Several units per example (tokens, pixels): per-example means of the loss and the
    margin equal :func:`reduce_units`'s, the softmax mean equals a per-example average."""
    from labelnoise.common.units import Units, reduce_units
    from labelnoise.engine.dynamics import Dynamics, unit_margin

    g = torch.Generator().manual_seed(1)
    pred = torch.randn(12, 4, generator=g)
    target = torch.randint(0, 4, (12,), generator=g)
    ids = torch.tensor([3, 1, 3, 0, 1, 3, 5, 0, 5, 5, 1, 3])
    loss = torch.rand(12, generator=g)
    dyn = Dynamics(6)
    dyn.record(Units(pred, target, ids), loss, batch_index=2)
    assert dyn._chunks == []  # deferred: reduced by flush (end of epoch, checkpoint)
    dyn.flush()
    (chunk,) = dyn._chunks
    ex, ref_loss = reduce_units(loss, ids)
    _, ref_margin = reduce_units(unit_margin(pred, target), ids)
    assert torch.equal(chunk["example_id"], ex) and torch.equal(chunk["loss"], ref_loss)
    assert torch.equal(chunk["margin"], ref_margin)
    probs = torch.stack([pred[ids == i].softmax(1).mean(0) for i in ex.tolist()])
    torch.testing.assert_close(chunk["probs"], probs)
    assert chunk["batch"].tolist() == [2] * 4


def _record_batches(dyn, batches, *, flush_each: bool):
    from labelnoise.common.units import Units

    for b, (pred, target, ids, loss) in enumerate(batches):
        dyn.record(Units(pred, target, ids), loss, batch_index=b)
        if flush_each:
            dyn.flush()


def test_dynamics_deferred_reduction_equals_batch_by_batch():
    """The epoch's batches reduced in one pass (or in several, when ``max_pending`` is
    small) give bit for bit the records of reducing each batch on its own (the reduction
    before the deferral), also when an example appears in two batches of the epoch."""
    from labelnoise.engine.dynamics import Dynamics

    g = torch.Generator().manual_seed(3)
    batches = []
    for _ in range(5):
        u = 9
        ids = torch.randint(0, 7, (u,), generator=g)  # repeats within and across batches
        batches.append(
            (
                torch.randn(u, 4, generator=g),
                torch.randint(0, 4, (u,), generator=g),
                ids,
                torch.rand(u, generator=g),
            )
        )
    runs = []
    for flush_each, max_pending in ((True, 1 << 22), (False, 1 << 22), (False, 40)):
        dyn = Dynamics(7)
        dyn.max_pending = max_pending
        _record_batches(dyn, batches, flush_each=flush_each)
        state = dyn.state_dict()  # flushes: a mid-epoch checkpoint holds the same records
        cat = {k: torch.cat([c[k] for c in state["chunks"]]) for k in state["chunks"][0]}
        dyn.end_epoch(SimpleNamespace(num_processes=1))
        runs.append((cat, dyn.arrays(), dyn.mean_probs()))
    ref = runs[0]
    for cat, arrays, probs in runs[1:]:
        assert cat.keys() == ref[0].keys()
        for k in cat:
            assert torch.equal(cat[k], ref[0][k]), k
        for k in arrays:
            np.testing.assert_array_equal(arrays[k], ref[1][k])
        np.testing.assert_array_equal(probs, ref[2])
    # by hand: example 3's loss in batch 0 is the mean of its units there
    pred, target, ids, loss = batches[0]
    rows = ref[0]["batch"] == 0
    got = dict(zip(ref[0]["example_id"][rows].tolist(), ref[0]["loss"][rows].tolist()))
    for i in ids.unique().tolist():
        assert got[i] == pytest.approx(float(loss[ids == i].mean()), abs=1e-7)


def test_record_dynamics_off_trains_the_same_and_records_nothing(tmp_path):
    """``train.record_dynamics: false`` changes no training (same history, model and test
    metrics) and leaves dynamics.npz with 0 epochs; ``detection.method: dynamics`` needs it."""
    over = {"detection": {"method": "none"}}
    on = resolve(TINY, deep_merge(over, {"output_dir": str(tmp_path / "on")}))
    off = resolve(
        TINY,
        deep_merge(
            over, {"output_dir": str(tmp_path / "off"), "train": {"record_dynamics": False}}
        ),
    )
    m_on, m_off = train(on), train(off)
    h_on, d_on, b_on, _ = _outputs(tmp_path / "on")
    h_off, d_off, b_off, _ = _outputs(tmp_path / "off")
    assert m_on["test"] == m_off["test"]
    assert [{k: v for k, v in r.items() if "time" not in k} for r in h_on] == [
        {k: v for k, v in r.items() if "time" not in k} for r in h_off
    ]
    assert all(torch.equal(b_on[k], b_off[k]) for k in b_on)
    assert d_on["loss"].shape == (3, 90) and d_off["loss"].shape == (0, 90)
    with pytest.raises(ValueError, match="train.record_dynamics"):
        resolve(TINY, {"train": {"record_dynamics": False}, "detection": {"method": "dynamics"}})
