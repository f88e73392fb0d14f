"""``method: colada``: the kNN label-consistency weights against a hand computation, the
options and config checks, the tag mapping of the transfer recipe and a 3-step smoke run
(source step, step 1 on the source, step 2 on WNUT-17 train) on the real data."""

from __future__ import annotations

import json
import math

import pytest
import torch

from labelnoise.config import load_recipe, resolve
from labelnoise.engine import train
from labelnoise.methods.colada import ColadaOptions, knn_consistency, partner_labels
from labelnoise.tasks.ner.adapter import map_tags

NAMES = ["O", "B-PER", "I-PER"]


def _circle(degrees: list[float]) -> torch.Tensor:
    r = torch.tensor(degrees, dtype=torch.float64) * math.pi / 180
    return torch.stack([r.cos(), r.sin()], dim=1)


def test_partner_labels_pair_b_and_i_of_a_type():
    assert partner_labels(["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]).tolist() == [-1, 2, 1, 4, 3]


def test_knn_consistency_matches_the_hand_computation():
    # angles 0, 10, 25 | 90, 100, 115; labels B-PER, I-PER, B-PER | O, O, B-PER; k = 2:
    # neighbours (cosine): 0 -> {1, 2}, 1 -> {0, 2}, 2 -> {1, 0}, 3 -> {4, 5}, 4 -> {3, 5},
    # 5 -> {4, 3}. Agreement counts (own label or its B/I partner): 2, 2, 2, 1, 1, 0.
    reps = _circle([0, 10, 25, 90, 100, 115])
    labels = torch.tensor([1, 2, 1, 0, 0, 1])
    w = knn_consistency(reps, labels, partner_labels(NAMES), k=2, sm_k=1.0, emu=1.0, ealpha=6.0)

    def sig(v: float) -> float:
        return 1 / (1 + math.exp(-v))

    # B-PER: t = (a + 1) / (max a + 1) = 1, 1, 1/3; mean 7/9; sigmoid(6 (t - 7/9)) / max
    low = sig(6 * (1 / 3 - 7 / 9)) / sig(6 * (1 - 7 / 9))
    want = [1.0, 1.0, 1.0, 1.0, 1.0, low]  # I-PER and O: every t equal -> 1 after the max
    assert w.tolist() == pytest.approx(want, rel=1e-6)
    assert low < 0.1  # the B-PER token among O neighbours is distrusted


def test_knn_consistency_searches_only_the_reference_tokens():
    reps = _circle([0, 10, 25, 90, 100, 115])
    labels = torch.tensor([1, 2, 1, 0, 0, 1])
    # reference {0, 3}, k = 1: the B-PER tokens 0 (itself excluded: sees 3, O), 2 (sees 0,
    # B-PER) and 5 (sees 3, O) agree 0, 1 and 0 times
    w = knn_consistency(
        reps, labels, partner_labels(NAMES), k=1, reference=torch.tensor([0, 3]), ealpha=6.0
    )
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    t = [0.5, 1.0, 0.5]  # B-PER tokens 0, 2, 5: (a + 1) / (1 + 1)
    m = sum(t) / 3
    want_b = [sig(6 * (x - m)) / sig(6 * (1.0 - m)) for x in t]
    got = w[torch.tensor([0, 2, 5])].tolist()
    assert got == pytest.approx(want_b, rel=1e-6)


@pytest.mark.parametrize(
    "bad, key",
    [
        ({"k": 0}, "method.k"),
        ({"iterations": 0}, "method.iterations"),
        ({"source_lambda": 1.5}, "method.source_lambda"),
        ({"ealpha": 0.0}, "method.ealpha"),
        ({"temperature": -1.0}, "method.temperature"),
        ({"knn_max_reference": 1}, "method.knn_max_reference"),
    ],
)
def test_options_are_checked(bad, key):
    with pytest.raises(ValueError, match=key):
        ColadaOptions(**bad)


def test_epochs_follow_the_schedule():
    assert ColadaOptions(source_epochs=10, iterations=2, step_epochs=5).epochs == 30
    assert (
        ColadaOptions(mode="self_training", source_epochs=3, iterations=2, step_epochs=1).epochs
        == 5
    )


def test_tag_map_renames_types_and_drops_to_o():
    tags = [["B-person", "I-person", "O", "B-product", "B-group"]]
    m = {"person": "PER", "product": "O", "group": "ORG"}
    assert map_tags(tags, m) == [["B-PER", "I-PER", "O", "O", "B-ORG"]]


RECIPE = "recipes/ner/wnut17_colada.yaml"


def test_config_refuses_a_wrong_epoch_count_and_fine_tuning(tmp_path):
    recipe = load_recipe(RECIPE)
    with pytest.raises(ValueError, match="train.epochs must be"):
        resolve(recipe, {"output_dir": str(tmp_path), "train": {"epochs": 7}}, variant="colada")
    with pytest.raises(ValueError, match="task.frozen"):
        resolve(
            recipe,
            {"output_dir": str(tmp_path), "task": {"frozen": False, "train_items": "sentences"}},
            variant="colada",
        )


def test_three_steps_reach_both_collaboration_steps(tmp_path, data_dir):
    over = {
        "output_dir": str(tmp_path / "c"),
        "data": {"data_dir": str(data_dir), "batch_size": 8192},
        "task": {"max_train_sentences": 100, "max_test_sentences": 50},
        "method": {
            "source_epochs": 1,
            "iterations": 1,
            "step_epochs": 1,
            "k": 10,
            "knn_max_reference": 2000,
        },
        "train": {"epochs": 3, "max_steps": 3, "eval_every": 3, "progress": False},
    }
    metrics = train(resolve(load_recipe(RECIPE), over, variant="colada"))
    assert metrics["train"]["steps"] == 3
    assert 0.0 <= metrics["test"]["entity_f1"] <= 1.0
    report = json.loads((tmp_path / "c" / "colada.json").read_text())
    assert [r["kind"] for r in report] == ["step1", "step2"]
    for r in report:
        assert 0.0 <= r["pseudo_label_accuracy"] <= 1.0
