"""Confident-learning token pruning (prune+ELR): flags equal cleanlab's on the word units. The
method itself (cross-fitted probabilities, pruned words left out of the loss, resume) is tested
through the engine in tests/methods/test_ner_prune.py."""

from __future__ import annotations

import numpy as np
import pytest
from cleanlab.filter import find_label_issues as cl_find_label_issues

from labelnoise.tasks.ner.prune import prune_tokens

NAMES = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _noisy_sentences(rng, n_sent=60):
    tags, probs = [], []
    for _ in range(n_sent):
        n = int(rng.integers(1, 8))
        tags.append([str(t) for t in rng.choice(["O", "B-PER", "B-LOC"], size=n)])
        probs.append(rng.dirichlet(np.ones(len(NAMES)) * 0.5, size=n))
    return tags, probs


@pytest.mark.parametrize("filter_by", ["both", "prune_by_noise_rate", "confident_learning"])
def test_flags_equal_cleanlab_on_flattened_tokens(filter_by):
    rng = np.random.default_rng(1)
    tags, probs = _noisy_sentences(rng)
    # one confident token of every class (cleanlab needs each class labelled), as a sentence
    tags, probs = [*tags, NAMES], [*probs, np.eye(len(NAMES)) * 0.95 + 0.01]
    ours = prune_tokens(tags, probs, NAMES, filter_by=filter_by)
    assert [len(f) for f in ours] == [len(t) for t in tags]
    labels = np.array([NAMES.index(t) for s in tags for t in s])
    want = cl_find_label_issues(labels, np.concatenate(probs), filter_by=filter_by)
    np.testing.assert_array_equal(np.concatenate(ours), want)
    assert np.concatenate(ours).any()


def test_bad_inputs():
    tags = [["O", "B-PER"]]
    with pytest.raises(ValueError, match="one array per sentence"):
        prune_tokens(tags, [], NAMES)
    with pytest.raises(ValueError, match="probs must stack to"):
        prune_tokens(tags, [np.full((2, 3), 1 / 3)], NAMES)
    with pytest.raises(ValueError, match="B-ORG"):
        prune_tokens([["B-ORG"]], [np.full((1, 5), 0.2)], NAMES)
