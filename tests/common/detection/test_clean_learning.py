"""CleanLearning against cleanlab 2.9's CleanLearning: same folds and seed, same everything."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("cleanlab")
from cleanlab.classification import CleanLearning as ClCleanLearning  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.naive_bayes import GaussianNB  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

from labelnoise.common.detection.clean_learning import CleanLearning, cv_pred_probs  # noqa: E402


def _data(k: int, n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x, y = make_classification(
        n_samples=n, n_features=6, n_informative=4, n_classes=k, random_state=seed
    )
    rng = np.random.default_rng(seed)
    flip = rng.random(n) < 0.2
    y = y.copy()
    y[flip] = rng.integers(0, k, int(flip.sum()))
    return x, y


def _both(clf, x, y, fit_kwargs=None, **kwargs):
    fit_kwargs = fit_kwargs or {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ClCleanLearning(clf.__class__(**clf.get_params()), seed=3, **kwargs).fit(
            x, y, **fit_kwargs
        )
    ours = CleanLearning(clf.__class__(**clf.get_params()), seed=3, **kwargs).fit(
        x, y, **fit_kwargs
    )
    return ref, ours


def _same(ref, ours, x) -> None:
    a, b = ref.get_label_issues(), ours.get_label_issues()
    for col in a.columns:
        np.testing.assert_allclose(
            a[col].to_numpy(dtype=float), b[col].to_numpy(dtype=float), rtol=0, atol=1e-12
        )
    np.testing.assert_array_equal(ref.predict(x), ours.predict(x))
    np.testing.assert_allclose(ref.predict_proba(x), ours.predict_proba(x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ref.noise_matrix, ours.noise_matrix, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ref.py, ours.py, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "clf", [GaussianNB(), DecisionTreeClassifier(random_state=0)], ids=["nb", "tree"]
)
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"cv_n_folds": 3},
        {"find_label_issues_kwargs": {"filter_by": "both"}},
        {"converge_latent_estimates": True},
        {"label_quality_scores_kwargs": {"method": "normalized_margin"}},
    ],
    ids=["default", "3folds", "both", "converge", "margin"],
)
@pytest.mark.parametrize("k", [2, 4])
def test_fit_matches_cleanlab(clf, kwargs: dict, k: int) -> None:
    x, y = _data(k)
    ref, ours = _both(clf, x, y, **kwargs)
    _same(ref, ours, x)
    assert ours.get_label_issues()["is_label_issue"].sum() > 0


def test_logistic_regression_and_sample_weights_match_cleanlab() -> None:
    x, y = _data(3, n=200)
    ref, ours = _both(LogisticRegression(), x, y, cv_n_folds=3)
    _same(ref, ours, x)
    df = ours.get_label_issues()
    keep = ~df["is_label_issue"].to_numpy()
    want = 1.0 / np.maximum(np.diagonal(ours.noise_matrix), 0.001)  # by hand
    np.testing.assert_allclose(df["sample_weight"].to_numpy()[keep], want[y[keep]])
    assert (df["sample_weight"].to_numpy()[~keep] == 0).all()


def test_tiny_class_missing_from_a_fold_and_pulearning_match_cleanlab() -> None:
    x, y = _data(3, n=150, seed=1)
    y[y == 2] = 0
    y[:2] = 2  # class 2 has 2 examples: absent from some training folds
    ref, ours = _both(GaussianNB(), x, y, cv_n_folds=3)
    _same(ref, ours, x)
    xb, yb = _data(2, seed=2)
    ref, ours = _both(GaussianNB(), xb, yb, pulearning=1)
    _same(ref, ours, xb)
    assert ours.noise_matrix[1, 0] == 0 and ours.noise_matrix[0, 0] == 1


def test_given_pred_probs_noise_matrix_and_label_issues_match_cleanlab() -> None:
    x, y = _data(3, seed=4)
    p = cv_pred_probs(GaussianNB(), x, y, 3, cv_n_folds=4, seed=0)
    ref, ours = _both(GaussianNB(), x, y, fit_kwargs={"pred_probs": p})
    _same(ref, ours, x)
    nm = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    ref, ours = _both(GaussianNB(), x, y, fit_kwargs={"noise_matrix": nm})
    _same(ref, ours, x)
    ref, ours = _both(GaussianNB(), x, y, fit_kwargs={"label_issues": np.array([0, 5, 7])})
    np.testing.assert_allclose(ref.predict_proba(x), ours.predict_proba(x), atol=1e-12)
    assert ours.get_label_issues()["is_label_issue"].sum() == 3


def test_refit_uses_only_the_rest() -> None:
    x, y = _data(3, seed=5)
    cl = CleanLearning(GaussianNB(), seed=0).fit(x, y)
    keep = ~cl.get_label_issues()["is_label_issue"].to_numpy()
    w = cl.get_label_issues()["sample_weight"].to_numpy()[keep]
    direct = GaussianNB().fit(x[keep], y[keep], sample_weight=w)
    np.testing.assert_allclose(cl.predict_proba(x), direct.predict_proba(x))
    assert cl.score(x, y) == pytest.approx(np.mean(direct.predict(x) == y))
    df = CleanLearning(GaussianNB(), seed=0).find_label_issues(pd.DataFrame(x), y)
    assert list(df.columns) == ["is_label_issue", "label_quality", "given_label", "predicted_label"]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: CleanLearning(object()), r"clf must define .fit\(\)"),
        (lambda: CleanLearning(cv_n_folds=1), "cv_n_folds must be an integer >= 2"),
        (lambda: CleanLearning(pulearning=2), "pulearning must be None, 0 or 1"),
        (
            lambda: CleanLearning(find_label_issues_kwargs={"multi_label": True}),
            "find_label_issues_kwargs must not set multi_label",
        ),
        (
            lambda: CleanLearning(cv_n_folds=5).fit(np.zeros((8, 2)), np.arange(8) % 4),
            "cv_n_folds must be at most N / K = 2",
        ),
        (lambda: CleanLearning().fit(np.zeros((3, 2)), [0, 1]), "X must have 2 rows"),
        (
            lambda: CleanLearning().fit(np.zeros((2, 2)), [0, 1], label_issues=np.array([0, 0])),
            "label_issues indices must be unique",
        ),
        (
            lambda: CleanLearning().fit(
                np.zeros((6, 2)), np.arange(6) % 2, noise_matrix=np.full((2, 2), 0.5)
            ),
            r"trace\(noise_matrix\) must exceed 1",
        ),
    ],
)
def test_bad_inputs(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
