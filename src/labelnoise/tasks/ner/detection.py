"""NER label-issue detection: token, span and sentence scores, and what the model suggests.

Token scores are the core's label-quality scores (:func:`labelnoise.common.detection.
get_label_quality_scores`, cleanlab semantics, higher = cleaner) on the word units; a
sentence's score reduces its tokens with ``min`` or ``softmin``
(:func:`labelnoise.common.units.reduce_units`), as ``cleanlab.token_classification`` does
(Wang & Mueller, "Detecting Label Errors in Token Classification Data", 2022). Spans: every
given entity, and every predicted entity that overlaps no given one (a likely *missing*
entity), scored by the minimum token quality inside it, with the model's tags as suggestion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from labelnoise.common.detection import get_label_quality_scores
from labelnoise.common.units import reduce_units
from labelnoise.tasks.ner.schemes import bio_spans, to_iob2

__all__ = ["NERIssues", "SpanIssue", "ner_label_issues"]


@dataclass(frozen=True)
class SpanIssue:
    """One suspect entity.

    Attributes:
        sentence, start, end: the span (``end`` exclusive) in word positions.
        given: the given tags of the span (``O``s for a missing entity).
        suggested: the model's tags over the span.
        kind: ``given`` (a labelled entity) or ``missing`` (predicted, not labelled).
        quality: minimum token quality inside the span (lower = more suspect).
    """

    sentence: int
    start: int
    end: int
    given: tuple[str, ...]
    suggested: tuple[str, ...]
    kind: Literal["given", "missing"]
    quality: float


@dataclass(frozen=True)
class NERIssues:
    """Scores of :func:`ner_label_issues`.

    Attributes:
        token_quality: ``(S,)`` arrays ``(n_words,)`` in ``[0, 1]``.
        sentence_quality: ``(S,)``.
        spans: suspect spans, most suspect first.
    """

    token_quality: list[np.ndarray]
    sentence_quality: np.ndarray
    spans: list[SpanIssue]


def ner_label_issues(
    tags: Sequence[Sequence[str]],
    probs: Sequence[np.ndarray],
    class_names: Sequence[str],
    *,
    token_method: Literal[
        "self_confidence", "normalized_margin", "confidence_weighted_entropy"
    ] = "normalized_margin",
    adjust_pred_probs: bool = False,
    sentence_reduce: Literal["min", "softmin"] = "min",
    temperature: float = 0.05,
) -> NERIssues:
    """Score the given IOB2 ``tags`` against predicted ``probs``.

    Args:
        tags: ``(S,)`` given IOB2 tag lists.
        probs: ``(S,)`` arrays ``(n_words, C)`` over ``class_names`` (out-of-sample if possible).
        token_method / adjust_pred_probs: passed to the core's ``get_label_quality_scores``;
            ``normalized_margin`` (default) beat cleanlab.token_classification's
            ``self_confidence`` on NoiseBench crowd and llm (benchmarks/ner_noisebench.py).
        sentence_reduce: ``min`` or ``softmin`` (with ``temperature``, default 0.05 as cleanlab) over a sentence's tokens.
    """
    if len(tags) != len(probs):
        raise ValueError(f"probs must have one array per sentence ({len(tags)}); got {len(probs)}")
    if sentence_reduce not in ("min", "softmin"):
        raise ValueError(f"sentence_reduce must be 'min' or 'softmin'; got {sentence_reduce!r}")
    index = {n: i for i, n in enumerate(class_names)}
    lengths = [len(s) for s in tags]
    labels = np.array([index[t] for s in tags for t in s], dtype=np.int64)
    flat = np.concatenate([np.asarray(p, dtype=np.float64) for p in probs])
    if flat.shape != (len(labels), len(class_names)):
        raise ValueError(
            f"probs must stack to ({len(labels)}, {len(class_names)}); got {flat.shape}"
        )
    q = get_label_quality_scores(
        labels, flat, method=token_method, adjust_pred_probs=adjust_pred_probs
    )
    eid = torch.repeat_interleave(torch.arange(len(tags)), torch.tensor(lengths))
    _, sent_q = reduce_units(torch.from_numpy(q), eid, how=sentence_reduce, temperature=temperature)
    bounds = np.cumsum([0, *lengths])
    token_q = [q[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    pred = flat.argmax(1)
    spans: list[SpanIssue] = []
    for s, given in enumerate(tags):
        sugg = to_iob2([class_names[j] for j in pred[bounds[s] : bounds[s + 1]]])
        given_spans = bio_spans(given)
        covered = np.zeros(len(given), dtype=bool)
        for a, b, _ in given_spans:
            covered[a:b] = True
            spans.append(_issue(s, a, b, given, sugg, "given", token_q[s]))
        for a, b, _ in bio_spans(sugg):
            if not covered[a:b].any():
                spans.append(_issue(s, a, b, given, sugg, "missing", token_q[s]))
    spans.sort(key=lambda x: x.quality)
    return NERIssues(token_q, sent_q.numpy(), spans)


def _issue(s, a, b, given, sugg, kind, q) -> SpanIssue:
    return SpanIssue(s, a, b, tuple(given[a:b]), tuple(sugg[a:b]), kind, float(q[a:b].min()))
