"""ERASE's noise protocol against the legacy global-seeded reference it reproduces."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelnoise.tasks.graph.noise import erase_corruption_matrix, erase_noise, erase_seed


def _legacy_reference(y: np.ndarray, train_idx: np.ndarray, k: int, r: float, kind: str, seed: int):
    """ERASE's corrupt.py logic written with the global legacy generator (state restored)."""
    state = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(seed)  # noqa: NPY002
        if kind == "asymm":
            c = np.eye(k) * (1 - r)
            rows = np.arange(k)
            for i in range(k):
                c[i][np.random.choice(rows[rows != i])] = r  # noqa: NPY002
        else:
            off = r * np.full((k, k), 1 / (k - 1))
            np.fill_diagonal(off, 0)
            c = np.eye(k) * (1 - r) + off
        return np.array([np.random.choice(k, p=c[t]) for t in y[train_idx]])  # noqa: NPY002
    finally:
        np.random.set_state(state)  # noqa: NPY002


@pytest.mark.parametrize("kind", ["symm", "asymm"])
@pytest.mark.parametrize("run", [0, 3])
def test_matches_legacy_seeding(kind: str, run: int) -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 7, 300)
    train_idx = np.arange(40, 180)
    out = erase_noise(y, train_idx, 7, 0.4, kind=kind, seed=erase_seed(run))
    ref = _legacy_reference(y, train_idx, 7, 0.4, kind, 123 + 100 * run)
    assert np.array_equal(out.noisy.numpy()[train_idx], ref)
    outside = np.setdiff1d(np.arange(300), train_idx)
    assert np.array_equal(out.noisy.numpy()[outside], y[outside])
    assert torch.equal(out.is_corrupted, out.noisy != out.clean)


def test_asymm_has_one_partner_per_class_and_rate() -> None:
    c = erase_corruption_matrix(7, 0.3, kind="asymm", rng=np.random.RandomState(5))
    assert np.allclose(c.sum(1), 1) and np.allclose(np.diag(c), 0.7)
    assert ((c > 0).sum(1) == 2).all()
    y = np.repeat(np.arange(7), 2000)
    out = erase_noise(y, np.arange(y.size), 7, 0.3, kind="symm", seed=1)
    assert abs(out.noise_rate - 0.3) < 0.02


def test_rate_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        erase_noise(np.zeros(4, dtype=int), [0], 2, 1.5)
