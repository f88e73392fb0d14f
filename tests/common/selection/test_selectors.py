"""Selectors: schedules, splits on known clean/noisy losses, state round trips, bad input."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from sklearn.mixture import GaussianMixture

from labelnoise.common.selection import (
    SELECTORS,
    AUMSelector,
    CoTeaching,
    build_selector,
    fit_bmm_1d,
    fit_gmm_1d,
    jocor_loss,
)

N_CLEAN, N_NOISY = 60, 40
N = N_CLEAN + N_NOISY


def _losses(seed: int = 0) -> torch.Tensor:
    """Per-example losses: clean ones small, noisy ones large (ids < 60 are clean)."""
    g = torch.Generator().manual_seed(seed)
    clean = 0.2 + 0.05 * torch.randn(N_CLEAN, generator=g)
    noisy = 2.0 + 0.3 * torch.randn(N_NOISY, generator=g)
    return torch.cat([clean, noisy]).abs()


def _logits_targets(seed: int = 0, c: int = 10):
    """Clean examples: label is the argmax; noisy: label is the least likely class."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(N, c, generator=g)
    target = logits.argmax(1)
    target[N_CLEAN:] = logits[N_CLEAN:].argmin(1)
    return logits, target


def test_small_loss_follows_forget_rate_schedule():
    s = build_selector("small_loss", num_examples=N, forget_rate=0.4, num_gradual=4, exponent=2.0)
    loss, ids = _losses(), torch.arange(N)
    order = torch.argsort(loss)
    for epoch in range(6):
        rate = 0.4 * min(epoch / 4, 1.0) ** 2
        w = s(loss, ids, step=epoch)
        keep = round((1 - rate) * N)
        assert int(w.sum()) == keep
        assert torch.all(w[order[:keep]] == 1)
        s.on_epoch_end(epoch)
    assert s.rate == pytest.approx(0.4)


def test_small_loss_example_level_shares_weights():
    s = build_selector(
        "small_loss", num_examples=4, forget_rate=0.5, num_gradual=0, level="example"
    )
    loss = torch.tensor([0.1, 0.2, 5.0, 0.3, 4.0, 0.1])
    ids = torch.tensor([0, 0, 1, 2, 3, 3])
    w = s(loss, ids, step=0)
    # example means: 0.15, 5.0, 0.3, 2.05 -> keep examples 0 and 2
    assert w.tolist() == [1, 1, 0, 1, 0, 0]


def test_fit_gmm_matches_sklearn():
    x = _losses(1).numpy().astype(np.float64)
    x = (x - x.min()) / np.ptp(x)
    ref = GaussianMixture(2, max_iter=10, tol=1e-2, reg_covar=5e-4, random_state=0).fit(x[:, None])
    expected = ref.predict_proba(x[:, None])[:, int(np.argmin(ref.means_.ravel()))]
    np.testing.assert_allclose(fit_gmm_1d(x), expected, atol=1e-6)


def test_bmm_posterior_separates_and_is_monotone():
    x = _losses(2).numpy().astype(np.float64)
    post = fit_bmm_1d(x)
    correct = np.concatenate([post[:N_CLEAN] > 0.5, post[N_CLEAN:] <= 0.5])
    assert correct.mean() >= 0.95
    assert np.all(np.diff(post[np.argsort(x)]) <= 0)


@pytest.mark.parametrize("name", ["gmm", "bmm"])
def test_mixture_selectors_keep_clean_after_warmup(name):
    s = build_selector(name, num_examples=N, warmup_epochs=1)
    ids = torch.arange(N)
    assert torch.all(s(_losses(), ids, step=0) == 1)
    s.on_epoch_end(0)
    w = s(_losses(3), ids, step=1)
    is_clean = torch.arange(N) < N_CLEAN
    assert ((w > 0.5) == is_clean).float().mean() >= 0.95
    assert w[:N_CLEAN].mean() > 0.9 and w[N_CLEAN:].mean() < 0.2


def test_aum_flags_examples_below_threshold_samples():
    c = 10
    s = AUMSelector(num_examples=N, num_classes=c, threshold_fraction=0.1, start_epoch=1, seed=0)
    assert int(s.is_threshold.sum()) == 10
    logits, target = _logits_targets(0, c + 1)
    ids = torch.arange(N)
    target = s.assign_threshold_labels(target, ids)
    # threshold samples: their fake class gets a mildly negative margin
    fake = s.is_threshold
    logits[fake, c] = logits[fake, :c].amax(1) - 0.1
    assert torch.all(s(torch.zeros(N), ids, step=0, logits=logits, target=target) == 1)
    s.on_epoch_end(0)
    w = s(torch.zeros(N), ids, step=1, logits=logits, target=target)
    assert torch.all(w[fake] == 0)
    assert torch.all(w[:N_CLEAN][~fake[:N_CLEAN]] == 1)
    assert torch.all(w[N_CLEAN:] == 0)


def test_adaptive_k_keeps_losses_below_running_mean():
    s = build_selector("adaptive_k", num_examples=N, momentum=0.5)
    loss, ids = _losses(), torch.arange(N)
    w = s(loss, ids, step=0)
    assert torch.equal(w, (loss <= loss.mean()).float())
    loss2 = loss * 2
    w2 = s(loss2, ids, step=1)
    threshold = 0.5 * float(loss.mean()) + 0.5 * float(loss2.mean())
    assert torch.equal(w2, (loss2 <= threshold).float())
    assert w[:N_CLEAN].min() == 1 and w[N_CLEAN:].max() == 0
    warm = build_selector("adaptive_k", num_examples=N, warmup_epochs=1)
    assert torch.all(warm(loss, ids, step=0) == 1)


def test_or_gate_keeps_a_hit_within_the_last_m_epochs():
    s = build_selector("or_gate_topk", num_examples=3, k=1, m=2)
    ids = torch.arange(3)
    target = torch.tensor([0, 1, 2])
    hit_all = torch.eye(3)
    miss_2 = torch.eye(3)[[0, 1, 0]]  # example 2's label not in top-1
    s(torch.zeros(3), ids, step=0, logits=hit_all, target=target)
    s.on_epoch_end(0)
    for epoch in (1, 2):
        w = s(torch.zeros(3), ids, step=epoch, logits=miss_2, target=target)
        assert w.tolist() == [1, 1, 1]  # epoch 0's hit is within the last 2 epochs
        s.on_epoch_end(epoch)
    assert s(torch.zeros(3), ids, step=3, logits=miss_2, target=target).tolist() == [1, 1, 0]


def test_coteaching_exchanges_and_jocor_agrees():
    ids = torch.arange(N)
    loss_a, loss_b = _losses(0), _losses(1).flip(0)
    ct = CoTeaching(num_examples=N, forget_rate=0.3, num_gradual=1)
    ct.on_epoch_end(0)
    w_a, w_b = ct.select(loss_a, loss_b, ids, step=0)
    keep = round(0.7 * N)
    assert torch.equal(torch.argsort(loss_b)[:keep].sort().values, w_a.nonzero().squeeze(1))
    assert torch.equal(torch.argsort(loss_a)[:keep].sort().values, w_b.nonzero().squeeze(1))

    g = torch.Generator().manual_seed(0)
    la, lb = torch.randn(N, 4, generator=g), torch.randn(N, 4, generator=g)
    pa, pb = torch.softmax(la, 1), torch.softmax(lb, 1)
    kl = (pa * (pa / pb).log()).sum(1) + (pb * (pb / pa).log()).sum(1)
    joint = jocor_loss(la, lb, loss_a, loss_b, co_lambda=0.6)
    torch.testing.assert_close(joint, 0.4 * (loss_a + loss_b) + 0.6 * kl)
    jc = CoTeaching(num_examples=N, forget_rate=0.3, num_gradual=1, variant="jocor", co_lambda=0.6)
    jc.on_epoch_end(0)
    w_a, w_b = jc.select(loss_a, loss_b, ids, step=0, logits_a=la, logits_b=lb)
    assert torch.equal(w_a, w_b)
    assert torch.equal(w_a.nonzero().squeeze(1), torch.argsort(joint)[:keep].sort().values)


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_state_round_trip_and_weight_range(name):
    logits, target = _logits_targets(1)
    ids = torch.arange(N)
    a = build_selector(name, num_examples=N)
    for epoch in range(3):
        w = a(_losses(epoch), ids, step=epoch, logits=logits, target=target)
        assert w.shape == (N,) and float(w.min()) >= 0 and float(w.max()) <= 1
        a.on_epoch_end(epoch)
    b = build_selector(name, num_examples=N)
    b.load_state_dict(a.state_dict())
    args = (_losses(9), ids)
    kwargs = {"step": 3, "logits": logits, "target": target}
    torch.testing.assert_close(a(*args, **kwargs), b(*args, **kwargs))


def _thread_gather(world: int):
    """An in-process all-gather for ``world`` threads (each thread is one 'process')."""
    barrier = threading.Barrier(world)
    slots: dict[int, list] = {}
    lock = threading.Lock()
    counter = threading.local()

    def make(rank: int):
        def gather(x: torch.Tensor) -> torch.Tensor:
            step = getattr(counter, "n", 0)
            counter.n = step + 1
            with lock:
                slots.setdefault(step, [None] * world)[rank] = x
            barrier.wait()
            out = torch.cat(slots[step])
            barrier.wait()
            return out

        return gather

    return make


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_split_batches_select_like_one_process(name):
    logits, target = _logits_targets(2)
    single = build_selector(name, num_examples=N)
    make = _thread_gather(2)
    shards = [slice(0, 57), slice(57, N)]  # uneven on purpose
    parts = [build_selector(name, num_examples=N, gather=make(r)) for r in range(2)]
    perm = torch.randperm(N, generator=torch.Generator().manual_seed(0))
    for epoch in range(3):
        loss = _losses(epoch)[perm]
        ids, lg, tg = perm, logits[perm], target[perm]
        expected = single(loss, ids, step=epoch, logits=lg, target=tg)
        got: list = [None, None]

        def run(r: int, sl: slice, batch: tuple, step: int, out: list) -> None:
            loss_, ids_, lg_, tg_ = (x[sl] for x in batch)
            out[r] = parts[r](loss_, ids_, step=step, logits=lg_, target=tg_)

        batch = (loss, ids, lg, tg)
        threads = [
            threading.Thread(target=run, args=(r, shards[r], batch, epoch, got)) for r in range(2)
        ]
        [t.start() for t in threads]
        [t.join() for t in threads]
        torch.testing.assert_close(torch.cat(got), expected)
        single.on_epoch_end(epoch)
        for p in parts:
            p.on_epoch_end(epoch)


def test_bad_inputs():
    s = build_selector("small_loss", num_examples=N)
    with pytest.raises(ValueError, match=r"unit_loss and example_id must both have shape \(U,\)"):
        s(torch.zeros(5), torch.arange(4), step=0)
    with pytest.raises(ValueError, match=r"example_id must be in \[0, 100\); got \[0, 100\]"):
        s(torch.zeros(101), torch.arange(101), step=0)
    with pytest.raises(ValueError, match=r"logits must have shape \(5, C\)"):
        s(torch.zeros(5), torch.arange(5), step=0, logits=torch.zeros(4, 3))
    with pytest.raises(ValueError, match="loss_a and loss_b must have the same shape"):
        CoTeaching(num_examples=N).select(torch.zeros(5), torch.zeros(4), torch.arange(5), step=0)
    with pytest.raises(ValueError, match="unknown option 'q' for selector 'gmm'"):
        build_selector("gmm", num_examples=N, q=0.3)
    with pytest.raises(ValueError, match=r"forget_rate must be in \[0, 1\)"):
        build_selector("small_loss", num_examples=N, forget_rate=1.2)
    with pytest.raises(ValueError, match="aum needs logits"):
        build_selector("aum", num_examples=N)(torch.zeros(3), torch.arange(3), step=0)
