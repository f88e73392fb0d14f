import numpy as np
import pytest
import torch
from scipy import stats

from labelnoise.common.noise import gaussian_noise, outlier_noise, uniform_replacement

Y = torch.linspace(-3.0, 7.0, 50_000, dtype=torch.float64)


def test_gaussian_residuals_are_normal_with_scale():
    out = gaussian_noise(Y, scale=0.5, seed=0)
    resid = (out.noisy - out.clean).numpy()
    assert stats.kstest(resid, stats.norm(scale=0.5).cdf).pvalue > 0.01
    assert out.is_corrupted.all() and torch.equal(out.clean, Y)


def test_gaussian_per_column_scale_and_integer_targets():
    y = np.arange(20_000).reshape(10_000, 2)
    out = gaussian_noise(y, scale=[0.0, 2.0], seed=0)
    assert out.noisy.dtype == torch.float64
    assert torch.equal(out.noisy[:, 0], out.clean[:, 0])
    assert abs(float((out.noisy - out.clean)[:, 1].std()) - 2.0) < 0.05
    assert out.is_corrupted[:, 1].all() and not out.is_corrupted[:, 0].any()


def test_uniform_replacement_is_confrag_symmetric_noise():
    out = uniform_replacement(Y, rate=0.3, seed=0)
    assert abs(out.noise_rate - 0.3) < 0.01
    assert torch.equal(out.noisy[~out.is_corrupted], Y[~out.is_corrupted])
    drawn = out.noisy[out.is_corrupted].numpy()
    assert stats.kstest(drawn, stats.uniform(loc=-3.0, scale=10.0).cdf).pvalue > 0.01


def test_uniform_replacement_explicit_and_per_column_range():
    y = torch.rand(20_000, 2, dtype=torch.float64) * torch.tensor([1.0, 100.0], dtype=torch.float64)
    out = uniform_replacement(y, rate=0.5, low=[10.0, -5.0], high=[11.0, -4.0], seed=0)
    hit = out.noisy[:, 0][out.is_corrupted[:, 0]]
    assert float(hit.min()) >= 10.0 and float(hit.max()) <= 11.0
    hit = out.noisy[:, 1][out.is_corrupted[:, 1]]
    assert float(hit.min()) >= -5.0 and float(hit.max()) <= -4.0


def test_outliers_are_far_from_clean():
    y = torch.randn(50_000, generator=torch.Generator().manual_seed(0)) * 3
    out = outlier_noise(y, rate=0.1, scale=4.0, seed=0)
    assert abs(out.noise_rate - 0.1) < 0.01
    shift = (out.noisy - out.clean)[out.is_corrupted].abs() / float(y.std(correction=0))
    assert float(shift.min()) >= 4.0 - 1e-4 and float(shift.max()) <= 8.0 + 1e-4
    assert torch.equal(out.noisy[~out.is_corrupted], y[~out.is_corrupted])
    signs = torch.sign((out.noisy - out.clean)[out.is_corrupted])
    assert abs(float((signs > 0).float().mean()) - 0.5) < 0.05


def test_nan_targets():
    for fn, kw in [(gaussian_noise, {"scale": 1.0}), (uniform_replacement, {"rate": 0.1})]:
        with pytest.raises(ValueError, match="targets must be finite; got NaN"):
            fn(np.array([1.0, np.nan]), **kw)


def test_empty_targets():
    with pytest.raises(ValueError, match="targets must not be empty"):
        outlier_noise(np.array([]), rate=0.1)


def test_rate_outside_unit_interval():
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\); got 1.0"):
        uniform_replacement(Y, rate=1.0)
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\); got -0.5"):
        outlier_noise(Y, rate=-0.5)


def test_bad_scale_and_range():
    with pytest.raises(ValueError, match="scale must be non-negative; got min -1"):
        gaussian_noise(Y, scale=-1.0)
    with pytest.raises(ValueError, match=r"scale must be a scalar or have shape \(\); got \(2,\)"):
        gaussian_noise(Y, scale=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"scale must be in \(0.0, inf\); got 0"):
        outlier_noise(Y, rate=0.1, scale=0)
    with pytest.raises(ValueError, match="low must be <= high"):
        uniform_replacement(Y, rate=0.1, low=2.0, high=1.0)
    with pytest.raises(ValueError, match="targets must be real numbers; got dtype torch.bool"):
        gaussian_noise(torch.tensor([True, False]), scale=1.0)
