"""LL-R (Kim et al., CVPR 2022) against the paper's batch formula written out here."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from labelnoise.common.selection import build_selector
from labelnoise.common.units import two_class_units


def _paper_llr_weights(logits: torch.Tensor, labels: torch.Tensor, clean_rate: float):
    """The official LL-R batch loss mask: 0 where an unobserved (0) label's loss reaches the
    k-th largest unobserved loss, k = ceil(B * K * (1 - clean_rate)); 1 elsewhere."""
    b, k_cls = logits.shape
    loss = F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none")
    if clean_rate == 1:
        return torch.ones_like(loss)
    k = math.ceil(b * k_cls * (1 - clean_rate))
    unobserved_loss = (labels == 0) * loss
    top = torch.topk(unobserved_loss.flatten(), k).values[-1]
    return torch.where(unobserved_loss < top, 1.0, 0.0)


def test_rejection_follows_the_papers_schedule_and_formula():
    b, k, delta = 16, 5, 0.03
    sel = build_selector("large_loss", num_examples=b, delta_rel=delta)
    g = torch.Generator().manual_seed(0)
    for epoch in range(4):
        logits = 3 * torch.randn(b, k, generator=g)
        labels = (torch.rand(b, k, generator=g) < 0.3).long()
        u = two_class_units(logits, labels)
        loss = F.binary_cross_entropy_with_logits(u.pred[:, 1], u.target.float(), reduction="none")
        w = sel(loss, u.example_id, step=epoch, logits=u.pred, target=u.target)
        expected = _paper_llr_weights(logits, labels, 1 - epoch * delta).reshape(-1)
        assert torch.equal(w, expected)
        assert int((w == 0).sum()) == math.ceil(b * k * epoch * delta)
        assert bool((w[u.target == 1] == 1).all())
        sel.on_epoch_end(epoch)


def test_rate_is_capped_and_never_exceeds_the_negatives():
    sel = build_selector("large_loss", num_examples=4, delta_rel=0.5, max_rate=0.6)
    sel.on_epoch_end(4)
    assert sel.rate == 0.6
    loss = torch.tensor([0.1, 0.9, 0.5, 0.7])
    target = torch.tensor([1, 1, 0, 0])
    w = sel(loss, torch.arange(4), step=0, target=target)
    assert w.tolist() == [1.0, 1.0, 0.0, 0.0]


def test_bad_options_and_missing_target():
    with pytest.raises(ValueError, match=r"delta_rel must be"):
        build_selector("large_loss", num_examples=4, delta_rel=-0.1)
    with pytest.raises(ValueError, match=r"max_rate must be in \[0, 1\]; got 2"):
        build_selector("large_loss", num_examples=4, max_rate=2)
    sel = build_selector("large_loss", num_examples=4)
    with pytest.raises(ValueError, match=r"large_loss needs the hard target \(U,\)"):
        sel(torch.zeros(4), torch.arange(4), step=0)
