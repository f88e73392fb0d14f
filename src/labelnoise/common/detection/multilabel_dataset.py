"""Dataset-level health of multi-label data, from the one-vs-rest label issues per class.

Thyagarajan et al. (ICLR workshop, 2023); semantics and column names of cleanlab 2.9
``multilabel_classification.dataset``. For every class ``c`` the one-vs-rest filter
(``prune_by_noise_rate``, with the class's ``(2, 2)`` confident joint when given) flags
examples; an issue with ``c`` in the given label suggests removing ``c``, one without suggests
adding it.

Differences from cleanlab: nothing is printed, and ``rank_classes_by_multilabel_quality`` uses
``confident_joint`` (cleanlab passes its ``joint`` argument there instead, a slip; pass the same
array to both to compare).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labelnoise.common.detection._validate import check_multilabel_inputs
from labelnoise.common.detection.multilabel import _find_multilabel_issues, _per_class_issues
from labelnoise.common.detection.multilabel_count import check_multilabel_joint

__all__ = [
    "common_multilabel_issues",
    "multilabel_health_summary",
    "overall_multilabel_health_score",
    "rank_classes_by_multilabel_quality",
]


def _inputs(
    labels: object, pred_probs: object, confident_joint: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    y1, p = check_multilabel_inputs(labels, pred_probs)
    cj = None
    if confident_joint is not None:
        cj = check_multilabel_joint(confident_joint, p.shape[1])
    return y1, p, cj


def common_multilabel_issues(
    labels: list | np.ndarray,
    pred_probs: np.ndarray,
    *,
    class_names: list[str] | None = None,
    confident_joint: np.ndarray | None = None,
) -> pd.DataFrame:
    """Two rows per class (``In Given Label`` True: the class should be removed; False: added),
    most frequent first: ``Class Index``, ``In Given Label``, ``In Suggested Label``,
    ``Num Examples``, ``Issue Probability`` (``Class Name`` first if ``class_names``)."""
    y1, p, cj = _inputs(labels, pred_probs, confident_joint)
    n, k = p.shape
    flags = _per_class_issues(y1, p, "prune_by_noise_rate", 1.0, None, 1, cj)
    given = (flags & (y1 == 1)).sum(axis=0)
    added = (flags & (y1 == 0)).sum(axis=0)
    counts = np.stack([given, added], axis=1).reshape(-1)
    data: dict[str, Any] = {}
    if class_names is not None:
        names = list(class_names)
        if len(names) != k:
            raise ValueError(f"class_names must have {k} entries; got {len(names)}")
        data["Class Name"] = np.repeat(np.asarray(names, dtype=object), 2)
    data["Class Index"] = np.repeat(np.arange(k), 2)
    data["In Given Label"] = np.tile([True, False], k)
    data["In Suggested Label"] = np.tile([False, True], k)
    data["Num Examples"] = counts
    data["Issue Probability"] = counts / n
    df = pd.DataFrame(data)
    return df.sort_values(by=["Issue Probability"], ascending=False).reset_index(drop=True)


def rank_classes_by_multilabel_quality(
    labels: list | np.ndarray,
    pred_probs: np.ndarray,
    *,
    class_names: list[str] | None = None,
    confident_joint: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per class, worst first: ``Class Index``, ``Label Issues``, ``Inverse Label
    Issues``, ``Label Noise``, ``Inverse Label Noise``, ``Label Quality Score`` (``1 -`` label
    noise); counts are ``int(probability * N)`` as in cleanlab."""
    y1, _, _ = _inputs(labels, pred_probs, confident_joint)
    n = y1.shape[0]
    issues = common_multilabel_issues(
        labels, pred_probs, class_names=class_names, confident_joint=confident_joint
    )
    order: list[int] = []
    rows: dict[int, dict[str, Any]] = {}
    for rec in issues.to_dict("records"):
        c = int(rec["Class Index"])
        if c not in rows:
            order.append(c)
            rows[c] = {"Class Name": rec["Class Name"]} if class_names is not None else {}
        prob = rec["Issue Probability"]
        if rec["In Given Label"]:
            rows[c].update({"Label Issues": int(prob * n), "Label Noise": prob})
            rows[c]["Label Quality Score"] = 1 - prob
        else:
            rows[c].update({"Inverse Label Issues": int(prob * n), "Inverse Label Noise": prob})
    columns = ["Class Index", "Label Issues", "Inverse Label Issues", "Label Noise"]
    columns += ["Inverse Label Noise", "Label Quality Score"]
    if class_names is not None:
        columns.insert(0, "Class Name")
    df = pd.DataFrame([{"Class Index": c, **rows[c]} for c in order])
    return df.sort_values(by="Label Quality Score", ascending=True).reset_index(drop=True)[columns]


def overall_multilabel_health_score(
    labels: list | np.ndarray,
    pred_probs: np.ndarray,
    *,
    confident_joint: np.ndarray | None = None,
) -> float:
    """``1 - (examples flagged by multi-label find_label_issues) / N``."""
    y1, p, cj = _inputs(labels, pred_probs, confident_joint)
    mask = _find_multilabel_issues(y1, p, "prune_by_noise_rate", 1.0, None, 1, None, {}, cj)
    return float(1.0 - mask.sum() / y1.shape[0])


def multilabel_health_summary(
    labels: list | np.ndarray,
    pred_probs: np.ndarray,
    *,
    class_names: list[str] | None = None,
    confident_joint: np.ndarray | None = None,
) -> dict[str, Any]:
    """``{"overall_multilabel_health_score", "classes_by_multilabel_quality",
    "common_multilabel_issues"}`` (cleanlab's keys)."""
    kw: dict[str, Any] = {"confident_joint": confident_joint}
    return {
        "overall_multilabel_health_score": overall_multilabel_health_score(
            labels, pred_probs, **kw
        ),
        "classes_by_multilabel_quality": rank_classes_by_multilabel_quality(
            labels, pred_probs, class_names=class_names, **kw
        ),
        "common_multilabel_issues": common_multilabel_issues(
            labels, pred_probs, class_names=class_names, **kw
        ),
    }
