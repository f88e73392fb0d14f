"""Shared plumbing of the aggregators: input checks, id encoding, the estimator surface.

Every aggregator takes either three equal-length array-likes ``fit(item, annotator, label)``
or one long table ``fit(df)`` with crowd-kit's ``task, worker, label`` columns. Ids are
encoded once (items and classes sorted, so results do not depend on row order); the
algorithms work on integer codes and the base class turns their arrays back into pandas
objects indexed by item id, as crowd-kit does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from labelnoise.common.transition import TransitionMatrix

__all__ = ["Answers", "CategoricalAggregator", "NumericAggregator", "encode_answers"]

COLUMNS = ("task", "worker", "label")


@dataclass(frozen=True)
class Answers:
    """Encoded crowd answers: ``n`` rows of integer codes plus the id tables.

    Attributes:
        item, annotator: ``(n,)`` int64 codes into ``items`` / ``annotators``.
        label: ``(n,)`` int64 class codes into ``classes`` (categorical) or float64 values.
        items, annotators: sorted unique ids (``pd.Index``).
        classes: sorted unique labels (categorical) or ``None`` (numeric).
    """

    item: np.ndarray
    annotator: np.ndarray
    label: np.ndarray
    items: pd.Index
    annotators: pd.Index
    classes: np.ndarray | None

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_annotators(self) -> int:
        return len(self.annotators)

    @property
    def n_classes(self) -> int:
        return 0 if self.classes is None else len(self.classes)

    @property
    def categories(self) -> np.ndarray:
        """``classes`` of categorical answers (numeric answers have none)."""
        if self.classes is None:
            raise ValueError("answers must be categorical here; got numeric ones (no classes)")
        return self.classes

    def pair_matrix(self) -> sp.csr_matrix:
        """``(N, A*C)`` counts of (annotator, answered class) pairs per item."""
        c = self.n_classes
        ones = np.ones(len(self.item), dtype=np.float64)
        return sp.csr_matrix(
            (ones, (self.item, self.annotator * c + self.label)),
            shape=(self.n_items, self.n_annotators * c),
        )


def _column(name: str, values: Any) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {arr.shape}")
    return pd.Series(arr)


def _factorize(name: str, s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    if isinstance(s.dtype, pd.CategoricalDtype):
        unused = s.cat.categories.difference(pd.Index(s.dropna().unique()))
        if len(unused):
            raise ValueError(
                f"every {name} must have at least one answer; got {len(unused)} {name}(s) "
                f"with no answers, e.g. {unused[0]!r}"
            )
        s = s.astype(s.cat.categories.dtype)
    try:
        codes, uniques = pd.factorize(s, sort=True)
    except TypeError:  # mixed id types that cannot be ordered
        codes, uniques = pd.factorize(s.astype(str), sort=True)
    return codes.astype(np.int64), pd.Index(uniques, name=name)


def _first_missing(name: str, s: pd.Series) -> None:
    na = s.isna().to_numpy()
    if na.any():
        pos = int(np.flatnonzero(na)[0])
        raise ValueError(
            f"{name} must not contain missing values (NaN/None); got {int(na.sum())} missing, "
            f"first at row {pos}"
        )


def encode_answers(
    item: Any, annotator: Any = None, label: Any = None, *, numeric: bool = False
) -> Answers:
    """Validate and encode crowd answers (see the module docstring for the accepted forms).

    Raises:
        ValueError: missing columns, different lengths, no rows, missing ids or labels,
            non-numeric values for a numeric aggregator.
    """
    if annotator is None and label is None:
        if not isinstance(item, pd.DataFrame):
            raise ValueError(
                "fit takes (item, annotator, label) arrays or one DataFrame with columns "
                f"task, worker, label; got a single {type(item).__name__}"
            )
        missing = [c for c in COLUMNS if c not in item.columns]
        if missing:
            raise ValueError(
                f"data must have columns task, worker, label; got {list(item.columns)} "
                f"(missing {missing})"
            )
        item, annotator, label = item["task"], item["worker"], item["label"]
    elif annotator is None or label is None:
        raise ValueError("annotator and label must both be given with item; got only one")
    cols = {
        n: _column(n, v) for n, v in (("item", item), ("annotator", annotator), ("label", label))
    }
    lengths = {n: len(v) for n, v in cols.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"item, annotator and label must have the same length; got {lengths}")
    if lengths["item"] == 0:
        raise ValueError("answers must not be empty; got 0 rows")
    for n, s in cols.items():
        _first_missing(n, s)
    item_codes, items = _factorize("task", cols["item"])
    ann_codes, annotators = _factorize("worker", cols["annotator"])
    if numeric:
        values = pd.to_numeric(cols["label"], errors="coerce")
        bad = values.isna().to_numpy() | ~np.isfinite(values.to_numpy(dtype=np.float64))
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"label must be finite numbers for a numeric aggregator; got "
                f"{cols['label'].iloc[pos]!r} at row {pos}"
            )
        return Answers(item_codes, ann_codes, values.to_numpy(np.float64), items, annotators, None)
    label_codes, classes = _factorize("label", cols["label"])
    return Answers(item_codes, ann_codes, label_codes, items, annotators, classes.to_numpy())


class CategoricalAggregator:
    """Base of the categorical aggregators (sklearn-like; fitted state ends in ``_``).

    After ``fit``: ``probas_`` ``(N, C)`` DataFrame (index ``task``, columns ``label``),
    ``labels_`` Series of the argmax class (exact ties go to the smallest class; crowd-kit
    leaves them to its column order), ``classes_``, ``annotators_``, and where the model
    has them ``skills_`` (Series per annotator) and ``confusions_`` (``TransitionMatrix``
    ``(A, C, C)``, ``T[a, i, j] = P(annotator a says j | true i)``). When every answer is the
    same class, that class gets probability 1 and every skill is 1 (no model is fitted).
    """

    def fit(self, item: Any, annotator: Any = None, label: Any = None, **kwargs: Any) -> Self:
        """Fit on ``(item, annotator, label)`` arrays or a ``task, worker, label`` table."""
        answers = encode_answers(item, annotator, label)
        if answers.n_classes == 1:  # nothing to infer: every answer is the same class
            probas = np.ones((answers.n_items, 1))
            self._set_skills(answers, np.ones(answers.n_annotators))
        else:
            probas = self._fit(answers, **kwargs)
        self.classes_ = answers.categories
        self.annotators_ = answers.annotators
        self.probas_ = pd.DataFrame(
            probas, index=answers.items, columns=pd.Index(answers.categories, name="label")
        )
        self.labels_ = pd.Series(
            answers.categories[probas.argmax(1)], index=answers.items, name="agg_label"
        )
        return self

    def fit_predict(
        self, item: Any, annotator: Any = None, label: Any = None, **kwargs: Any
    ) -> pd.Series:
        """``fit`` and return ``labels_`` (Series indexed by item id)."""
        return self.fit(item, annotator, label, **kwargs).labels_

    def fit_predict_proba(
        self, item: Any, annotator: Any = None, label: Any = None, **kwargs: Any
    ) -> pd.DataFrame:
        """``fit`` and return ``probas_`` (items x classes DataFrame)."""
        return self.fit(item, annotator, label, **kwargs).probas_

    def _fit(self, answers: Answers) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _set_skills(self, answers: Answers, skills: np.ndarray) -> None:
        self.skills_ = pd.Series(skills, index=answers.annotators, name="skill")

    def _set_confusions(self, errors: np.ndarray) -> None:
        """``errors[a, observed, true]`` (crowd-kit's column convention) -> ``confusions_``."""
        t = errors.transpose(0, 2, 1)
        self.confusions_ = TransitionMatrix(t / t.sum(-1, keepdims=True), atol=1e-6)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({params})"


def majority_probas(answers: Answers, weights: np.ndarray | None = None) -> np.ndarray:
    """``(N, C)`` share of (weighted) votes per class; ``weights`` per annotator."""
    n, c = answers.n_items, answers.n_classes
    w = None if weights is None else weights[answers.annotator]
    votes = np.bincount(answers.item * c + answers.label, weights=w, minlength=n * c)
    votes = votes.reshape(n, c).astype(np.float64)
    total = votes.sum(1, keepdims=True)
    return np.divide(votes, total, out=np.full_like(votes, 1.0 / c), where=total > 0)


def annotator_accuracy(answers: Answers, probas: np.ndarray) -> np.ndarray:
    """``(A,)`` share of each annotator's answers equal to the argmax label of ``probas``."""
    hit = (probas.argmax(1)[answers.item] == answers.label).astype(np.float64)
    a = answers.n_annotators
    return np.bincount(answers.annotator, weights=hit, minlength=a) / np.bincount(
        answers.annotator, minlength=a
    )


class NumericAggregator:
    """Base of the numeric aggregators: ``labels_`` is the float estimate per item."""

    def fit(self, item: Any, annotator: Any = None, label: Any = None) -> Self:
        """Fit on ``(item, annotator, value)`` arrays or a ``task, worker, label`` table."""
        answers = encode_answers(item, annotator, label, numeric=True)
        estimate = self._fit(answers)
        self.annotators_ = answers.annotators
        self.labels_ = pd.Series(estimate, index=answers.items, name="agg_label")
        n = np.bincount(answers.item, minlength=answers.n_items)
        resid = (answers.label - estimate[answers.item]) ** 2
        var = np.bincount(answers.item, weights=resid, minlength=answers.n_items) / n
        self.stderr_ = pd.Series(np.sqrt(var / n), index=answers.items, name="stderr")
        return self

    def fit_predict(self, item: Any, annotator: Any = None, label: Any = None) -> pd.Series:
        """``fit`` and return ``labels_`` (float Series indexed by item id)."""
        return self.fit(item, annotator, label).labels_

    def _fit(self, answers: Answers) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({params})"
