"""Regression losses against reference values computed independently (numpy / torch / scipy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import norm

from labelnoise.common.losses.regression import (
    CauchyLoss,
    GaussianNLLLoss,
    HuberLoss,
    TrimmedMSELoss,
    cauchy,
    gaussian_nll,
    huber,
    mse,
    trimmed_mse,
)

PRED = torch.tensor([0.0, 1.0, 2.0, -3.0, 10.0], dtype=torch.float64)
TARGET = torch.tensor([0.5, 1.0, 0.0, 1.0, 0.0], dtype=torch.float64)


def test_huber_matches_torch_and_hand_values():
    got = huber(PRED, TARGET, delta=1.5, reduction="none")
    ref = F.huber_loss(PRED, TARGET, delta=1.5, reduction="none")
    torch.testing.assert_close(got, ref)
    # |r| = 0.5 -> 0.125 ; |r| = 4 -> 1.5 * (4 - 0.75) = 4.875
    assert got[0].item() == pytest.approx(0.125)
    assert got[3].item() == pytest.approx(4.875)


def test_cauchy_hand_values_and_mse_limit():
    c = 2.0
    got = cauchy(PRED, TARGET, c=c, reduction="none").numpy()
    r = (PRED - TARGET).numpy()
    ref = np.array([c * c / 2 * math.log(1 + (x / c) ** 2) for x in r])
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    # for c >> |r| the Cauchy loss tends to r^2 / 2
    big = cauchy(PRED, TARGET, c=1e4, reduction="none")
    torch.testing.assert_close(big, 0.5 * (PRED - TARGET) ** 2, rtol=1e-6, atol=1e-8)


def test_trimmed_mse_drops_largest_and_reduces_to_mse():
    sq = ((PRED - TARGET) ** 2).tolist()  # [0.25, 0, 4, 16, 100]
    got = trimmed_mse(PRED, TARGET, trim=0.4, reduction="none").tolist()  # ceil(2) dropped
    assert got == [0.25, 0.0, 4.0, 0.0, 0.0]
    assert trimmed_mse(PRED, TARGET, trim=0.4).item() == pytest.approx((0.25 + 0 + 4) / 3)
    assert trimmed_mse(PRED, TARGET, trim=0.0).item() == pytest.approx(sum(sq) / 5)
    assert mse(PRED, TARGET).item() == pytest.approx(F.mse_loss(PRED, TARGET).item())


def test_gaussian_nll_matches_scipy_logpdf():
    log_var = torch.tensor([0.0, -1.0, 1.0, 2.0, 0.5], dtype=torch.float64)
    pred = torch.stack([PRED, log_var], dim=1)
    got = gaussian_nll(pred, TARGET, reduction="none").numpy()
    sd = np.exp(0.5 * log_var.numpy())
    ref = -norm.logpdf(TARGET.numpy(), loc=PRED.numpy(), scale=sd) - 0.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    torch_ref = F.gaussian_nll_loss(PRED, TARGET, log_var.exp(), reduction="sum")
    assert gaussian_nll(pred, TARGET, reduction="sum").item() == pytest.approx(torch_ref.item())


@pytest.mark.parametrize(
    "module,fn",
    [
        (HuberLoss(delta=0.7), lambda p, t: huber(p, t, delta=0.7)),
        (CauchyLoss(c=0.3), lambda p, t: cauchy(p, t, c=0.3)),
        (TrimmedMSELoss(trim=0.2), lambda p, t: trimmed_mse(p, t, trim=0.2)),
    ],
)
def test_modules_call_functions_and_give_finite_gradients(module, fn):
    p = PRED.clone().requires_grad_(True)
    out = module(p[:, None], TARGET)
    assert out.item() == pytest.approx(fn(PRED, TARGET).item())
    out.backward()
    assert torch.isfinite(p.grad).all()


def test_gaussian_module_and_gradient():
    p = torch.stack([PRED, torch.zeros(5, dtype=torch.float64)], 1).requires_grad_(True)
    GaussianNLLLoss()(p, TARGET).backward()
    assert torch.isfinite(p.grad).all()


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="reduction"):
        huber(PRED, TARGET, reduction="avg")
    with pytest.raises(ValueError, match="pred must have shape"):
        cauchy(PRED[:3], TARGET)
    with pytest.raises(ValueError, match=r"pred must have shape \(5, 2\)"):
        gaussian_nll(PRED, TARGET)
    with pytest.raises(ValueError, match="trim"):
        trimmed_mse(PRED, TARGET, trim=1.0)
    with pytest.raises(ValueError, match="delta"):
        huber(PRED, TARGET, delta=0.0)
