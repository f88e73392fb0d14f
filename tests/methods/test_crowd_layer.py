"""``method: crowd_layer`` (Rodrigues & Pereira, AAAI 2018, MW): the loss against a hand
computation, the options, the batches without annotators, and a planted-annotator run on
digits (one good annotator, two spammers) where it beats CE on the majority vote."""

from __future__ import annotations

import math

import pytest
import torch

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.methods._answers import observed_pairs
from labelnoise.methods.crowd_layer import CrowdLayerNet, CrowdLayerOptions, crowd_layer_loss
from tests.methods.test_madl import planted_answers, recipe


def test_loss_is_the_cross_entropy_through_each_annotators_matrix():
    # item 0: logits (log 3, 0) -> sigma = (0.75, 0.25)
    # annotator 0 (identity): output logits (0.75, 0.25); answer 0
    #   CE = -log(e^0.75 / (e^0.75 + e^0.25)) = log(1 + e^-0.5)
    # annotator 1 (swaps the classes): output logits (0.25, 0.75); answer 0
    #   CE = log(1 + e^0.5)
    logits = torch.tensor([[math.log(3.0), 0.0]])
    kernel = torch.stack([torch.eye(2), torch.tensor([[0.0, 1.0], [1.0, 0.0]])])
    rows, annot, label = torch.tensor([0, 0]), torch.tensor([0, 1]), torch.tensor([0, 0])
    loss = crowd_layer_loss(logits, kernel, rows, annot, label)
    assert loss[0].item() == pytest.approx(math.log(1 + math.exp(-0.5)), rel=1e-6)
    assert loss[1].item() == pytest.approx(math.log(1 + math.exp(0.5)), rel=1e-6)


def test_layer_starts_at_the_identity_and_tests_with_the_bare_network():
    base = torch.nn.Linear(4, 3)
    net = CrowdLayerNet(base, 5, 3)
    assert net.kernel.shape == (5, 3, 3) and torch.equal(net.kernel[4], torch.eye(3))
    x = torch.randn(2, 4)
    assert torch.equal(net(x), base(x))


def test_answers_of_a_batch():
    batch = {
        "target": torch.tensor([1, 2]),
        "annotations": torch.tensor([[1, -1, 0], [2, 2, -1]]),
        "annotator_ids": torch.tensor([[0, -1, 3], [1, 2, -1]]),
    }
    rows, annot, label = observed_pairs(batch, 4)
    assert rows.tolist() == [0, 0, 1, 1]
    assert annot.tolist() == [0, 3, 1, 2] and label.tolist() == [1, 0, 2, 2]
    with pytest.raises(ValueError, match="method.num_annotators"):
        observed_pairs(batch, 3)
    # no annotators: the target is annotator 0's answer
    rows, annot, label = observed_pairs({"target": torch.tensor([4, 5])}, 1)
    assert rows.tolist() == [0, 1] and annot.tolist() == [0, 0] and label.tolist() == [4, 5]


@pytest.mark.parametrize("n", [0, -1, 1.5, True])
def test_options_are_checked(n):
    with pytest.raises(ValueError, match=r"method\.num_annotators"):
        CrowdLayerOptions(num_annotators=n)


def test_beats_ce_on_the_majority_vote_of_planted_annotators(tmp_path):
    torch.manual_seed(0)
    planted_answers(tmp_path / "answers.csv")
    ce = train(resolve(recipe(tmp_path, {"name": "standard"})))
    crowd = train(resolve(recipe(tmp_path, {"name": "crowd_layer"})))
    assert ce["noise_rate_realised"] > 0.3
    assert crowd["test"]["accuracy"] > ce["test"]["accuracy"] + 0.05, (crowd, ce)
    state = torch.load(tmp_path / "crowd_layer" / "best_model.pt", weights_only=True)
    k = state["kernel"]  # the good annotator's matrix stays the most diagonal
    assert k.shape == (3, 10, 10)
    dominance = [(torch.diagonal(k[a]) - k[a].mean(1)).mean().item() for a in range(3)]
    assert dominance[0] > max(dominance[1], dominance[2]), dominance
