"""MAE / RMSE against scikit-learn, ERR against a hand computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import mean_absolute_error, mean_squared_error

from labelnoise.tasks.regression.metrics import error_residual_ratio, mae, rmse


def test_mae_rmse_match_sklearn():
    rng = np.random.default_rng(0)
    p, t = rng.normal(size=50), rng.normal(size=50)
    assert mae(p, t) == pytest.approx(mean_absolute_error(t, p))
    assert rmse(torch.from_numpy(p), t) == pytest.approx(np.sqrt(mean_squared_error(t, p)))


def test_err_by_hand():
    clean = np.array([0.0, 1.0, 2.0, 3.0])
    noisy = np.array([0.0, 3.0, 2.0, 7.0])  # errors 0, 2, 0, 4 -> mean 1.5
    # keep samples 0, 1, 2: errors 0, 2, 0 -> mean 2/3; ERR = (2/3) / 1.5
    sel = np.array([True, True, True, False])
    assert error_residual_ratio(noisy, clean, sel) == pytest.approx((2 / 3) / 1.5)
    assert error_residual_ratio(noisy, clean, np.array([True, False, True, False])) == 0.0
    assert error_residual_ratio(noisy, clean, np.ones(4, dtype=bool)) == pytest.approx(1.0)
    assert np.isnan(error_residual_ratio(clean, clean, np.ones(4, dtype=bool)))


def test_err_bad_input():
    y = np.zeros(3)
    with pytest.raises(ValueError, match="selected must select at least one"):
        error_residual_ratio(y, y + 1, np.zeros(3, dtype=bool))
    with pytest.raises(ValueError, match="selected must be a bool array of shape"):
        error_residual_ratio(y, y + 1, np.ones(3))
    with pytest.raises(ValueError, match="pred must have the shape of target"):
        mae(np.zeros(2), np.zeros(3))
