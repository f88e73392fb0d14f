"""Token classification (NER): token label issues and per-sentence label quality.

Wang & Mueller, "Detecting Label Errors in Token Classification Data" (NeurIPS workshop
InterNLP, 2022); semantics of cleanlab 2.9 ``token_classification.filter.find_label_issues``
and ``token_classification.rank.get_label_quality_scores`` / ``issues_from_scores``.

Inputs are per-sentence lists: ``labels[i] (T_i,)`` class ids and ``pred_probs[i] (T_i, K)``.
Tokens are flattened into one ``(sum T_i, K)`` problem (sentence boundaries kept as offsets),
so every single-label option of :func:`~labelnoise.common.detection.find_label_issues` applies.
``low_memory=True`` follows cleanlab's ``find_label_issues_batched``: the issue count of the
streaming detector (confident off-diagonal tokens, ``O(K^2)`` state), then that many
lowest-quality tokens (no argmax un-flagging), returned in token order as cleanlab does.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from labelnoise.common.detection._validate import as_float_array, check_inputs
from labelnoise.common.detection.filter import find_label_issues
from labelnoise.common.detection.quality import QualityMethod, _compute_quality
from labelnoise.common.detection.segmentation import _softmin_rows
from labelnoise.common.detection.streaming import find_label_issues_streaming

__all__ = ["find_token_issues", "get_token_quality_scores", "token_issues_from_scores"]


def _flatten(labels: object, pred_probs: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(labels (T,), pred_probs (T, K), offsets (S + 1,))`` from per-sentence lists."""
    if not isinstance(labels, (list, tuple)) or not isinstance(pred_probs, (list, tuple)):
        raise ValueError(
            "labels and pred_probs must be lists with one entry per sentence; got "
            f"{type(labels).__name__} and {type(pred_probs).__name__}"
        )
    if len(labels) != len(pred_probs) or not labels:
        raise ValueError(
            f"labels and pred_probs must have the same number (>= 1) of sentences; got "
            f"{len(labels)} and {len(pred_probs)}"
        )
    lens = np.array([len(s) for s in labels], dtype=np.int64)
    probs = [as_float_array("pred_probs", p) for p in pred_probs]
    for i, (p, t) in enumerate(zip(probs, lens)):
        if p.ndim != 2 or p.shape[0] != t:
            raise ValueError(
                f"pred_probs[{i}] must have shape ({t}, K) to match labels[{i}]; got {p.shape}"
            )
    if (lens == 0).any():
        raise ValueError(f"every sentence must have >= 1 token; got 0 at {int(np.argmin(lens))}")
    y = np.concatenate([np.asarray(s) for s in labels])
    offsets = np.concatenate([[0], np.cumsum(lens)])
    return y, np.concatenate(probs), offsets


def _to_pairs(flat_idx: np.ndarray, offsets: np.ndarray) -> list[tuple[int, int]]:
    sent = np.searchsorted(offsets, flat_idx, side="right") - 1
    return list(zip(sent.tolist(), (flat_idx - offsets[sent]).tolist()))


def find_token_issues(
    labels: list,
    pred_probs: list,
    *,
    return_indices_ranked_by: QualityMethod = "self_confidence",
    low_memory: bool = False,
    **kwargs: Any,
) -> list[tuple[int, int]]:
    """``(sentence, token)`` pairs of likely label errors, most severe first.

    Args:
        labels: per-sentence lists of class ids.
        pred_probs: per-sentence ``(T_i, K)`` probabilities.
        return_indices_ranked_by: token quality used to order the issues.
        low_memory: streaming detection (``kwargs`` must then be empty).
        kwargs: passed to :func:`~labelnoise.common.detection.find_label_issues`.
    """
    y, p, offsets = _flatten(labels, pred_probs)
    if low_memory:
        if kwargs:
            raise ValueError(f"low_memory=True takes no other options; got {sorted(kwargs)}")
        if return_indices_ranked_by not in ("self_confidence", "normalized_margin"):
            raise ValueError(
                "return_indices_ranked_by must be 'self_confidence' or 'normalized_margin' "
                f"with low_memory=True; got {return_indices_ranked_by!r}"
            )
        y, p = check_inputs(y, p)
        res = find_label_issues_streaming([(y, p)], p.shape[1], keep_unit_quality=False)
        q = _compute_quality(y, p, return_indices_ranked_by)
        flat = np.sort(np.argsort(q)[: res.num_issues])  # cleanlab: in token order
    else:
        flat = find_label_issues(y, p, return_indices_ranked_by=return_indices_ranked_by, **kwargs)
    return _to_pairs(np.asarray(flat), offsets)


def _sentence_scores(
    scores: np.ndarray, offsets: np.ndarray, how: str, temperature: float
) -> np.ndarray:
    if how == "min":
        return np.minimum.reduceat(scores, offsets[:-1])
    if temperature == 0:
        return np.minimum.reduceat(scores, offsets[:-1])
    lens = np.diff(offsets)
    if np.isinf(temperature):
        return np.add.reduceat(scores, offsets[:-1]) / lens
    out = np.empty(lens.shape[0])
    for length in np.unique(lens):  # sentences of one length form a (S_l, length) block
        sent = np.flatnonzero(lens == length)
        rows = scores[offsets[sent][:, None] + np.arange(length)]
        out[sent] = _softmin_rows(rows, temperature)
    return out


def get_token_quality_scores(
    labels: list,
    pred_probs: list,
    *,
    tokens: list[list[str]] | None = None,
    token_score_method: QualityMethod = "self_confidence",
    sentence_score_method: Literal["min", "softmin"] = "min",
    sentence_score_kwargs: dict | None = None,
) -> tuple[np.ndarray, list[pd.Series]]:
    """``(sentence_scores (S,), token_info)``: per-sentence quality and, per sentence, a
    ``pd.Series`` of token scores (indexed by ``tokens[i]`` when given).

    ``sentence_score_method``: ``min`` (default) or ``softmin`` with
    ``sentence_score_kwargs["temperature"]`` (default 0.05; 0 = min, inf = mean).
    """
    if sentence_score_method not in ("min", "softmin"):
        raise ValueError(
            f"sentence_score_method must be 'min' or 'softmin'; got {sentence_score_method!r}"
        )
    t = float((sentence_score_kwargs or {}).get("temperature", 0.05))
    if not t >= 0:
        raise ValueError(f"temperature must be >= 0 (0 = min, inf = mean); got {t}")
    y, p, offsets = _flatten(labels, pred_probs)
    y, p = check_inputs(y, p)
    scores = _compute_quality(y, p, token_score_method)
    sent = _sentence_scores(scores, offsets, sentence_score_method, t)
    parts = np.split(scores, offsets[1:-1])
    if tokens:
        if len(tokens) != len(parts):
            raise ValueError(f"tokens must have {len(parts)} sentences; got {len(tokens)}")
        info = [pd.Series(s, index=tok) for s, tok in zip(parts, tokens)]
    else:
        info = [pd.Series(s) for s in parts]
    return sent, info


def token_issues_from_scores(
    sentence_scores: np.ndarray,
    *,
    token_scores: list | None = None,
    threshold: float = 0.1,
) -> list[tuple[int, int]] | np.ndarray:
    """With ``token_scores`` (per-sentence sequences): ``(sentence, token)`` pairs with score
    below ``threshold``, lowest first; otherwise the indices of sentences scoring below it,
    lowest first."""
    if token_scores:
        lens = np.array([len(s) for s in token_scores])
        flat = np.concatenate([np.asarray(s, dtype=np.float64) for s in token_scores])
        idx = np.flatnonzero(flat < threshold)
        idx = idx[np.argsort(flat[idx], kind="stable")]
        return _to_pairs(idx, np.concatenate([[0], np.cumsum(lens)]))
    s = np.asarray(sentence_scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"sentence_scores must have shape (S,); got {s.shape}")
    ranking = np.argsort(s)
    return ranking[: int(np.count_nonzero(s < threshold))]
