"""Entity F1 and token accuracy against seqeval (strict IOB2)."""

from __future__ import annotations

import numpy as np
import pytest
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.scheme import IOB2

from labelnoise.tasks.ner.metrics import entity_scores, token_accuracy

NAMES = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


@pytest.mark.parametrize("seed", range(5))
def test_entity_scores_equal_seqeval_strict(seed):
    rng = np.random.default_rng(seed)
    true = [[NAMES[i] for i in rng.integers(0, 7, rng.integers(1, 15))] for _ in range(40)]
    pred = [[t if rng.random() < 0.7 else NAMES[rng.integers(0, 7)] for t in s] for s in true]
    got = entity_scores(true, pred)
    kw = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    assert got["f1"] == pytest.approx(f1_score(true, pred, **kw))
    assert got["precision"] == pytest.approx(precision_score(true, pred, **kw))
    assert got["recall"] == pytest.approx(recall_score(true, pred, **kw))


def test_token_accuracy_and_length_check():
    assert token_accuracy([["O", "B-PER"]], [["O", "O"]]) == 0.5
    with pytest.raises(ValueError, match="sentence 0: pred_tags must have length 2"):
        entity_scores([["O", "B-PER"]], [["O"]])
