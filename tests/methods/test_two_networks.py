"""The two-network module and the training-split helpers."""

from __future__ import annotations

import torch

from labelnoise.methods.two_networks import TwoNetworks, neg_entropy


def test_ensemble_softmax_is_the_members_mean():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    x = torch.randn(6, 4)
    two = TwoNetworks(a, b).eval()
    ref = (torch.softmax(a(x), 1) + torch.softmax(b(x), 1)) / 2
    torch.testing.assert_close(torch.softmax(two(x), 1), ref)
    assert set(two.state_dict()) == {
        "members.0.weight",
        "members.0.bias",
        "members.1.weight",
        "members.1.bias",
    }


def test_neg_entropy_of_uniform_and_one_hot():
    assert abs(float(neg_entropy(torch.zeros(3, 4))) + float(torch.log(torch.tensor(4.0)))) < 1e-6
    assert abs(float(neg_entropy(torch.tensor([[50.0, 0.0]])))) < 1e-6
