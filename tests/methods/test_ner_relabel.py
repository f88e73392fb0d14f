"""``method: ner_relabel`` through the engine on a tiny random BERT (frozen features + head):
the labels trained on after each relabelling epoch equal an independent recomputation from the
network's predictions (original labels relabelled, low-confidence O words ignored), an
interrupted run resumes exactly, and bad options or tasks fail at config time."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from labelnoise.common.units import IGNORE_INDEX
from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.tasks.ner.adapter import NERAdapter
from tests.tasks.ner.tiny import make_tiny_bert, recipe, write_conll

METHOD = {"name": "ner_relabel", "relabel_from": 2, "min_confidence": 0.2, "ignore_o_below": 0.6}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ner_relabel")
    return make_tiny_bert(root / "model"), write_conll(root / "data")


def _recipe(setup, out, **sections):
    model, data = setup
    return recipe(model, data, out, method=METHOD, **sections)


def _thresholds(labels, probs):
    c = probs.shape[1]
    t = np.ones(c)
    for j in range(c):
        if (labels == j).any():
            t[j] = probs[labels == j, j].mean()
    return t


@pytest.mark.parametrize("items", ["sentences", "words"])
def test_relabelled_labels_match_a_recomputation(setup, tmp_path, monkeypatch, items):
    steps = []  # per training step: (unit_id, target); per epoch end: word probabilities
    original = NERAdapter.units

    def spy(self, model, batch, **kw):
        units = original(self, model, batch, **kw)
        if model.training:
            steps.append((units.unit_id.clone(), units.target.clone()))
        return units

    monkeypatch.setattr(NERAdapter, "units", spy)
    epoch_probs = []
    import labelnoise.tasks.ner.words as words

    sentence_probs = words.sentence_probs

    def keep(units, n):
        out = sentence_probs(units, n)
        epoch_probs.append(np.concatenate(out[1]))
        return out

    monkeypatch.setattr(words, "sentence_probs", keep)
    cfg = resolve(_recipe(setup, tmp_path / "run", task={"train_items": items}))
    train(cfg)
    from labelnoise.engine.setup import build_task

    task = build_task(cfg)
    names = task.splits.class_names
    given = task.splits.train.target.numpy()  # (W,) the original noisy labels
    per_epoch = len(steps) // 4
    assert len(epoch_probs) == 2  # after epochs 2 and 3 (not after the last, 4)
    log = json.loads((tmp_path / "run" / "ner_relabel.json").read_text())["epochs"]
    assert [e["epoch"] for e in log] == [2, 3]
    for k, probs in enumerate(epoch_probs):
        # independent: confident-learning thresholds on the ORIGINAL labels, floor 0.2
        thr = np.maximum(_thresholds(given, probs), 0.2)
        pred = probs.argmax(1)
        flip = (pred != given) & (probs[np.arange(len(given)), pred] >= thr[pred])
        new = np.where(flip, pred, given)
        # the corrected sentences are repaired to IOB2 (I-X after O becomes B-X)
        starts = np.asarray(task.splits.train.starts)
        for w in range(len(new)):
            t = names[new[w]]
            if t.startswith("I-") and (w in starts or names[new[w - 1]][2:] != t[2:]):
                new[w] = names.index("B-" + t[2:])
        p_y = probs[np.arange(len(new)), new]
        want = np.where((new == 0) & (p_y < 0.6), IGNORE_INDEX, new)
        trained = steps[per_epoch * (k + 2) : per_epoch * (k + 3)]  # the next epoch's steps
        ids = torch.cat([u for u, _ in trained]).numpy()
        tgt = torch.cat([t for _, t in trained]).numpy()
        kept = np.flatnonzero(want != IGNORE_INDEX)
        assert np.array_equal(np.sort(ids), kept)
        assert np.array_equal(tgt, want[ids])
        assert log[k]["ignored_words"] == int((want == IGNORE_INDEX).sum())
        assert log[k]["relabelled_words"] == int((new != given).sum())
    assert any(e["relabelled_words"] > 0 for e in log) and any(e["ignored_words"] for e in log)
    # the first two epochs train on the given labels
    first = steps[: 2 * per_epoch]
    ids = torch.cat([u for u, _ in first])
    assert torch.equal(torch.cat([t for _, t in first]), torch.from_numpy(given)[ids])


def test_resume_after_interruption_is_exact(setup, tmp_path, monkeypatch):
    from labelnoise.methods.ner_relabel import NerRelabel

    straight = train(resolve(_recipe(setup, tmp_path / "a")))
    cfg = resolve(_recipe(setup, tmp_path / "b"))
    step, calls = NerRelabel.step, []

    def crash(self, batch):
        calls.append(1)
        if len(calls) == 16:  # third epoch (6 batches per epoch), after one relabelling
            raise KeyboardInterrupt
        return step(self, batch)

    monkeypatch.setattr(NerRelabel, "step", crash)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(NerRelabel, "step", step)
    resumed = train(cfg, resume=True)
    assert resumed["test"] == straight["test"]
    a, b = (torch.load(tmp_path / d / "best_model.pt") for d in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)
    la, lb = (json.loads((tmp_path / d / "ner_relabel.json").read_text()) for d in "ab")
    assert la == lb


@pytest.mark.parametrize(
    "options, match",
    [
        ({"relabel_from": 0}, r"method.relabel_from must be >= 1; got 0"),
        ({"min_confidence": 1.5}, r"method.min_confidence must be in \[0, 1\]; got 1.5"),
        ({"ignore_scope": "B"}, r"method.ignore_scope must be one of \['O', 'all'\]"),
        ({"relabel_form": 2}, r"unknown key 'method.relabel_form'"),
    ],
)
def test_bad_options_name_the_field(setup, tmp_path, options, match):
    rec = _recipe(setup, tmp_path / "r")
    rec["method"] = {"name": "ner_relabel", **options}
    with pytest.raises(ValueError, match=match):
        resolve(rec)


def test_other_tasks_are_refused_at_config_time():
    with pytest.raises(ValueError, match="method 'ner_relabel' does not run on task 'regression'"):
        resolve({"task": {"name": "regression"}, "method": {"name": "ner_relabel"}})
