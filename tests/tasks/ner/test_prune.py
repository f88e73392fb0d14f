"""Confident-learning token pruning (prune+ELR): flags equal cleanlab's on the word units,
ignored tokens never reach the loss, K-fold probabilities are out of sample."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cleanlab.filter import find_label_issues as cl_find_label_issues

from labelnoise.tasks.ner.frozen import HeadConfig, cross_fit_probs, fit_head, predict_head
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


def _feats(rng, tags, dim=6):
    return [rng.normal(size=(len(s), dim)).astype(np.float32) for s in tags]


def test_ignored_tokens_never_reach_the_loss():
    """Two label sets that differ only on ignored tokens train identical heads."""
    rng = np.random.default_rng(2)
    tags = [["O", "B-PER", "I-PER", "O"], ["B-LOC", "O"], ["O", "O", "B-PER"]] * 5
    feats = _feats(rng, tags)
    ignore = [np.array([i % 2 == 1 for i in range(len(s))]) for s in tags]
    other = [["B-LOC" if m else t for t, m in zip(s, ig)] for s, ig in zip(tags, ignore)]
    cfg = {"epochs": 3, "batch_size": 8, "hidden": 8, "loss": "elr"}
    a = fit_head(feats, tags, NAMES, HeadConfig(**cfg), ignore=ignore)
    b = fit_head(feats, other, NAMES, HeadConfig(**cfg), ignore=ignore)
    c = fit_head(feats, other, NAMES, HeadConfig(**cfg))
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))
    with pytest.raises(ValueError, match="ignore must have one"):
        fit_head(feats, tags, NAMES, HeadConfig(**cfg), ignore=ignore[:-1])


def test_cross_fit_probs_are_out_of_sample():
    """Each sentence is predicted by a head fitted on the other folds only: recomputed here
    fold by fold with the same seeded split."""
    rng = np.random.default_rng(3)
    tags = [["O", "B-PER"], ["B-LOC", "I-LOC", "O"], ["O"]] * 4
    feats = _feats(rng, tags)
    cfg = HeadConfig(epochs=2, batch_size=4, hidden=8, seed=5)
    probs = cross_fit_probs(feats, tags, NAMES, cfg, folds=3)
    assert cfg.log == []  # the fold heads log into their own copies
    fold = np.random.default_rng(5).permutation(len(tags)) % 3
    for k in range(3):
        tr, te = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        head = fit_head(
            [feats[i] for i in tr],
            [tags[i] for i in tr],
            NAMES,
            HeadConfig(**{"epochs": 2, "batch_size": 4, "hidden": 8, "seed": 5}),
        )
        for i, p in zip(te, predict_head(head, [feats[i] for i in te])):
            np.testing.assert_allclose(probs[i], p)
    with pytest.raises(ValueError, match="folds must be in"):
        cross_fit_probs(feats, tags, NAMES, cfg, folds=1)
