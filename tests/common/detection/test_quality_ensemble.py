"""Ensemble weighting log_loss_search against cleanlab 2.9 and by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("cleanlab")
import cleanlab.rank as cl_rank  # noqa: E402

from labelnoise.common.detection import (  # noqa: E402
    get_label_quality_ensemble_scores,
    get_label_quality_scores,
)

from ._synthetic import make_pred_probs  # noqa: E402


@pytest.mark.parametrize("k", [2, 3, 10, 100])
@pytest.mark.parametrize("method", ["self_confidence", "normalized_margin"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_loss_search_matches_cleanlab(k: int, method: str, dtype: type) -> None:
    n = 2000 if k == 100 else 300  # sklearn's log loss needs every class labelled
    labels, p1, _ = make_pred_probs(n, k, seed=k, dtype=dtype)
    _, p2, _ = make_pred_probs(n, k, seed=k + 1, noise=0.5, dtype=dtype)
    p3 = np.full_like(p1, 1.0 / k)
    members = [p1, p2, p3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = cl_rank.get_label_quality_ensemble_scores(
            labels,
            members,
            method=method,
            weight_ensemble_members_by="log_loss_search",
            verbose=False,
        )
    got = get_label_quality_ensemble_scores(
        labels, members, method=method, weight_ensemble_members_by="log_loss_search"
    )
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_log_loss_search_by_hand() -> None:
    """One T: the weights are exp(-T L_m) normalised, L_m the members' log losses."""
    labels = np.array([0, 1, 1, 0])
    a = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    b = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])
    la = -np.mean(np.log([0.9, 0.8, 0.6, 0.7]))
    lb = np.log(2.0)
    w = np.exp(-np.array([la, lb]))
    w /= w.sum()
    want = w[0] * a[np.arange(4), labels] + w[1] * 0.5
    got = get_label_quality_ensemble_scores(
        labels,
        [a, b],
        weight_ensemble_members_by="log_loss_search",
        log_loss_search_T_values=(1.0,),
    )
    np.testing.assert_allclose(got, want, rtol=1e-14)
    # a large T puts all the weight on the better member
    big = get_label_quality_ensemble_scores(
        labels,
        [a, b],
        weight_ensemble_members_by="log_loss_search",
        log_loss_search_T_values=(1e3,),
    )
    np.testing.assert_allclose(big, get_label_quality_scores(labels, a), atol=1e-12)


def test_bad_options() -> None:
    labels, p, _ = make_pred_probs(50, 3)
    with pytest.raises(ValueError, match="custom_weights must be None unless"):
        get_label_quality_ensemble_scores(labels, [p, p], custom_weights=np.ones(2))
    with pytest.raises(ValueError, match="log_loss_search_T_values must be"):
        get_label_quality_ensemble_scores(
            labels,
            [p, p],
            weight_ensemble_members_by="log_loss_search",
            log_loss_search_T_values=(),
        )
