"""Dynamics records when every example has one unit and is seen once per epoch (the
reduction's shortcut): the same per-example loss, margin and softmax as worked by hand and as
the general grouped reduction, in any batch order; ``-0.0`` is stored as ``0.0``."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from labelnoise.common.units import Units
from labelnoise.engine.dynamics import Dynamics

ONE = SimpleNamespace(num_processes=1)


def _epoch(n: int, c: int, sizes: list[int], seed: int):
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=g)[: sum(sizes)]
    pred = torch.randn(perm.shape[0], c, generator=g) * 3
    target = torch.randint(0, c, (perm.shape[0],), generator=g)
    loss = torch.rand(perm.shape[0], generator=g)
    return perm, pred, target, loss


def _record(dyn: Dynamics, perm, pred, target, loss, sizes, *, start: int = 0) -> None:
    at = 0
    for b, s in enumerate(sizes):
        sl = slice(at, at + s)
        dyn.record(Units(pred[sl], target[sl], perm[sl]), loss[sl], batch_index=start + b)
        at += s


@pytest.mark.parametrize("sizes", [[5, 5, 3], [13], [4, 1, 6]])
def test_one_unit_per_example_matches_the_formulas(sizes):
    n, c = 20, 4  # some examples are not seen: NaN there
    perm, pred, target, loss = _epoch(n, c, sizes, seed=len(sizes))
    dyn = Dynamics(n)
    _record(dyn, perm, pred, target, loss, sizes, start=2)
    dyn.end_epoch(ONE)
    arrays = dyn.arrays()
    p = pred.double().numpy()
    ref_loss = np.full(n, np.nan)
    ref_margin = np.full(n, np.nan)
    ref_probs = np.zeros((n, c))
    for i, e in enumerate(perm.tolist()):
        t = int(target[i])
        ref_loss[e] = float(loss[i])
        ref_margin[e] = p[i, t] - np.delete(p[i], t).max()
        ref_probs[e] = np.exp(p[i] - p[i].max()) / np.exp(p[i] - p[i].max()).sum()
    np.testing.assert_array_equal(arrays["loss"][0], ref_loss.astype(np.float32))
    np.testing.assert_allclose(arrays["margin"][0], ref_margin, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dyn.mean_probs(), ref_probs, rtol=1e-6, atol=1e-7)


def test_shortcut_equals_the_grouped_reduction():
    """The same epoch once with unique ids (shortcut) and once with one extra unit of a
    new example duplicated (the general path): the examples they share agree bit for bit."""
    n, c, sizes = 30, 5, [7, 7, 6]
    perm, pred, target, loss = _epoch(n, c, sizes, seed=0)
    fast = Dynamics(n)
    _record(fast, perm, pred, target, loss, sizes)
    fast.end_epoch(ONE)
    extra = int(torch.tensor(sorted(set(range(n)) - set(perm.tolist())))[0])
    dup = torch.tensor([extra, extra])
    slow = Dynamics(n)
    _record(
        slow,
        torch.cat([perm, dup]),
        torch.cat([pred, torch.randn(2, c)]),
        torch.cat([target, torch.tensor([0, 1])]),
        torch.cat([loss, torch.tensor([0.25, 0.75])]),
        [*sizes[:-1], sizes[-1] + 2],
    )
    slow.end_epoch(ONE)
    seen = perm.numpy()
    for k in ("loss", "margin"):
        np.testing.assert_array_equal(fast.arrays()[k][0][seen], slow.arrays()[k][0][seen])
    np.testing.assert_array_equal(fast.mean_probs()[seen], slow.mean_probs()[seen])
    assert slow.arrays()["loss"][0][extra] == pytest.approx(0.5)


def test_negative_zero_is_stored_as_zero_and_regression_has_no_margin():
    dyn = Dynamics(3)
    ids = torch.tensor([2, 0])
    dyn.record(Units(torch.randn(2), torch.randn(2), ids), torch.tensor([-0.0, 1.0]), 0)
    dyn.end_epoch(ONE)
    loss = dyn.arrays()["loss"][0]
    assert loss[2] == 0.0 and not np.signbit(loss[2])
    assert np.isnan(dyn.arrays()["margin"][0]).all() and dyn.mean_probs() is None


def test_negative_example_id_is_refused():
    dyn = Dynamics(3)
    dyn.record(
        Units(torch.randn(2, 3), torch.tensor([0, 1]), torch.tensor([-1, 0])), torch.rand(2), 0
    )
    with pytest.raises(ValueError, match="example_id must be >= 0; got -1"):
        dyn.flush()


def test_without_probs_the_records_are_the_same_and_no_softmax_is_kept():
    """``probs=False`` (a run whose detection does not read the mean softmax): the same
    loss and margin records, no mean softmax; one-column logits give softmax 1 exactly."""
    n, sizes = 12, [4, 4, 4]
    perm, pred, target, loss = _epoch(n, 3, sizes, seed=5)
    runs = []
    for probs in (True, False):
        dyn = Dynamics(n, probs=probs)
        _record(dyn, perm, pred, target, loss, sizes)
        dyn.end_epoch(ONE)
        runs.append(dyn)
    for k in ("loss", "margin"):
        np.testing.assert_array_equal(runs[0].arrays()[k], runs[1].arrays()[k])
    assert runs[0].mean_probs() is not None and runs[1].mean_probs() is None
    one = Dynamics(2)
    col = torch.tensor([[3.0], [float("inf")]])
    one.record(Units(col, torch.tensor([0.5, 1.0]), torch.tensor([1, 0])), torch.rand(2), 0)
    one.end_epoch(ONE)
    ref = col.softmax(1)[[1, 0]]
    assert torch.equal(torch.from_numpy(one.mean_probs()).nan_to_num(-1), ref.nan_to_num(-1))


def test_two_class_margin_equals_the_masked_max():
    """Two classes: the other logit directly, bit for bit the masked max (ties, infinities)."""
    from labelnoise.engine.dynamics import unit_margin

    g = torch.Generator().manual_seed(2)
    pred = torch.randn(500, 2, generator=g)
    pred[:5] = torch.tensor(
        [
            [1.0, 1.0],
            [0.0, -0.0],
            [float("inf"), 2.0],
            [-3.0, float("-inf")],
            [float("-inf"), float("-inf")],
        ]
    )
    target = torch.randint(0, 2, (500,), generator=g)
    target[:5] = torch.tensor([1, 0, 1, 0, 1])
    ref = pred.gather(1, target.view(-1, 1)).squeeze(1) - pred.scatter(
        1, target.view(-1, 1), float("-inf")
    ).amax(1)
    got = unit_margin(pred, target)
    assert torch.equal(got.view(torch.int32), ref.view(torch.int32))
