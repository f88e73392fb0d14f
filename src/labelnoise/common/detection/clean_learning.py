"""CleanLearning: out-of-sample probabilities -> label issues -> refit on the rest.

cleanlab 2.9's ``cleanlab.classification.CleanLearning`` for any sklearn-style classifier
(``fit`` / ``predict_proba`` / ``predict``, clonable with ``sklearn.base.clone``), after
Northcutt, Jiang & Chuang, "Confident Learning: Estimating Uncertainty in Dataset Labels"
(JAIR 2021):

1. ``cv_n_folds``-fold out-of-sample ``pred_probs (N, K)``: ``StratifiedKFold(shuffle=True,
   random_state=seed)``, a fresh clone of ``clf`` per fold; a class absent from a training
   fold gets one of its held-out examples copied in (that example's prediction is then
   one-hot), as cleanlab does.
2. The calibrated confident joint and the latent estimates (``py``, ``noise_matrix``,
   ``inverse_noise_matrix``; :func:`estimate_latent`), then :func:`find_label_issues` with
   that joint and ``min_examples_per_class=10`` (cleanlab's defaults), and
   :func:`get_label_quality_scores`.
3. ``clf`` is fitted on the examples not flagged, each weighted ``1 / max(noise_matrix[k, k],
   0.001)`` for its class ``k`` when ``clf.fit`` takes ``sample_weight``.

Same fitted model, issues and scores as cleanlab's given the same ``seed`` (see the tests).
Simplified: ``validation_func`` and ``low_memory`` are not offered, ``K`` is
``pred_probs.shape[1]`` or ``max(labels) + 1`` (cleanlab counts the distinct labels), and the
issues table is a pandas DataFrame with cleanlab's columns (``is_label_issue``,
``label_quality``, ``given_label``, ``predicted_label``, ``sample_weight`` after ``fit``).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from labelnoise.common.detection._validate import _as_labels, check_inputs
from labelnoise.common.detection.confident_joint import _class_counts, _compute_confident_joint
from labelnoise.common.detection.filter import find_label_issues
from labelnoise.common.detection.latent import _clip_noise_rates, _clip_prior, _estimate_latent
from labelnoise.common.detection.quality import get_label_quality_scores

__all__ = ["CleanLearning", "cv_pred_probs"]

_TINY = 1e-100
_UNSUPPORTED = ("return_indices_ranked_by", "multi_label")


def _rows(x: Any, idx: np.ndarray) -> Any:
    if hasattr(x, "iloc"):
        return x.iloc[idx]
    return x[idx] if hasattr(x, "shape") else [x[i] for i in idx]


def _len(x: Any) -> int:
    return int(x.shape[0]) if hasattr(x, "shape") else len(x)


def cv_pred_probs(
    clf: Any,
    x: Any,
    labels: np.ndarray,
    num_classes: int,
    *,
    cv_n_folds: int = 5,
    seed: int | None = None,
    clf_kwargs: dict | None = None,
) -> np.ndarray:
    """``(N, K)`` out-of-sample probabilities by stratified K-fold (cleanlab's folds)."""
    kf = StratifiedKFold(n_splits=cv_n_folds, shuffle=True, random_state=seed)
    out = np.zeros((labels.shape[0], num_classes))
    for train_idx, hold_idx in kf.split(X=labels, y=labels):
        extra: dict[int, int] = {}  # missing class -> position in the held-out fold
        for c in sorted(set(range(num_classes)) - set(labels[train_idx].tolist())):
            extra[c] = int(np.flatnonzero(labels[hold_idx] == c)[0])
        fit_idx = np.append(train_idx, hold_idx[list(extra.values())]).astype(np.int64)
        model = clone(clf)
        model.fit(_rows(x, fit_idx), labels[fit_idx], **(clf_kwargs or {}))
        p = np.asarray(model.predict_proba(_rows(x, hold_idx)), dtype=np.float64)
        for c, pos in extra.items():
            p[pos] = 0.0
            p[pos, c] = 1.0
        out[hold_idx] = p
    return out


class CleanLearning:
    """Wrap ``clf`` to find label issues by cross-validation and train on the rest.

    Args:
        clf: an sklearn-style classifier (default ``LogisticRegression(solver="lbfgs")``).
        seed: seed of the fold shuffle (``None``: numpy's global state, as in sklearn).
        cv_n_folds: folds of the out-of-sample predictions (default 5, >= 2).
        converge_latent_estimates: make ``py`` and the noise matrices consistent.
        pulearning: for ``K = 2``, the class ``0`` or ``1`` with no label errors (PU learning).
        find_label_issues_kwargs: passed to :func:`find_label_issues` (default
            ``min_examples_per_class=10``).
        label_quality_scores_kwargs: passed to :func:`get_label_quality_scores`.
    """

    def __init__(
        self,
        clf: Any = None,
        *,
        seed: int | None = None,
        cv_n_folds: int = 5,
        converge_latent_estimates: bool = False,
        pulearning: int | None = None,
        find_label_issues_kwargs: dict | None = None,
        label_quality_scores_kwargs: dict | None = None,
    ) -> None:
        if clf is None:
            from sklearn.linear_model import LogisticRegression

            clf = LogisticRegression(solver="lbfgs")
        for attr in ("fit", "predict_proba", "predict"):
            if not hasattr(clf, attr):
                raise ValueError(f"clf must define .{attr}(); got {type(clf).__name__}")
        if isinstance(cv_n_folds, bool) or not isinstance(cv_n_folds, int) or cv_n_folds < 2:
            raise ValueError(f"cv_n_folds must be an integer >= 2; got {cv_n_folds!r}")
        if pulearning not in (None, 0, 1):
            raise ValueError(f"pulearning must be None, 0 or 1; got {pulearning!r}")
        kw = {"min_examples_per_class": 10, **(find_label_issues_kwargs or {})}
        bad = [k for k in _UNSUPPORTED if k in kw]
        if bad:
            raise ValueError(f"find_label_issues_kwargs must not set {', '.join(bad)}; got them")
        self.clf, self.seed, self.cv_n_folds = clf, seed, cv_n_folds
        self.converge_latent_estimates, self.pulearning = converge_latent_estimates, pulearning
        self.find_label_issues_kwargs = kw
        self.label_quality_scores_kwargs = dict(label_quality_scores_kwargs or {})
        self.label_issues_df: pd.DataFrame | None = None
        self.confident_joint: np.ndarray | None = kw.get("confident_joint")
        self.py: np.ndarray | None = None
        self.ps: np.ndarray | None = None
        self.noise_matrix: np.ndarray | None = None
        self.inverse_noise_matrix: np.ndarray | None = None
        self.num_classes: int | None = None

    def _labels(self, x: Any, labels: object, pred_probs: object) -> tuple[np.ndarray, Any]:
        if labels is None:
            raise ValueError("labels must be given; got None")
        if pred_probs is not None:
            y, p = check_inputs(labels, pred_probs)
        else:
            y, p = _as_labels("labels", labels), None
            if y.ndim != 1 or y.size == 0 or y.min() < 0:
                raise ValueError(f"labels must be (N,) class ids >= 0; got shape {y.shape}")
        if x is not None and _len(x) != y.shape[0]:
            raise ValueError(f"X must have {y.shape[0]} rows like labels; got {_len(x)}")
        return y, p

    def find_label_issues(
        self,
        X: Any = None,
        labels: object = None,
        *,
        pred_probs: np.ndarray | None = None,
        thresholds: np.ndarray | None = None,
        noise_matrix: np.ndarray | None = None,
        inverse_noise_matrix: np.ndarray | None = None,
        save_space: bool = False,
        clf_kwargs: dict | None = None,
    ) -> pd.DataFrame:
        """Issues table ``(N rows)`` of ``X`` with ``labels (N,)`` (see the module docstring).

        ``pred_probs (N, K)`` skips the cross-validation; ``noise_matrix`` /
        ``inverse_noise_matrix`` ``(K, K)`` (column-stochastic, trace > 1) replace the
        estimates used for the final sample weights.
        """
        y, p = self._labels(X, labels, pred_probs)
        if p is None and X is None:
            raise ValueError("X must be given when pred_probs is None; got neither")
        for name, m in (
            ("noise_matrix", noise_matrix),
            ("inverse_noise_matrix", inverse_noise_matrix),
        ):
            if m is not None and np.trace(m) <= 1:
                raise ValueError(f"trace({name}) must exceed 1; got {np.trace(m):.2f}")
        given = noise_matrix if noise_matrix is not None else inverse_noise_matrix
        k = (
            p.shape[1]
            if p is not None
            else (given.shape[0] if given is not None else int(y.max()) + 1)
        )
        if p is None and y.shape[0] / k < self.cv_n_folds:
            raise ValueError(
                f"cv_n_folds must be at most N / K = {y.shape[0] / k:.3g}; got {self.cv_n_folds}"
            )
        self.num_classes = k
        self.ps = _class_counts(y, k) / float(y.shape[0])
        if self.confident_joint is not None:
            self.py, noise_matrix, _ = _estimate_latent(
                np.asarray(self.confident_joint, float), y, "cnt", False
            )
        if noise_matrix is not None:
            self.noise_matrix = np.asarray(noise_matrix, float)
            if inverse_noise_matrix is None:
                py = _clip_prior(np.linalg.inv(self.noise_matrix) @ self.ps, 1e-6)
                inv = (self.noise_matrix * py).T / np.clip(self.ps, _TINY, None)
                self.py, self.inverse_noise_matrix = py, _clip_noise_rates(inv)
        if inverse_noise_matrix is not None:
            self.inverse_noise_matrix = np.asarray(inverse_noise_matrix, float)
            if noise_matrix is None:
                joint = (self.inverse_noise_matrix * self.ps).T
                self.noise_matrix = _clip_noise_rates(joint / np.clip(joint.sum(0), _TINY, None))
        thr = None if thresholds is None else np.asarray(thresholds, float)
        if p is None:
            p = cv_pred_probs(
                self.clf, X, y, k, cv_n_folds=self.cv_n_folds, seed=self.seed, clf_kwargs=clf_kwargs
            )
        if noise_matrix is None and inverse_noise_matrix is None:
            cj, _ = _compute_confident_joint(y, p, thr, True)
            self.py, self.noise_matrix, self.inverse_noise_matrix = _estimate_latent(
                cj.astype(float), y, "cnt", self.converge_latent_estimates
            )
            self.confident_joint = cj
        if self.confident_joint is None:
            self.confident_joint = _compute_confident_joint(y, p, thr, True)[0]
        if k == 2 and self.pulearning is not None:
            pu, other = self.pulearning, 1 - self.pulearning
            assert self.noise_matrix is not None and self.inverse_noise_matrix is not None
            self.noise_matrix[pu][other], self.noise_matrix[other][other] = 0, 1
            self.inverse_noise_matrix[other][pu], self.inverse_noise_matrix[pu][pu] = 0, 1
            self.confident_joint[pu][other], self.confident_joint[other][other] = 0, 1
        kw = dict(self.find_label_issues_kwargs)
        if "confident_joint" not in kw and kw.get("filter_by") != "confident_learning":
            kw["confident_joint"] = self.confident_joint
        mask = find_label_issues(y, p, **kw)
        quality = get_label_quality_scores(y, p, **self.label_quality_scores_kwargs)
        df = pd.DataFrame(
            {
                "is_label_issue": mask,
                "label_quality": quality,
                "given_label": y,
                "predicted_label": p.argmax(axis=1),
            }
        )
        if not save_space:
            self.label_issues_df = df
        return df

    def fit(
        self,
        X: Any,
        labels: object = None,
        *,
        pred_probs: np.ndarray | None = None,
        thresholds: np.ndarray | None = None,
        noise_matrix: np.ndarray | None = None,
        inverse_noise_matrix: np.ndarray | None = None,
        label_issues: pd.DataFrame | np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        clf_kwargs: dict | None = None,
        clf_final_kwargs: dict | None = None,
    ) -> CleanLearning:
        """Find the issues (unless ``label_issues`` is given: a DataFrame with
        ``is_label_issue``, a bool mask ``(N,)`` or issue indices), then fit ``clf`` on the
        rest; returns ``self``."""
        clf_kwargs = dict(clf_kwargs or {})
        if "sample_weight" in clf_kwargs:
            raise ValueError(
                "sample_weight must be given to fit() or clf_final_kwargs; got clf_kwargs"
            )
        accepts_weight = "sample_weight" in inspect.signature(self.clf.fit).parameters
        if sample_weight is not None and not accepts_weight:
            raise ValueError("sample_weight needs a clf whose fit() takes sample_weight")
        final = {**clf_kwargs, **(clf_final_kwargs or {})}
        if label_issues is None:
            df = self.find_label_issues(
                X,
                labels,
                pred_probs=pred_probs,
                thresholds=thresholds,
                noise_matrix=noise_matrix,
                inverse_noise_matrix=inverse_noise_matrix,
                clf_kwargs=clf_kwargs,
            )
            y = df["given_label"].to_numpy()
        else:
            y, p = self._labels(X, labels, pred_probs)
            df = _issues_frame(label_issues, y)
            if "label_quality" not in df.columns and p is not None:
                df["label_quality"] = get_label_quality_scores(
                    y, p, **self.label_quality_scores_kwargs
                )
            self.num_classes = self.num_classes or (
                p.shape[1] if p is not None else int(y.max()) + 1
            )
        keep = ~df["is_label_issue"].to_numpy(dtype=bool)
        y_keep = y[keep]
        if sample_weight is not None and "sample_weight" not in final:
            final["sample_weight"] = np.asarray(sample_weight)[keep]
        elif accepts_weight and "sample_weight" not in final and self.noise_matrix is not None:
            w_class = 1.0 / np.maximum(np.diagonal(self.noise_matrix), 0.001)
            w = w_class[y_keep]
            full = np.zeros(y.shape[0])
            full[keep] = w
            df["sample_weight"] = full
            final["sample_weight"] = w
        self.label_issues_df = df
        self.clf.fit(_rows(X, np.flatnonzero(keep)), y_keep, **final)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Class predictions of the fitted ``clf``."""
        return np.asarray(self.clf.predict(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(N, K)`` probabilities of the fitted ``clf``."""
        return np.asarray(self.clf.predict_proba(X))

    def score(self, X: Any, y: Any) -> float:
        """Accuracy of :meth:`predict` on ``(X, y)``."""
        return float(np.mean(self.predict(X) == np.asarray(y)))

    def get_label_issues(self) -> pd.DataFrame | None:
        """The issues table of the last :meth:`find_label_issues` / :meth:`fit` (or None)."""
        return self.label_issues_df


def _issues_frame(label_issues: object, y: np.ndarray) -> pd.DataFrame:
    if isinstance(label_issues, pd.DataFrame):
        if "is_label_issue" not in label_issues.columns:
            raise ValueError("label_issues must have an 'is_label_issue' column; got none")
        if len(label_issues) != y.shape[0]:
            raise ValueError(f"label_issues must have {y.shape[0]} rows; got {len(label_issues)}")
        return label_issues.copy()
    arr = np.asarray(label_issues)
    if arr.dtype == bool:
        if arr.shape != y.shape:
            raise ValueError(f"label_issues mask must have shape {y.shape}; got {arr.shape}")
        return pd.DataFrame({"is_label_issue": arr})
    if arr.dtype.kind in "iu":
        if len(np.unique(arr)) != arr.size or (arr.size and (arr.min() < 0 or arr.max() >= y.size)):
            raise ValueError(f"label_issues indices must be unique and in [0, {y.size})")
        mask = np.zeros(y.shape[0], dtype=bool)
        mask[arr] = True
        return pd.DataFrame({"is_label_issue": mask})
    raise ValueError(f"label_issues must be a DataFrame, a bool mask or indices; got {arr.dtype}")
