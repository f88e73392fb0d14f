"""Confident-learning token pruning for NER: leave out-of-sample-flagged tokens out of the loss.

Confident learning (Northcutt, Jiang & Chuang, JAIR 2021) on the word units: with out-of-sample
(K-fold) probabilities, :func:`labelnoise.common.detection.find_label_issues` flags the tokens
whose given label is likely wrong; training then *ignores* them (``ignore_index``) instead of
relabelling them. Real NER noise mixes missing entities, spurious entities and type swaps
(NoiseBench, Merdjanovska et al., 2024); where the model's suggestion is itself unreliable
(LLM labels: many spurious ``MISC``/``ORG``), dropping a suspect token costs less than
trusting the suggestion. Combined with an early-learning loss on the kept tokens
(``loss: {name: elr}``, Liu et al., NeurIPS 2020) this is the benchmark's ``prune+ELR``
method (``method: ner_prune``, :mod:`labelnoise.methods.ner_prune`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from labelnoise.common.detection import find_label_issues

__all__ = ["prune_tokens"]

PruneBy = Literal[
    "prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given"
]


def prune_tokens(
    tags: Sequence[Sequence[str]],
    probs: Sequence[np.ndarray],
    class_names: Sequence[str],
    *,
    filter_by: PruneBy = "both",
) -> list[np.ndarray]:
    """Flag the tokens to leave out of training.

    Args:
        tags: ``(S,)`` given IOB2 tag lists.
        probs: ``(S,)`` arrays ``(n_words, C)`` of out-of-sample probabilities over
            ``class_names`` (K-fold cross-fitted: ``method: ner_prune``).
        filter_by: cleanlab's confident-learning rule (default ``both``: flagged by
            ``prune_by_noise_rate`` and by ``prune_by_class``, the most precise pruning rule).

    Returns:
        ``(S,)`` bool arrays ``(n_words,)``, true = left out of the loss.
    """
    if len(tags) != len(probs):
        raise ValueError(f"probs must have one array per sentence ({len(tags)}); got {len(probs)}")
    index = {n: i for i, n in enumerate(class_names)}
    unknown = sorted({t for s in tags for t in s} - set(index))
    if unknown:
        raise ValueError(f"tags must be in class_names {list(class_names)}; got {unknown}")
    labels = np.array([index[t] for s in tags for t in s], dtype=np.int64)
    flat = np.concatenate([np.asarray(p) for p in probs]) if len(probs) else np.zeros((0, 1))
    if flat.shape != (len(labels), len(class_names)):
        raise ValueError(
            f"probs must stack to ({len(labels)}, {len(class_names)}); got {flat.shape}"
        )
    issues = find_label_issues(labels, flat, filter_by=filter_by)
    return np.split(issues, np.cumsum([len(s) for s in tags])[:-1])
