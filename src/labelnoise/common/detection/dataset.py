"""Dataset-level label health from the estimated joint ``P(given, true)``.

Northcutt, Jiang & Chuang, "Confident Learning" (JAIR 2021); semantics and column names of
cleanlab 2.9 ``cleanlab.dataset`` (``rank_classes_by_label_quality``,
``find_overlapping_classes``, ``overall_label_health_score``, ``health_summary``). The joint
comes from ``labels (N,)`` and ``pred_probs (N, K)`` (:func:`estimate_joint`), from a given
``confident_joint (K, K)``, or is given directly as ``joint (K, K)`` with ``num_examples``.

Differences from cleanlab: nothing is printed (cleanlab's ``verbose=True`` tables are the
returned frames), and ``multi_label=True`` is not an argument here (see
:mod:`.multilabel_dataset`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labelnoise.common.detection._validate import check_inputs_sc
from labelnoise.common.detection.confident_joint import (
    _calibrate,
    _class_counts,
    _compute_confident_joint,
    _num_label_issues,
)

__all__ = [
    "find_overlapping_classes",
    "health_summary",
    "overall_label_health_score",
    "rank_classes_by_label_quality",
]

_EPSILON = 1e-6


def _joint_and_n(
    labels: object,
    pred_probs: object,
    joint: object,
    confident_joint: object,
    num_examples: int | None,
) -> tuple[np.ndarray, int]:
    """``(joint (K, K), N)`` from whichever inputs were given (checked here)."""
    if joint is not None:
        j = np.asarray(joint, dtype=np.float64)
        if j.ndim != 2 or j.shape[0] != j.shape[1] or not np.isfinite(j).all():
            raise ValueError(f"joint must be a finite (K, K) array; got shape {j.shape}")
        if num_examples is None and labels is None and confident_joint is None:
            raise ValueError(
                "num_examples must be given with joint (or labels / confident_joint); got None"
            )
    cj = None
    if confident_joint is not None:
        cj = np.asarray(confident_joint, dtype=np.float64)
        if cj.ndim != 2 or cj.shape[0] != cj.shape[1] or not np.isfinite(cj).all():
            raise ValueError(f"confident_joint must be a finite (K, K) array; got {cj.shape}")
    n = num_examples
    if n is None:
        if labels is not None:
            n = len(labels)  # type: ignore[arg-type]
        elif cj is not None:
            n = int(cj.sum())
    if n is None or int(n) < 1:
        raise ValueError(f"num_examples must be a positive integer (or give labels); got {n}")
    if joint is not None:
        return j, int(n)
    if cj is None and (labels is None or pred_probs is None):
        raise ValueError(
            "labels and pred_probs (or joint, or confident_joint) must be given; got neither"
        )
    if labels is None:
        assert cj is not None
        return cj / max(float(cj.sum()), 1e-100), int(n)
    if pred_probs is None:
        assert cj is not None
        y = np.asarray(labels)
        if y.ndim != 1 or y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= len(cj):
            raise ValueError(f"labels must be 1-D integers in [0, {len(cj)}); got {y.dtype}")
        cal = _calibrate(cj, _class_counts(y.astype(np.int64), len(cj)))
        return cal / max(float(cal.sum()), 1e-100), int(n)
    y, p, sc = check_inputs_sc(labels, pred_probs)
    if cj is None:
        cal, _ = _compute_confident_joint(y, p, sc=sc)
    else:
        if cj.shape != (p.shape[1], p.shape[1]):
            raise ValueError(
                f"confident_joint must have shape ({p.shape[1]}, {p.shape[1]}); got {cj.shape}"
            )
        cal = _calibrate(cj, _class_counts(y, p.shape[1]))
    return cal / max(float(cal.sum()), 1e-100), int(n)


def rank_classes_by_label_quality(
    labels: np.ndarray | None = None,
    pred_probs: np.ndarray | None = None,
    *,
    class_names: list[str] | None = None,
    num_examples: int | None = None,
    joint: np.ndarray | None = None,
    confident_joint: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per class, worst label quality first.

    Columns: ``Class Index``, ``Label Issues`` (``N * P(given=k, true!=k)``, rounded),
    ``Inverse Label Issues`` (``N * P(given!=k, true=k)``), ``Label Noise``
    (``P(true!=k | given=k)``), ``Inverse Label Noise`` (``P(given!=k | true=k)``) and
    ``Label Quality Score`` (``1 - Label Noise``); ``Class Name`` first if ``class_names``.
    """
    j, n = _joint_and_n(labels, pred_probs, joint, confident_joint, num_examples)
    d = j.diagonal()
    given, true = j.sum(axis=1) - d, j.sum(axis=0) - d
    given_noise = given / np.clip(j.sum(axis=1), _EPSILON, None)
    df = pd.DataFrame(
        {
            "Class Index": np.arange(len(j)),
            "Label Issues": (given * n).round().astype(int),
            "Inverse Label Issues": (true * n).round().astype(int),
            "Label Noise": given_noise,
            "Inverse Label Noise": true / np.clip(j.sum(axis=0), _EPSILON, None),
            "Label Quality Score": 1 - given_noise,
        }
    )
    if class_names is not None:
        df.insert(0, "Class Name", _names(class_names, len(j)))
    return df.sort_values(by="Label Quality Score", ascending=True).reset_index(drop=True)


def _names(class_names: list[str], k: int) -> list[str]:
    names = list(class_names)
    if len(names) != k:
        raise ValueError(f"class_names must have {k} entries; got {len(names)}")
    return names


def find_overlapping_classes(
    labels: np.ndarray | None = None,
    pred_probs: np.ndarray | None = None,
    *,
    asymmetric: bool = False,
    class_names: list[str] | None = None,
    num_examples: int | None = None,
    joint: np.ndarray | None = None,
    confident_joint: np.ndarray | None = None,
) -> pd.DataFrame:
    """Class pairs most often confused, by joint probability, highest first.

    Symmetric (default): one row per pair ``A < B`` with ``P(A, B) + P(B, A)``; with
    ``asymmetric=True`` one row per ordered pair ``(given A, true B)``. Columns:
    ``Class Index A``, ``Class Index B``, ``Num Overlapping Examples``, ``Joint Probability``
    (``Class Name A`` / ``B`` first if ``class_names``).
    """
    j, n = _joint_and_n(labels, pred_probs, joint, confident_joint, num_examples)
    k = len(j)
    a, b = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    if asymmetric:
        keep, vals = a != b, j
    else:
        keep, vals = a < b, np.triu(j) + np.tril(j).T
    df = pd.DataFrame(
        {
            "Class Index A": a[keep],
            "Class Index B": b[keep],
            "Num Overlapping Examples": (vals[keep] * n).round().astype(int),
            "Joint Probability": vals[keep],
        }
    )
    if class_names is not None:
        names = np.asarray(_names(class_names, k), dtype=object)
        df.insert(0, "Class Name A", names[df["Class Index A"].to_numpy()])
        df.insert(1, "Class Name B", names[df["Class Index B"].to_numpy()])
    return df.sort_values(by="Joint Probability", ascending=False).reset_index(drop=True)


def overall_label_health_score(
    labels: np.ndarray | None = None,
    pred_probs: np.ndarray | None = None,
    *,
    num_examples: int | None = None,
    confident_joint: np.ndarray | None = None,
    joint: np.ndarray | None = None,
) -> float:
    """Fraction of labels estimated correct, in ``[0, 1]``.

    With ``labels`` and ``pred_probs``: ``1 - num_label_issues / N`` (a given
    ``confident_joint`` is ignored there, as in cleanlab, which warns); otherwise the trace of
    the joint.
    """
    if labels is not None and pred_probs is not None:
        y, p, sc = check_inputs_sc(labels, pred_probs)
        n = len(y) if num_examples is None else int(num_examples)
        if n < 1:
            raise ValueError(f"num_examples must be a positive integer; got {n}")
        return float(1 - _num_label_issues(y, p, sc) / n)
    j, _ = _joint_and_n(labels, pred_probs, joint, confident_joint, num_examples)
    return float(j.trace())


def health_summary(
    labels: np.ndarray | None = None,
    pred_probs: np.ndarray | None = None,
    *,
    asymmetric: bool = False,
    class_names: list[str] | None = None,
    num_examples: int | None = None,
    joint: np.ndarray | None = None,
    confident_joint: np.ndarray | None = None,
) -> dict[str, Any]:
    """``{"overall_label_health_score", "joint", "classes_by_label_quality",
    "overlapping_classes"}`` (cleanlab's keys), computed from one joint."""
    j, n = _joint_and_n(labels, pred_probs, joint, confident_joint, num_examples)
    return {
        "overall_label_health_score": overall_label_health_score(
            labels, pred_probs, num_examples=n, confident_joint=confident_joint, joint=j
        ),
        "joint": j,
        "classes_by_label_quality": rank_classes_by_label_quality(
            class_names=class_names, num_examples=n, joint=j
        ),
        "overlapping_classes": find_overlapping_classes(
            asymmetric=asymmetric, class_names=class_names, num_examples=n, joint=j
        ),
    }
