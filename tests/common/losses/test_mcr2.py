"""MCR^2 (Yu et al., NeurIPS 2020) against the coding-rate formula worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from labelnoise.common.losses.mcr2 import coding_rate, compressed_coding_rate, mcr2_loss


def test_coding_rate_of_a_hand_worked_matrix():
    # Z = [[1, 0], [0, 2]] (n = 2, d = 2), eps = 1: d / (n eps^2) = 1, Z^T Z = diag(1, 4),
    # R = 1/2 log((1 + 1)(1 + 4)) = 1/2 log 10
    z = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    assert coding_rate(z, eps=1.0).item() == pytest.approx(0.5 * math.log(10.0))
    # eps = 0.5: d / (n eps^2) = 4: 1/2 log((1 + 4)(1 + 16)) = 1/2 log 85
    assert coding_rate(z, eps=0.5).item() == pytest.approx(0.5 * math.log(85.0))


def test_coding_rate_of_one_row_is_the_rank_one_formula():
    # Z = v^T (n = 1): logdet(I + c v v^T) = log(1 + c |v|^2) (matrix determinant lemma)
    v = torch.tensor([[3.0, 4.0, 0.0]], dtype=torch.float64)
    c = 3 / (1 * 0.2**2)
    assert coding_rate(v, eps=0.2).item() == pytest.approx(0.5 * math.log(1 + c * 25.0))


def test_coding_rate_matches_numpy_slogdet():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(20, 5))
    eps = 0.3
    want = 0.5 * np.linalg.slogdet(np.eye(5) + 5 / (20 * eps**2) * z.T @ z)[1]
    assert coding_rate(torch.from_numpy(z), eps).item() == pytest.approx(want, rel=1e-10)


def test_fewer_rows_than_dimensions_matches_numpy_slogdet_on_the_d_side():
    # m = 6 rows < d = 40: computed on the 6 x 6 Gram matrix (Sylvester), the value of the
    # d x d formula; gradients too
    rng = np.random.default_rng(1)
    z = rng.normal(size=(6, 40))
    c = 40 / (6 * 0.3**2)
    want = 0.5 * np.linalg.slogdet(np.eye(40) + c * z.T @ z)[1]
    t = torch.from_numpy(z).requires_grad_(True)
    got = coding_rate(t, 0.3)
    assert got.item() == pytest.approx(want, rel=1e-10)
    got.backward()
    # d/dZ 1/2 logdet(I + c Z^T Z) = c Z (I + c Z^T Z)^-1
    grad = c * z @ np.linalg.inv(np.eye(40) + c * z.T @ z)
    np.testing.assert_allclose(t.grad.numpy(), grad, rtol=1e-8, atol=1e-10)


def test_compressed_rate_sums_the_classes_weighted_by_their_share():
    # class 0: rows (1, 0), (1, 0) -> n_0 = 2, Z_0^T Z_0 = diag(2, 0), d / (n_0 eps^2) = 1:
    #   1/2 log(1 + 2) = 1/2 log 3, weight 2/3
    # class 1: row (0, 2) -> n_1 = 1, Z_1^T Z_1 = diag(0, 4), d / (n_1 eps^2) = 2:
    #   1/2 log(1 + 8) = 1/2 log 9, weight 1/3
    # class 2: empty -> 0
    z = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([0, 1, 0])
    want = 2 / 3 * 0.5 * math.log(3.0) + 1 / 3 * 0.5 * math.log(9.0)
    assert compressed_coding_rate(z, y, 3, eps=1.0).item() == pytest.approx(want)
    loss, r, rc = mcr2_loss(z, y, 3, eps=1.0, gam1=1.0, gam2=2.0)
    # R: d / (n eps^2) = 2/3, Z^T Z = diag(2, 4): 1/2 log((1 + 4/3)(1 + 8/3))
    want_r = 0.5 * math.log((1 + 4 / 3) * (1 + 8 / 3))
    assert r.item() == pytest.approx(want_r)
    assert rc.item() == pytest.approx(want)
    assert loss.item() == pytest.approx(-2 * want_r + want)


def test_rate_reduction_prefers_orthogonal_classes():
    # two classes on orthogonal axes reduce the rate more than the same rows all on one axis
    y = torch.tensor([0, 0, 1, 1])
    orth = torch.tensor([[1.0, 0], [1, 0], [0, 1], [0, 1]])
    same = torch.tensor([[1.0, 0], [1, 0], [1, 0], [1, 0]])
    assert mcr2_loss(orth, y, 2)[0] < mcr2_loss(same, y, 2)[0]


def test_gradient_flows_and_is_finite():
    z = torch.randn(30, 8, requires_grad=True)
    loss, _, _ = mcr2_loss(z, torch.arange(30) % 3, 3, eps=0.2, gam2=2.0)
    loss.backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()


def test_input_errors():
    z = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="eps must be a finite number > 0; got 0"):
        coding_rate(z, eps=0)
    with pytest.raises(ValueError, match=r"z must be a non-empty \(n, d\) tensor; got \(3,\)"):
        coding_rate(torch.zeros(3))
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\)"):
        compressed_coding_rate(z, torch.zeros(2, dtype=torch.long), 2)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\); got \[0, 2\]"):
        compressed_coding_rate(z, torch.tensor([0, 1, 2]), 2)
    with pytest.raises(ValueError, match="gam2 must be a finite number >= 0; got -1"):
        mcr2_loss(z, torch.zeros(3, dtype=torch.long), 2, gam2=-1)
