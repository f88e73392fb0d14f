"""ELR's target memory (Liu et al., NeurIPS 2020): ``m <- beta m + (1 - beta) p`` with ``p``
the clamped, renormalised softmax, worked by hand; ids seen once take the per-row update,
repeated ids their mean; no autograd graph reaches the memory; ids out of range refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelnoise.common.losses.elr import ELRLoss


def _target_probs(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(1, keepdims=True))
    p = np.clip(e / e.sum(1, keepdims=True), 1e-4, 1 - 1e-4)
    return p / p.sum(1, keepdims=True)


def test_memory_update_by_hand_for_unique_and_repeated_ids():
    g = torch.Generator().manual_seed(0)
    m = ELRLoss(6, 3, beta=0.7, lam=3.0)
    ref = np.zeros((6, 3))
    steps = [torch.tensor([4, 0, 2]), torch.tensor([2, 5, 2, 0])]  # unique, then repeats
    for ids in steps:
        logits = torch.randn(ids.shape[0], 3, generator=g, requires_grad=True)
        loss = m(logits, torch.zeros(ids.shape[0], dtype=torch.long), ids)
        loss.sum().backward()  # the loss has a graph; the memory does not
        assert logits.grad is not None and not m.memory.requires_grad
        p = _target_probs(logits.detach().double().numpy())
        for i in np.unique(ids.numpy()):
            ref[i] = 0.7 * ref[i] + 0.3 * p[ids.numpy() == i].mean(0)
        np.testing.assert_allclose(m.memory.numpy(), ref, rtol=1e-5, atol=1e-7)


def test_unique_ids_update_equals_the_grouped_mean_bit_for_bit():
    """Unique ids (per-row update) vs the same rows fed with each id's row doubled (grouped
    mean of two equal rows = the row): the same memory bits."""
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(5, 4, generator=g) * 3
    ids = torch.tensor([3, 7, 0, 9, 4])
    a, b = ELRLoss(10, 4), ELRLoss(10, 4)
    a.memory.copy_(torch.rand(10, 4, generator=g))
    b.memory.copy_(a.memory)
    a._update(logits, ids)
    b._update(torch.cat([logits, logits]), torch.cat([ids, ids]))
    assert torch.equal(a.memory, b.memory)


@pytest.mark.parametrize("bad", [-1, 10])
def test_ids_out_of_range_are_refused(bad):
    m = ELRLoss(10, 3)
    with pytest.raises(ValueError, match=rf"example_id must be in \[0, 10\); got \[.*{bad}"):
        m(torch.randn(2, 3), torch.tensor([0, 1]), torch.tensor([bad, 1]))
