"""The (labelnoise, cleanlab 2.9) function pairs timed by ``detection_vs_cleanlab.py``.

Each pair: ``(name, ours(d), cleanlab(d), same(a, b))`` on a data dict ``d``; ``same`` says
whether the two outputs are the same answer (masks and orderings equal, floats within
1e-9 relative / 1e-12 absolute, tables equal).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import labelnoise.common.detection as ln

Pair = tuple[str, Callable[[dict], Any], Callable[[dict], Any], Callable[[Any, Any], bool]]


def quiet(fn: Callable[[], Any]) -> Any:
    """Run a cleanlab call without its warnings and prints."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return fn()


def same(a: Any, b: Any) -> bool:
    if isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
        try:
            pd.testing.assert_frame_equal(
                a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False
            )
            return True
        except AssertionError:
            return False
    if isinstance(a, (tuple, list)) and not np.isscalar(a):
        if len(a) != len(b):
            return False
        return all(same(x, y) for x, y in zip(a, b))
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "biu" and b.dtype.kind in "biu":
        return bool(np.array_equal(a, b))
    return bool(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))


def classification_pairs() -> list[Pair]:
    """Functions of ``(labels (N,), pred_probs (N, K))`` and things derived from them."""
    import cleanlab.count as cc
    import cleanlab.dataset as cd
    import cleanlab.filter as cf
    import cleanlab.rank as cr
    from cleanlab.outlier import OutOfDistribution

    pairs: list[Pair] = []
    from typing import get_args

    from labelnoise.common.detection.filter import FilterBy

    for fb in get_args(FilterBy):  # every filter_by option
        pairs.append(
            (
                f"filter.find_label_issues(filter_by={fb})",
                lambda d, fb=fb: ln.find_label_issues(d["y"], d["p"], filter_by=fb),
                lambda d, fb=fb: quiet(lambda: cf.find_label_issues(d["y"], d["p"], filter_by=fb)),
                same,
            )
        )
    pairs += [
        (
            "filter.find_label_issues(return_indices_ranked_by=self_confidence)",
            lambda d: ln.find_label_issues(
                d["y"], d["p"], return_indices_ranked_by="self_confidence"
            ),
            lambda d: quiet(
                lambda: cf.find_label_issues(
                    d["y"], d["p"], return_indices_ranked_by="self_confidence"
                )
            ),
            same,
        ),
        (
            "filter.find_predicted_neq_given",
            lambda d: ln.find_predicted_neq_given(d["y"], d["p"]),
            lambda d: cf.find_predicted_neq_given(d["y"], d["p"]),
            same,
        ),
        (
            "filter.find_label_issues_using_argmax_confusion_matrix",
            lambda d: ln.find_label_issues_using_argmax_confusion_matrix(d["y"], d["p"]),
            lambda d: quiet(
                lambda: cf.find_label_issues_using_argmax_confusion_matrix(d["y"], d["p"])
            ),
            same,
        ),
        (
            "count.get_confident_thresholds",
            lambda d: ln.get_confident_thresholds(d["y"], d["p"]),
            lambda d: cc.get_confident_thresholds(d["y"], d["p"]),
            same,
        ),
        (
            "count.compute_confident_joint",
            lambda d: ln.compute_confident_joint(d["y"], d["p"]),
            lambda d: cc.compute_confident_joint(d["y"], d["p"]),
            same,
        ),
        (
            "count.estimate_joint",
            lambda d: ln.estimate_joint(d["y"], d["p"]),
            lambda d: cc.estimate_joint(d["y"], d["p"]),
            same,
        ),
        (
            "count.num_label_issues",
            lambda d: ln.num_label_issues(d["y"], d["p"]),
            lambda d: quiet(lambda: cc.num_label_issues(d["y"], d["p"])),
            same,
        ),
        (
            "count.estimate_latent",
            lambda d: ln.estimate_latent(d["cj"], d["y"]),
            lambda d: cc.estimate_latent(d["cj"], d["y"]),
            same,
        ),
        (
            "count.estimate_py_and_noise_matrices_from_probabilities",
            lambda d: ln.estimate_py_and_noise_matrices_from_probabilities(d["y"], d["p"]),
            lambda d: cc.estimate_py_and_noise_matrices_from_probabilities(d["y"], d["p"]),
            same,
        ),
    ]
    for method in ("self_confidence", "normalized_margin", "confidence_weighted_entropy"):
        pairs.append(
            (
                f"rank.get_label_quality_scores(method={method})",
                lambda d, m=method: ln.get_label_quality_scores(d["y"], d["p"], method=m),
                lambda d, m=method: cr.get_label_quality_scores(d["y"], d["p"], method=m),
                same,
            )
        )
    pairs += [
        (
            "rank.get_label_quality_scores(adjust_pred_probs=True)",
            lambda d: ln.get_label_quality_scores(d["y"], d["p"], adjust_pred_probs=True),
            lambda d: cr.get_label_quality_scores(d["y"], d["p"], adjust_pred_probs=True),
            same,
        ),
    ]
    for weight in ("accuracy", "log_loss_search"):
        pairs.append(
            (
                f"rank.get_label_quality_ensemble_scores(3 models, {weight})",
                lambda d, w=weight: ln.get_label_quality_ensemble_scores(
                    d["y"], d["members"], weight_ensemble_members_by=w
                ),
                lambda d, w=weight: quiet(
                    lambda: cr.get_label_quality_ensemble_scores(
                        d["y"], d["members"], weight_ensemble_members_by=w, verbose=False
                    )
                ),
                same,
            )
        )
    pairs += [
        (
            "rank.order_label_issues",
            lambda d: ln.order_label_issues(d["mask"], d["y"], d["p"]),
            lambda d: cr.order_label_issues(d["mask"], d["y"], d["p"]),
            same,
        ),
        (
            "rank.find_top_issues(top=1000)",
            lambda d: ln.find_top_issues(d["q"], top=1000),
            lambda d: cr.find_top_issues(d["q"], top=1000),
            same,
        ),
        (
            "dataset.rank_classes_by_label_quality",
            lambda d: ln.rank_classes_by_label_quality(d["y"], d["p"]),
            lambda d: quiet(lambda: cd.rank_classes_by_label_quality(d["y"], d["p"])),
            same,
        ),
        (
            "dataset.find_overlapping_classes",
            lambda d: ln.find_overlapping_classes(d["y"], d["p"]),
            lambda d: quiet(lambda: cd.find_overlapping_classes(d["y"], d["p"])),
            same,
        ),
        (
            "dataset.overall_label_health_score",
            lambda d: ln.overall_label_health_score(d["y"], d["p"]),
            lambda d: quiet(lambda: cd.overall_label_health_score(d["y"], d["p"], verbose=False)),
            same,
        ),
    ]
    for method in ("entropy", "least_confidence"):
        pairs.append(
            (
                f"outlier.OutOfDistribution(pred_probs, {method})",
                lambda d, m=method: ln.outlier_scores_from_pred_probs(d["p"], d["y"], method=m),
                lambda d, m=method: quiet(
                    lambda: OutOfDistribution(params={"method": m}).fit_score(
                        pred_probs=d["p"], labels=d["y"], verbose=False
                    )
                ),
                same,
            )
        )
    return pairs


def classification_data(y: np.ndarray, p: np.ndarray) -> dict:
    """The data dict of :func:`classification_pairs`."""
    members = [p]
    for scale in (0.5, 2.0):  # two more "models": sharpened / flattened copies
        m = np.power(p, scale, dtype=np.float64).astype(p.dtype)
        m /= m.sum(axis=1, keepdims=True)
        members.append(m)
    mask = ln.find_label_issues(y, p)
    return {
        "y": y,
        "p": p,
        "cj": ln.compute_confident_joint(y, p),
        "members": members,
        "mask": mask,
        "q": ln.get_label_quality_scores(y, p),
    }


def _series_lists_same(a: Any, b: Any) -> bool:
    sa, ta = a
    sb, tb = b
    return same(sa, sb) and all(same(x.to_numpy(), y.to_numpy()) for x, y in zip(ta, tb))


def multilabel_pairs() -> list[Pair]:
    """Functions of ``(labels: lists of class ids, pred_probs (N, K))``."""
    import cleanlab.count as cc
    import cleanlab.filter as cf
    import cleanlab.multilabel_classification.dataset as md
    import cleanlab.multilabel_classification.rank as mr

    return [
        (
            "filter.find_label_issues(multi_label=True)",
            lambda d: ln.find_label_issues(d["y"], d["p"], multi_label=True),
            lambda d: quiet(lambda: cf.find_label_issues(d["y"], d["p"], multi_label=True)),
            same,
        ),
        (
            "count.compute_confident_joint(multi_label=True)",
            lambda d: ln.compute_confident_joint(d["y"], d["p"], multi_label=True),
            lambda d: cc.compute_confident_joint(d["y"], d["p"], multi_label=True),
            same,
        ),
        (
            "multilabel_classification.rank.get_label_quality_scores",
            lambda d: ln.get_multilabel_quality_scores(d["y"], d["p"]),
            lambda d: mr.get_label_quality_scores(d["y"], d["p"]),
            same,
        ),
        (
            "multilabel_classification.dataset.common_multilabel_issues",
            lambda d: ln.common_multilabel_issues(d["y"], d["p"]),
            lambda d: quiet(lambda: md.common_multilabel_issues(d["y"], d["p"])),
            same,
        ),
        (
            "multilabel_classification.dataset.rank_classes_by_multilabel_quality",
            lambda d: ln.rank_classes_by_multilabel_quality(d["y"], d["p"]),
            lambda d: quiet(lambda: md.rank_classes_by_multilabel_quality(d["y"], d["p"])),
            same,
        ),
        (
            "multilabel_classification.dataset.overall_multilabel_health_score",
            lambda d: ln.overall_multilabel_health_score(d["y"], d["p"]),
            lambda d: quiet(lambda: md.overall_multilabel_health_score(d["y"], d["p"])),
            same,
        ),
    ]


def segmentation_pairs() -> list[Pair]:
    """Functions of ``(labels (n, H, W), pred_probs (n, K, H, W))``."""
    import cleanlab.segmentation.filter as sf
    import cleanlab.segmentation.rank as sr

    return [
        (
            "segmentation.filter.find_label_issues",
            lambda d: ln.find_segmentation_issues(d["y"], d["p"]),
            lambda d: quiet(lambda: sf.find_label_issues(d["y"], d["p"], verbose=False)),
            same,
        ),
        (
            "segmentation.filter.find_label_issues(downsample=4)",
            lambda d: ln.find_segmentation_issues(d["y"], d["p"], downsample=4),
            lambda d: quiet(
                lambda: sf.find_label_issues(d["y"], d["p"], downsample=4, verbose=False)
            ),
            same,
        ),
        (
            "segmentation.rank.get_label_quality_scores(softmin)",
            lambda d: ln.get_segmentation_quality_scores(d["y"], d["p"]),
            lambda d: quiet(lambda: sr.get_label_quality_scores(d["y"], d["p"], verbose=False)),
            same,
        ),
        (
            "segmentation.rank.get_label_quality_scores(num_pixel_issues, downsample=4)",
            lambda d: ln.get_segmentation_quality_scores(
                d["y"], d["p"], method="num_pixel_issues", downsample=4
            ),
            lambda d: quiet(
                lambda: sr.get_label_quality_scores(
                    d["y"], d["p"], method="num_pixel_issues", downsample=4, verbose=False
                )
            ),
            same,
        ),
    ]


def token_pairs() -> list[Pair]:
    """Functions of ``(labels: lists of token labels, pred_probs: list of (T, K))``."""
    import cleanlab.token_classification.filter as tf
    import cleanlab.token_classification.rank as tr

    return [
        (
            "token_classification.filter.find_label_issues",
            lambda d: ln.find_token_issues(d["y"], d["p"]),
            lambda d: quiet(lambda: tf.find_label_issues(d["y"], d["p"])),
            lambda a, b: a == b,
        ),
        (
            "token_classification.rank.get_label_quality_scores",
            lambda d: ln.get_token_quality_scores(d["y"], d["p"]),
            lambda d: tr.get_label_quality_scores(d["y"], d["p"]),
            _series_lists_same,
        ),
    ]


def regression_pairs() -> list[Pair]:
    """Functions of ``(labels (N,), predictions (N,))``."""
    from cleanlab.regression.rank import get_label_quality_scores as rq

    return [
        (
            f"regression.rank.get_label_quality_scores({m})",
            lambda d, m=m: ln.get_regression_label_quality_scores(d["y"], d["p"], method=m),
            lambda d, m=m: rq(d["y"], d["p"], method=m),
            # outre: cleanlab's neighbour search rounds distances (|a|^2 - 2ab + |b|^2)
            lambda a, b: bool(np.allclose(a, b, rtol=0, atol=1e-8)),
        )
        for m in ("outre", "residual")
    ]


def feature_outlier_pairs() -> list[Pair]:
    """kNN outlier scores of ``features (N, M)``."""
    from cleanlab.outlier import OutOfDistribution

    return [
        (
            "outlier.OutOfDistribution(features)",
            lambda d: ln.outlier_scores_from_features(d["x"]),
            lambda d: quiet(lambda: OutOfDistribution().fit_score(features=d["x"], verbose=False)),
            lambda a, b: bool(np.allclose(a, b, rtol=0, atol=1e-10)),
        )
    ]


def clean_learning_pairs() -> list[Pair]:
    """CleanLearning(GaussianNB) fit on ``(x (N, M), labels (N,))``: the issues tables."""
    from cleanlab.classification import CleanLearning as Cl
    from sklearn.naive_bayes import GaussianNB

    return [
        (
            "classification.CleanLearning(GaussianNB).fit",
            lambda d: ln.CleanLearning(GaussianNB(), seed=0).fit(d["x"], d["y"]).label_issues_df,
            lambda d: quiet(lambda: Cl(GaussianNB(), seed=0).fit(d["x"], d["y"]).label_issues_df),
            same,
        )
    ]
