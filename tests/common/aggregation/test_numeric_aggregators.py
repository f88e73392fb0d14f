"""Mean, median and CATD against independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from labelnoise.common.aggregation import CATD, MeanAggregator, MedianAggregator


@pytest.fixture()
def ratings() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    truth = rng.uniform(-50, 50, 30)
    sd = np.array([1.0, 2.0, 5.0, 20.0, 40.0])
    rows = [
        (i, a, truth[i] + rng.normal(0, sd[a]))
        for i in range(30)
        for a in range(5)
        if rng.random() < 0.8 or a == 0
    ]
    df = pd.DataFrame(rows, columns=["task", "worker", "label"])
    df.attrs["truth"] = truth
    return df


def test_mean_and_median_match_pandas(ratings):
    groups = ratings.groupby("task")["label"]
    pd.testing.assert_series_equal(
        MeanAggregator().fit_predict(ratings), groups.mean(), check_names=False
    )
    pd.testing.assert_series_equal(
        MedianAggregator().fit_predict(ratings), groups.median(), check_names=False
    )


def _catd_reference(df: pd.DataFrame, alpha: float, n_iter: int) -> pd.Series:
    """A loop-by-loop CATD with CRH's variance-normalised loss, written independently."""
    var = df.groupby("task")["label"].var(ddof=0)
    est = df.groupby("task")["label"].mean()
    n_answers = df.groupby("worker").size()
    for _ in range(n_iter):
        loss = {}
        for w, g in df.groupby("worker"):
            loss[w] = sum(
                (x - est[t]) ** 2 / var[t] for t, x in zip(g["task"], g["label"]) if var[t] > 0
            )
        weight = {w: chi2.ppf(alpha / 2, n_answers[w]) / loss[w] for w in loss}
        est = (
            df.assign(w=df["worker"].map(weight))
            .groupby("task")
            .apply(lambda g: (g["w"] * g["label"]).sum() / g["w"].sum(), include_groups=False)
        )
    return est


def test_catd_matches_reference_and_beats_mean(ratings):
    ours = CATD(n_iter=5, tol=0.0).fit(ratings)
    ref = _catd_reference(ratings, 0.05, 5)
    np.testing.assert_allclose(ours.labels_.to_numpy(), ref.loc[ours.labels_.index], rtol=1e-9)
    truth = ratings.attrs["truth"]
    err_catd = np.abs(CATD().fit_predict(ratings).to_numpy() - truth).mean()
    err_mean = np.abs(MeanAggregator().fit_predict(ratings).to_numpy() - truth).mean()
    assert err_catd < 0.7 * err_mean
    # the two noisiest raters get the two smallest weights
    assert set(ours.skills_.nsmallest(2).index) == {3, 4}


def test_numeric_rejects_text():
    df = pd.DataFrame({"task": [1, 1], "worker": ["a", "b"], "label": [3.0, "high"]})
    with pytest.raises(ValueError, match="finite numbers.*'high' at row 1"):
        MeanAggregator().fit(df)
