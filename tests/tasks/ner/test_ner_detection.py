"""NER detection: token and sentence scores equal cleanlab.token_classification; spans."""

from __future__ import annotations

import numpy as np
import pytest
from cleanlab.token_classification.rank import get_label_quality_scores

from labelnoise.tasks.ner.detection import ner_label_issues

NAMES = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _random(seed):
    rng = np.random.default_rng(seed)
    lens = rng.integers(1, 10, 30)
    probs = [rng.dirichlet(np.ones(5) * 0.3, size=n) for n in lens]
    tags = [[NAMES[i] for i in np.r_[rng.integers(0, 5, 1), p.argmax(1)[1:]]] for p in probs]
    return [_fix(t) for t in tags], probs


def _fix(tags):
    out, prev = [], "O"
    for t in tags:
        t = "B" + t[1:] if t.startswith("I-") and prev[2:] != t[2:] else t
        out.append(t)
        prev = t
    return out


@pytest.mark.parametrize("reduce", ["min", "softmin"])
def test_scores_equal_cleanlab_token_classification(reduce):
    tags, probs = _random(0)
    ids = [[NAMES.index(t) for t in s] for s in tags]
    ref_sent, ref_tok = get_label_quality_scores(ids, probs, sentence_score_method=reduce)
    got = ner_label_issues(
        tags, probs, NAMES, token_method="self_confidence", sentence_reduce=reduce
    )
    np.testing.assert_allclose(
        np.concatenate(got.token_quality), np.concatenate([np.asarray(t) for t in ref_tok])
    )
    np.testing.assert_allclose(got.sentence_quality, ref_sent, rtol=1e-6)


def test_spans_name_the_suspect_entity_and_the_suggestion():
    tags = [["B-PER", "I-PER", "O", "O"]]
    probs = [
        np.array(
            [
                [0.05, 0.05, 0.0, 0.9, 0.0],  # model: LOC
                [0.05, 0.0, 0.05, 0.0, 0.9],
                [0.95, 0.05, 0.0, 0.0, 0.0],
                [0.1, 0.85, 0.05, 0.0, 0.0],  # model: a PER entity the labels miss
            ]
        )
    ]
    issues = ner_label_issues(tags, probs, NAMES, token_method="self_confidence")
    kinds = {(s.kind, s.start, s.end): s for s in issues.spans}
    assert kinds[("given", 0, 2)].suggested == ("B-LOC", "I-LOC")
    assert kinds[("given", 0, 2)].quality == pytest.approx(0.05)
    assert kinds[("missing", 3, 4)].given == ("O",)
    assert issues.spans[0].quality <= issues.spans[-1].quality
