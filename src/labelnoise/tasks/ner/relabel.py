"""Confident token relabelling for NER.

Confident-learning thresholds (Northcutt, Jiang & Chuang, JAIR 2021): class ``j``'s threshold
``t_j`` is the mean predicted probability of ``j`` over the tokens labelled ``j``. A token
labelled ``y`` whose predicted class ``k != y`` has ``p_k >= max(t_k, min_confidence)`` is
confidently mislabelled and takes the label ``k``; the sentence is then repaired to valid IOB2.
Used between epochs, this is self-training on confident tokens (BOND, Liang et al., KDD 2020),
applied to the *original* noisy labels each time so corrections never compound.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labelnoise.common._checks import check_rate
from labelnoise.tasks.ner.schemes import to_iob2

__all__ = ["class_thresholds", "relabel_tokens"]


def class_thresholds(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """``(C,)`` mean ``probs[:, j]`` over units labelled ``j`` (1.0 for absent classes)."""
    c = probs.shape[1]
    sums = np.bincount(labels, weights=probs[np.arange(len(labels)), labels], minlength=c)
    counts = np.bincount(labels, minlength=c)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 1.0)


def relabel_tokens(
    tags: Sequence[Sequence[str]],
    probs: Sequence[np.ndarray],
    class_names: Sequence[str],
    *,
    min_confidence: float = 0.5,
) -> tuple[list[list[str]], int]:
    """Relabel confidently mislabelled tokens.

    Args:
        tags: ``(S,)`` IOB2 tag lists (the given, noisy labels).
        probs: ``(S,)`` arrays ``(n_words, C)`` of predicted probabilities over ``class_names``.
        min_confidence: floor of every class threshold, in ``[0, 1]``.

    Returns:
        ``(new_tags, n_changed)``: valid IOB2 tags and the number of tokens changed.
    """
    check_rate("min_confidence", min_confidence, high_inclusive=True)
    if len(tags) != len(probs):
        raise ValueError(f"probs must have one array per sentence ({len(tags)}); got {len(probs)}")
    index = {n: i for i, n in enumerate(class_names)}
    labels = np.array([index[t] for s in tags for t in s])
    flat = np.concatenate([np.asarray(p) for p in probs]) if len(probs) else np.zeros((0, 1))
    if flat.shape != (len(labels), len(class_names)):
        raise ValueError(
            f"probs must stack to ({len(labels)}, {len(class_names)}); got {flat.shape}"
        )
    thr = np.maximum(class_thresholds(labels, flat), min_confidence)
    pred = flat.argmax(1)
    flip = (pred != labels) & (flat[np.arange(len(labels)), pred] >= thr[pred])
    new = np.where(flip, pred, labels)
    out, k, changed = [], 0, 0
    for s in tags:
        sent = to_iob2([class_names[j] for j in new[k : k + len(s)]])
        changed += sum(a != b for a, b in zip(sent, s, strict=True))
        out.append(sent)
        k += len(s)
    return out, changed
