"""MixMatch's mixed loss worked by hand: the mixing coefficient, the partner permutation and
the three terms."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from labelnoise.methods.mixmatch import mixmatch_loss, sharpen


def test_sharpen_by_hand():
    p = torch.tensor([[0.6, 0.4]])
    torch.testing.assert_close(sharpen(p, 0.5), torch.tensor([[0.36 / 0.52, 0.16 / 0.52]]))
    torch.testing.assert_close(sharpen(p, 1.0), p)


def test_mixed_loss_by_hand():
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 4)
    xl, xu = torch.randn(2, 3), torch.randn(2, 3)
    tl = torch.softmax(torch.randn(2, 4), 1)
    tu = torch.softmax(torch.randn(2, 4), 1)
    torch.manual_seed(5)  # the Beta draw uses the global generator
    gen = torch.Generator().manual_seed(7)
    loss = mixmatch_loss(
        lambda m, x: m(x),
        net,
        [xl],
        tl,
        [xu],
        tu,
        num_classes=4,
        lambda_u=3.0,
        alpha=0.75,
        generator=gen,
    )
    torch.manual_seed(5)
    lam = float(torch.distributions.Beta(0.75, 0.75).sample())
    lam = max(lam, 1 - lam)
    perm = torch.randperm(4, generator=torch.Generator().manual_seed(7))
    x, t = torch.cat([xl, xu]), torch.cat([tl, tu])
    xm, tm = lam * x + (1 - lam) * x[perm], lam * t + (1 - lam) * t[perm]
    with torch.no_grad():
        logits = net(xm)
        lx = -(F.log_softmax(logits[:2], 1) * tm[:2]).sum(1).mean()
        lu = ((torch.softmax(logits[2:], 1) - tm[2:]) ** 2).mean()
        pm = torch.softmax(logits, 1).mean(0)
        pen = sum(0.25 * np.log(0.25 / float(q)) for q in pm)
    assert 0.5 <= lam <= 1.0
    torch.testing.assert_close(loss.detach(), lx + 3.0 * lu + torch.tensor(pen).float())
