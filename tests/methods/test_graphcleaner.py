"""``method: graphcleaner`` (Li et al., KDD 2023): the neighbourhood features worked by hand on
a path graph, the synthetic mislabels follow the transition, the detector beats chance on a
planted-noise graph through the engine (base phase, detection, retraining without the
detected nodes), option and config errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.engine.setup import build_task
from labelnoise.methods.graphcleaner import GraphCleaner
from labelnoise.tasks.graph.graphcleaner import (
    fit_detector,
    neighbourhood_features,
    sym_adjacency,
    synthetic_mislabels,
)
from tests.tasks.graph.tiny import recipe, write_graph


def test_features_on_a_path_graph_by_hand():
    # path 0 - 1 - 2: degrees (1, 2, 1), S[0, 1] = S[1, 2] = 1 / sqrt(2) = a;
    # S^2 = [[1/2, 0, 1/2], [0, 1, 0], [1/2, 0, 1/2]], diagonal removed -> S^2[0, 2] = 1/2 only
    ei = np.array([[0, 1, 1, 2], [1, 0, 2, 1]])
    s = sym_adjacency(ei, 3)
    a = 1 / math.sqrt(2)
    assert np.allclose(s.toarray(), [[0, a, 0], [a, 0, a], [0, a, 0]])
    probs = np.array([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4]])
    known = np.array([[1.0, 0], [0, 1], [0, 0]])  # node 2's label unknown
    labels = np.array([0, 1, 0])
    f = neighbourhood_features(s, probs, known, labels, 2)
    # node 0, label 0: [P0, a P0[1], 1/2 P0[2], a L[1], 1/2 L[2]] at class 0
    assert np.allclose(f[0], [0.7, a * 0.2, 0.5 * 0.6, 0.0, 0.0])
    # node 1, label 1: [0.8, a (0.3 + 0.4), 0 (S^2 row 1 off-diagonal is 0), a (0 + 0), 0]
    assert np.allclose(f[1], [0.8, a * 0.7, 0.0, 0.0, 0.0])
    # node 2, label 0: [0.6, a 0.2, 1/2 0.7, a L[1, 0] = 0, 1/2 L[0, 0] = 1/2]
    assert np.allclose(f[2], [0.6, a * 0.2, 0.5 * 0.7, 0.0, 0.5])


def test_synthetic_mislabels_follow_the_transition():
    # column-stochastic [noisy, true]: class 0 -> 1 (0.2) or 2 (0.1); class 1 -> 0 (0.3);
    # class 2 has no noise (never sampled)
    m = np.array([[0.7, 0.3, 0.0], [0.2, 0.7, 0.0], [0.1, 0.0, 1.0]])
    labels = np.repeat([0, 1, 2], 1000)
    held = np.arange(3000)
    out, chosen = synthetic_mislabels(labels, held, m, 0.5, np.random.default_rng(0))
    assert chosen.size == 1000 and (labels[chosen] != 2).all()  # 0.5 of the 2000 valid
    assert (out[chosen] != labels[chosen]).all()
    assert (np.delete(out, chosen) == np.delete(labels, chosen)).all()
    from0 = out[chosen][labels[chosen] == 0]
    assert (out[chosen][labels[chosen] == 1] == 0).all()
    assert np.mean(from0 == 1) == pytest.approx(2 / 3, abs=0.06)  # 0.2 : 0.1
    with pytest.raises(ValueError, match=r"sample_rate must be in \(0, 1\]; got 0"):
        synthetic_mislabels(labels, held, m, 0, np.random.default_rng(0))


def test_detector_separates_separable_features():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (50, 3)), rng.normal(3, 1, (50, 3))])
    y = np.repeat([0, 1], 50)
    for kind in ("lr", "mlp"):
        clf = fit_detector(x, y, classifier=kind)  # type: ignore[arg-type]
        assert (clf.predict(x) == y).mean() > 0.9  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="classifier must be 'lr' or 'mlp'; got 'svm'"):
        fit_detector(x, y, classifier="svm")  # type: ignore[arg-type]


def _gc(tmp_path, out, **options):
    r = recipe(tmp_path, out)
    r["task"] = r["task"] | {"noise": {"kind": "symmetric", "rate": 0.3, "seed": 3}}
    r["train"] = r["train"] | {"epochs": 40}
    r["method"] = {"name": "graphcleaner", "base_epochs": 10} | options
    return r


@pytest.mark.parametrize("held", ["val", "train"])
def test_graphcleaner_detects_planted_noise_and_retrains_without_it(tmp_path, monkeypatch, held):
    n = 300
    write_graph(tmp_path, n=n)
    r = _gc(tmp_path, tmp_path / "r", held=held)
    r["detection"] = {"method": "method"}  # the detected set scored in metrics.json
    cfg = resolve(r)
    cfg.data.batch_size = n // 3
    weights = []
    original = GraphCleaner.step

    def record(self, batch):
        out = original(self, batch)
        ids, epoch = out.units.example_id, self.run.state.epoch
        fold = self.fold[ids]
        assert fold.bincount(minlength=3).tolist() == [34, 33, 33]  # 3 folds of 100 nodes
        if epoch < 30:  # base model of fold epoch // 10: trained outside that fold
            used = fold != epoch // 10
        else:  # the final network: without the detected nodes
            used = self.keep[ids] > 0
        weights.append((epoch, out.unit_loss.detach()[used].mean(), out.loss.detach()))
        return out

    monkeypatch.setattr(GraphCleaner, "step", record)
    metrics = train(cfg)
    info = json.loads((tmp_path / "r" / "graphcleaner.json").read_text())
    task = build_task(cfg)
    tr = task.splits.train
    corrupted = (tr.target != tr.clean).numpy()
    issue = np.zeros(len(corrupted), dtype=bool)
    issue[info["issues"]] = True
    precision = (issue & corrupted).sum() / max(1, issue.sum())
    recall = (issue & corrupted).sum() / corrupted.sum()
    assert issue.any() and precision > 2 * corrupted.mean() and recall > 0.3  # beats chance
    assert info["synthetic"] > 0 and len(info["quality"]) == len(corrupted)
    assert len(weights) == 40
    for _, want, total in weights:
        assert torch.allclose(total, want)
    assert metrics["selection"]["best_epoch"] > 30  # selection restarts with the retraining
    det = metrics["detection"]
    assert det["method"] == "method" and det["num_issues"] == issue.sum()
    assert det["precision"] == pytest.approx(precision) and det["recall"] == pytest.approx(recall)
    rows = (tmp_path / "r" / "label_issues.csv").read_text().splitlines()[1:]
    flagged = sorted(int(row.split(",")[0]) for row in rows if row.split(",")[4] == "1")
    assert flagged == sorted(info["issues"])


def test_detection_method_needs_a_flagging_method(tmp_path):
    r = recipe(tmp_path, tmp_path / "r")
    r["detection"] = {"method": "method"}
    with pytest.raises(ValueError, match=r"detection.method 'method' needs .*graphcleaner, "):
        resolve(r)


def test_graphcleaner_option_and_config_errors(tmp_path):
    with pytest.raises(ValueError, match=r"method.k must be in \[1, 5\]; got 6"):
        resolve(_gc(tmp_path, tmp_path / "r", k=6))
    with pytest.raises(ValueError, match="method.held must be 'val' or 'train'; got 'test'"):
        resolve(_gc(tmp_path, tmp_path / "r", held="test"))
    with pytest.raises(ValueError, match=r"method.threshold must be in \(0, 1\); got 1.0"):
        resolve(_gc(tmp_path, tmp_path / "r", threshold=1.0))
    with pytest.raises(ValueError, match="train.epochs must exceed method.folds x method.base"):
        resolve(_gc(tmp_path, tmp_path / "r", base_epochs=20))
    with pytest.raises(ValueError, match="method.folds must be >= 1; got 0"):
        resolve(_gc(tmp_path, tmp_path / "r", folds=0))
    with pytest.raises(ValueError, match="method 'graphcleaner' does not run on task"):
        resolve({"task": {"name": "classification"}, "method": {"name": "graphcleaner"}})
