"""``method: ner_prune`` through the engine on a tiny random BERT (frozen features + head):
the cross-fitting runs are engine runs on the other folds, their probabilities are out of
sample, the flagged words never reach the loss, an interrupted run resumes exactly, and bad
options or tasks fail at config time."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from labelnoise.common._random import numpy_rng
from labelnoise.common.units import IGNORE_INDEX
from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.tasks.ner.adapter import NERAdapter
from labelnoise.tasks.ner.prune import prune_tokens
from labelnoise.tasks.ner.words import sentence_ids
from tests.tasks.ner.tiny import make_tiny_bert, recipe, write_conll

METHOD = {"name": "ner_prune", "folds": 3, "fold_epochs": 2, "filter_by": "predicted_neq_given"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ner_prune")
    return make_tiny_bert(root / "model"), write_conll(root / "data")


def _recipe(setup, out, **sections):
    model, data = setup
    return recipe(model, data, out, method=METHOD, loss={"name": "elr"}, **sections)


@pytest.mark.parametrize("items", ["sentences", "words"])
def test_prune_flags_out_of_sample_words_and_trains_without_them(
    setup, tmp_path, monkeypatch, items
):
    trained = []  # (unit_id, target) of every training step's units
    original = NERAdapter.units

    def spy(self, model, batch, **kw):
        units = original(self, model, batch, **kw)
        if model.training:
            trained.append((units.unit_id.clone(), units.target.clone()))
        return units

    monkeypatch.setattr(NERAdapter, "units", spy)
    cfg = resolve(_recipe(setup, tmp_path / "run", task={"train_items": items}))
    metrics = train(cfg)
    run = tmp_path / "run"
    saved = torch.load(run / "ner_prune.pt", weights_only=True)
    lengths, probs, labels, pruned = (saved[k] for k in ("lengths", "probs", "labels", "pruned"))
    n = len(lengths)
    assert json.loads((run / "ner_prune.json").read_text())["pruned_words"] == int(pruned.sum())
    # the flags are confident learning's on the saved out-of-sample probabilities
    from labelnoise.engine.setup import build_task

    task = build_task(cfg)  # the run's task (cached): its class names and features
    names = task.splits.class_names
    cuts = np.cumsum(lengths.numpy())[:-1]
    tags = [[names[j] for j in s] for s in np.split(labels.numpy(), cuts)]
    want = prune_tokens(tags, np.split(probs.numpy(), cuts), names, filter_by=METHOD["filter_by"])
    assert np.array_equal(np.concatenate(want), pruned.numpy()) and 0 < pruned.sum() < len(pruned)
    # each fold run trained on the other folds only, and predicts its own fold (recomputed)
    sentence = sentence_ids(task.splits.train)  # (n,) items -> sentences (words: theirs)
    assert len(sentence) == n and (items == "words") == (n > sentence.max() + 1)
    fold = (numpy_rng(cfg.seed).permutation(int(sentence.max()) + 1) % 3)[sentence]
    starts = np.concatenate([[0], np.cumsum(lengths.numpy())])
    for k in range(3):
        m = json.loads((run / "folds" / str(k) / "metrics.json").read_text())
        steps_per_epoch = -(-int((fold != k).sum()) // 4)  # the other folds, batches of 4
        assert m["train"]["steps"] == 2 * steps_per_epoch and m["train"]["epochs"] == 2
        head = task.adapter.build_model(task.splits)
        head.load_state_dict(torch.load(run / "folds" / str(k) / "best_model.pt"))
        head.eval()
        for i in np.flatnonzero(fold == k):
            with torch.no_grad():
                p = head(task.splits.train[i]["features"]).double().softmax(1)
            torch.testing.assert_close(p, probs[starts[i] : starts[i + 1]], rtol=1e-5, atol=1e-6)
    # the main run's steps saw exactly the kept words, with their given labels
    main_steps = metrics["train"]["steps"]
    ids = torch.cat([u for u, _ in trained[-main_steps:]])
    tgt = torch.cat([t for _, t in trained[-main_steps:]])
    kept = torch.nonzero(~pruned).flatten()
    assert torch.equal(torch.unique(ids), kept)
    assert torch.equal(tgt, labels[ids]) and not (tgt == IGNORE_INDEX).any()


def test_resume_after_interruption_is_exact(setup, tmp_path, monkeypatch):
    """Interrupted inside a cross-fitting run, then inside the main run: each resume reuses
    the finished folds and continues from the last checkpoint; the result is the straight
    run's, bit for bit."""
    from labelnoise.methods.ner_prune import NerPrune

    straight = train(resolve(_recipe(setup, tmp_path / "a")))
    cfg = resolve(_recipe(setup, tmp_path / "b"))
    step, calls = NerPrune.step, []

    def crash_at(n):
        def crash(self, batch):
            calls.append(1)
            if len(calls) == n:
                raise KeyboardInterrupt
            return step(self, batch)

        return crash

    # 24 sentences, batches of 4: a fold run has 4 steps per epoch, the main run 6.
    # Call 15: fold 1's 2nd epoch. After resuming, call 27 = fold 1's last epoch again (4),
    # fold 2 (8), then the main run's 15th step (3rd epoch).
    for n in (15, 27):
        calls.clear()
        monkeypatch.setattr(NerPrune, "step", crash_at(n))
        with pytest.raises(KeyboardInterrupt):
            train(cfg, resume=(tmp_path / "b" / "config.yaml").is_file())
    assert (tmp_path / "b" / "folds" / "2" / "metrics.json").is_file()
    assert not (tmp_path / "b" / "metrics.json").is_file()
    monkeypatch.setattr(NerPrune, "step", step)
    resumed = train(cfg, resume=True)
    assert resumed["test"] == straight["test"]
    a, b = (torch.load(tmp_path / d / "best_model.pt") for d in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)
    pa, pb = (torch.load(tmp_path / d / "ner_prune.pt") for d in "ab")
    assert all(torch.equal(pa[k], pb[k]) for k in pa)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"folds": 1}, r"method.folds must be >= 2; got 1"),
        ({"fold_epochs": 0}, r"method.fold_epochs must be >= 1; got 0"),
        ({"filter_by": "all"}, r"method.filter_by must be one of"),
        ({"bogus": 1}, r"unknown key 'method.bogus'"),
        ({"fold_overrides": {"task": {"frozn": True}}}, r"method.fold_overrides.*task.frozn"),
        ({"fold_overrides": {"seed": 3}}, r"method.fold_overrides must not set 'seed'"),
    ],
)
def test_bad_options_name_the_field(setup, tmp_path, options, match):
    rec = _recipe(setup, tmp_path / "r")
    rec["method"] = {"name": "ner_prune", **options}
    with pytest.raises(ValueError, match=match):
        resolve(rec)


def test_other_tasks_are_refused_at_config_time():
    with pytest.raises(
        ValueError, match="method 'ner_prune' does not run on task 'classification'"
    ):
        resolve({"task": {"name": "classification"}, "method": {"name": "ner_prune"}})
