"""cleanlab's regression label-quality scores (outre, residual) against cleanlab 2.9."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cleanlab")
from cleanlab.regression.rank import get_label_quality_scores as cl_scores  # noqa: E402

from labelnoise.common.detection.regression_rank import (  # noqa: E402
    get_regression_label_quality_scores,
    outre_scores,
)


@pytest.mark.parametrize("n", [2, 3, 7, 100, 101, 640])
@pytest.mark.parametrize("method", ["outre", "residual"])
def test_matches_cleanlab(n: int, method: str) -> None:
    rng = np.random.default_rng(n)
    y = rng.normal(size=n) * 3.0
    pred = y + rng.normal(size=n) * 0.4
    pred[: n // 5] += 4.0  # corrupted labels: large residuals
    if n > 10:
        y[3], pred[3] = y[4], pred[4]  # an exact duplicate point
        y[6] = y[8]  # tied labels
    got = get_regression_label_quality_scores(y, pred, method=method)
    want = cl_scores(y, pred, method=method)
    # cleanlab's N > 100 neighbour search uses |a|^2 - 2ab + |b|^2 (rounding ~1e-10);
    # up to N = 100 it uses scipy's exact distance, like ours.
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-14 if n <= 100 else 1e-8)
    assert np.all((got >= 0) & (got <= 1))


def test_outre_by_hand() -> None:
    """N = 2: points (z(y), 5 z(r)) are (-1, 5 s) and (1, -5 s); each averages its own 0
    and the other's distance over ceil(2/2) = 1 neighbour: itself, so d = 0 -> score 1."""
    np.testing.assert_array_equal(outre_scores([0.0, 1.0], [0.5, 0.0]), [1.0, 1.0])
    # N = 4, frac 1: mean distance to all 4 points (self at 0), over the median of those.
    y, pred = np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 2.0, 3.0])
    z = (y - y.mean()) / y.std()
    d = np.abs(z[:, None] - z[None, :]).mean(axis=1)  # residual axis is all 0
    want = np.exp(-d / np.median(d))
    np.testing.assert_allclose(outre_scores(y, pred, frac_neighbors=1.0), want, rtol=1e-14)


def test_outre_ranks_corrupted_first() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=400)
    pred = y + rng.normal(size=400) * 0.1
    pred[:20] += rng.choice([-3.0, 3.0], 20)
    worst = np.argsort(outre_scores(y, pred))[:20]
    assert len(set(worst) & set(range(20))) >= 18


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"labels": [1.0, 2.0], "predictions": [1.0]}, "predictions must have shape"),
        ({"labels": [[1.0, 2.0]], "predictions": [1.0, 2.0]}, "labels must have shape"),
        ({"labels": [1.0, np.nan], "predictions": [1.0, 2.0]}, "labels must be finite"),
        ({"labels": ["a", "b"], "predictions": [1.0, 2.0]}, "labels must be a numeric"),
        ({"labels": [1.0], "predictions": [1.0], "method": "mse"}, "method must be"),
    ],
)
def test_bad_inputs(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        get_regression_label_quality_scores(**kwargs)
    with pytest.raises(ValueError, match="frac_neighbors must be in"):
        outre_scores([1.0, 2.0], [1.0, 2.0], frac_neighbors=0.0)
