"""Confident token relabelling: thresholds equal cleanlab's, corrections stay valid IOB2."""

from __future__ import annotations

import numpy as np
import pytest
from cleanlab.count import get_confident_thresholds

from labelnoise.tasks.ner.relabel import class_thresholds, relabel_tokens
from labelnoise.tasks.ner.schemes import to_iob2

NAMES = ["O", "B-PER", "I-PER"]


def test_class_thresholds_equal_cleanlab():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=200)
    labels = rng.integers(0, 3, 200)
    np.testing.assert_allclose(
        class_thresholds(labels, probs), get_confident_thresholds(labels, probs)
    )


def test_confident_disagreement_is_relabelled_into_valid_iob2():
    tags = [["O", "O", "O"], ["B-PER", "I-PER"]]
    probs = [
        np.array([[0.9, 0.05, 0.05], [0.02, 0.02, 0.96], [0.9, 0.05, 0.05]]),
        np.array([[0.1, 0.85, 0.05], [0.1, 0.1, 0.8]]),
    ]
    new, changed = relabel_tokens(tags, probs, NAMES, min_confidence=0.5)
    assert new == [["O", "B-PER", "O"], ["B-PER", "I-PER"]]  # stray I-PER repaired to B-PER
    assert changed == 1
    assert all(to_iob2(s) == s for s in new)


def test_nothing_changes_below_the_floor():
    tags = [["O", "O"]]
    probs = [np.array([[0.4, 0.6, 0.0], [0.9, 0.1, 0.0]])]
    assert relabel_tokens(tags, probs, NAMES, min_confidence=0.7) == (tags, 0)


def test_shape_mismatch():
    with pytest.raises(ValueError, match=r"probs must stack to \(2, 3\)"):
        relabel_tokens([["O", "O"]], [np.ones((3, 3)) / 3], NAMES)
