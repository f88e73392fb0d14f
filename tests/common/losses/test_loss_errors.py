"""Bad input -> ValueError naming the argument, the expected and the received."""

from __future__ import annotations

import pytest
import torch

from labelnoise.common.losses import (
    GCELoss,
    build_loss,
    forward_correction,
    gce,
    label_smoothing,
    nls,
)

LOGITS = torch.randn(4, 3)
LABELS = torch.tensor([0, 1, 2, 1])


@pytest.mark.parametrize("q", [0.0, -0.5, 1.5])
def test_q_outside_unit_interval(q):
    with pytest.raises(ValueError, match=r"q must be in \(0.0, 1.0\]"):
        gce(LOGITS, LABELS, q=q)
    with pytest.raises(ValueError, match="q must be"):
        build_loss("gce", q=q)


def test_smoothing_beyond_range():
    with pytest.raises(ValueError, match=r"smoothing must be in \[-1.0, 1.0\]; got -1.5"):
        nls(LOGITS, LABELS, smoothing=-1.5)
    with pytest.raises(ValueError, match=r"smoothing must be in \[0.0, 1.0\]; got -0.1"):
        label_smoothing(LOGITS, LABELS, smoothing=-0.1)


def test_soft_targets_not_summing_to_one():
    soft = torch.full((4, 3), 0.5)
    with pytest.raises(ValueError, match="soft target must sum to 1"):
        gce(LOGITS, soft)
    with pytest.raises(ValueError, match="non-negative"):
        gce(LOGITS, torch.tensor([[1.5, -0.5, 0.0]] * 4))


def test_transition_of_wrong_size():
    with pytest.raises(ValueError, match=r"transition must have shape \(3, 3\).*got \(2, 2\)"):
        forward_correction(LOGITS, LABELS, transition=[[0.9, 0.1], [0.1, 0.9]])
    with pytest.raises(ValueError, match="rows must sum to 1"):
        forward_correction(LOGITS, LABELS, transition=[[0.9, 0.2, 0], [0, 1, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match=r"transition must have shape \(5, 5\)"):
        build_loss("backward", num_classes=5, transition=[[1.0, 0.0], [0.0, 1.0]])


def test_labels_shapes_and_options():
    with pytest.raises(ValueError, match=r"target must be in \[0, 3\).*got max 3"):
        gce(LOGITS, torch.tensor([0, 1, 3, 1]))
    with pytest.raises(ValueError, match=r"target must have shape \(4,\)"):
        gce(LOGITS, LABELS[:3])
    with pytest.raises(ValueError, match="reduction must be one of"):
        gce(LOGITS, LABELS, reduction="avg")
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        gce(LOGITS, LABELS, weight=torch.ones(4))
    with pytest.raises(ValueError, match="unknown option 'beta' for loss 'gce'"):
        build_loss("gce", beta=0.3)
    with pytest.raises(ValueError, match="unknown option 'k'"):
        GCELoss(k=0.3)
    with pytest.raises(ValueError, match="name must be one of"):
        build_loss("cross_entropy")
    with pytest.raises(ValueError, match="num_examples must be given for loss 'elr'"):
        build_loss("elr", num_classes=3)
    with pytest.raises(ValueError, match=r"target must be in \[0, 1\]"):
        build_loss("gce_binary", units="sigmoid")(LOGITS, torch.full((4, 3), 2.0))
