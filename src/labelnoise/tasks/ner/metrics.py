"""NER metrics: entity precision / recall / F1 (seqeval strict IOB2) and token accuracy.

Entity F1 is micro-averaged over exact (span, type) matches, with entities read in seqeval's
``mode="strict", scheme=IOB2`` (``B-X I-X*``; a stray ``I-X`` is no entity), so the numbers
equal ``seqeval.metrics.f1_score(y_true, y_pred, mode="strict", scheme=IOB2)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from labelnoise.common.noise.spans import bio_spans

__all__ = ["entity_scores", "token_accuracy"]


def entity_scores(
    true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]
) -> dict[str, float]:
    """Micro entity ``precision``, ``recall``, ``f1`` over sentences (0 when undefined,
    as seqeval)."""
    if len(true_tags) != len(pred_tags):
        raise ValueError(
            f"pred_tags must have one sequence per sentence ({len(true_tags)}); got {len(pred_tags)}"
        )
    tp = n_true = n_pred = 0
    for i, (t, p) in enumerate(zip(true_tags, pred_tags, strict=True)):
        if len(t) != len(p):
            raise ValueError(f"sentence {i}: pred_tags must have length {len(t)}; got {len(p)}")
        st, sp = set(bio_spans(t)), set(bio_spans(p))
        tp += len(st & sp)
        n_true += len(st)
        n_pred += len(sp)
    prec = tp / n_pred if n_pred else 0.0
    rec = tp / n_true if n_true else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": prec, "recall": rec, "f1": f1}


def token_accuracy(true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> float:
    """Fraction of tokens whose predicted tag equals the true tag."""
    total = sum(len(t) for t in true_tags)
    correct = sum(a == b for t, p in zip(true_tags, pred_tags, strict=True) for a, b in zip(t, p))
    return correct / total if total else float("nan")
