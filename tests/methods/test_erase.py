"""``method: erase`` (Chen et al., CIKM 2024): the propagation pieces worked by hand on small
graphs, the engine's head is the logistic regression of ERASE's evaluation (checked against
an independent scikit-learn fit), exact resume, option and config errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

from labelnoise.config import resolve
from labelnoise.engine import train
from labelnoise.methods.erase import Erase
from labelnoise.tasks.graph.erase import column_normalized, erase_labels, precorrect
from tests.tasks.graph.tiny import recipe, write_graph

PATH = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])  # the path 0 - 1 - 2 - 3


def test_column_normalized_divides_each_column_by_its_degree():
    m = column_normalized(PATH, 4).to_dense()
    want = torch.tensor(
        [[0, 1 / 2, 0, 0], [1, 0, 1 / 2, 0], [0, 1 / 2, 0, 1], [0, 0, 1 / 2, 0]]
    )  # A D^-1, degrees (1, 2, 2, 1)
    assert torch.allclose(m, want)
    # restricted to nodes {0, 1, 3}: only the edge 0 - 1 stays, both degrees 1; 3 is isolated
    keep = torch.tensor([True, True, False, True])
    sub = column_normalized(PATH, 4, keep).to_dense()
    assert torch.allclose(sub, torch.tensor([[0.0, 1, 0, 0], [1, 0, 0, 0], [0] * 4, [0] * 4]))


def test_precorrect_propagates_over_training_edges_only():
    # training nodes 0, 1, 3 with labels 0, 1, 1; one step, alpha 0.5:
    # Y = 0.5 A_tr Y0 + 0.5 Y0: node 0 -> (0.5, 0.5), node 1 -> (0.5, 0.5), node 3 (isolated
    # in the training subgraph) -> (0, 0.5), node 2 (not training) -> 0
    labels = torch.tensor([0, 1, 0, 1])
    y = precorrect(labels, PATH, torch.tensor([0, 1, 3]), 2, alpha=0.5, T=1)
    want = torch.tensor([[0.5, 0.5], [0.5, 0.5], [0.0, 0.0], [0.0, 0.5]])
    assert torch.allclose(y, want)


def test_erase_labels_follow_the_formula():
    # prototypes from training nodes 0 (class 0) and 1 (class 1): (1, 0) and (0, 1)
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.2], [0.0, -1.0]])
    y_pre = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    train_idx = torch.tensor([0, 1])
    a = column_normalized(PATH, 4)
    # T = 0: argmax(beta Y_pre + (1 - beta) |cos|); node 3 is (0, -1): |cos| with (0, 1) is 1
    got = erase_labels(z, y_pre, train_idx, a, alpha=0.6, beta=0.6, T=0)
    assert got.tolist() == [0, 1, 0, 1]
    # T = 2 against a dense numpy computation of the same formula
    cos = np.abs(
        (z / z.norm(dim=1, keepdim=True)).numpy() @ np.eye(2)
    )  # prototypes are the unit axes
    s = 0.3 * y_pre.numpy() + 0.7 * cos
    y = np.exp(s) / np.exp(s).sum(1, keepdims=True)
    dense = a.to_dense().numpy()
    for _ in range(2):
        y = 0.4 * dense @ y + 0.6 * y
    got = erase_labels(z, y_pre, train_idx, a, alpha=0.6, beta=0.3, T=2)
    assert got.tolist() == y.argmax(1).tolist()


def _erase(tmp_path, out, **options):
    r = recipe(tmp_path, out)
    r["method"] = {"name": "erase", "hidden": 8, "heads": 2, "embedding": 8} | options
    r["optim"] = {"name": "adam", "lr": 0.01, "weight_decay": 0.0005}
    return r


def test_erase_head_is_the_logistic_regression_of_each_epoch(tmp_path, monkeypatch):
    write_graph(tmp_path)
    cfg = resolve(_erase(tmp_path, tmp_path / "r"))
    seen = []
    original = Erase.on_epoch_end

    def check(self, epoch):
        original(self, epoch)
        z = F.normalize(self._eval_z(), dim=1).double().numpy()
        tr = self.train_nodes.numpy()
        want = LogisticRegression(max_iter=1000).fit(z[tr], self.step_labels.numpy()).predict(z)
        module = self._module()
        module.eval()
        with torch.no_grad():
            got = module(torch.arange(z.shape[0])).argmax(1).numpy()
        module.train()
        seen.append((got == want).mean())

    monkeypatch.setattr(Erase, "on_epoch_end", check)
    metrics = train(cfg)
    assert len(seen) == 8 and min(seen) == 1.0
    assert metrics["train"]["steps"] == 8
    info = json.loads((tmp_path / "r" / "erase.json").read_text())
    assert len(info["labels"]) == 30 and set(info["labels"]) <= {0, 1, 2}


def test_erase_resumes_exactly(tmp_path, monkeypatch):
    write_graph(tmp_path)
    straight = train(resolve(_erase(tmp_path, tmp_path / "a")))
    cfg = resolve(_erase(tmp_path, tmp_path / "b"))
    original = Erase.step

    def crash(self, batch):
        if self.run.state.epoch == 4:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(Erase, "step", crash)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(Erase, "step", original)
    resumed = train(cfg, resume=True)
    assert resumed["test"] == straight["test"] and resumed["selection"] == straight["selection"]
    for name in ("history.jsonl", "erase.json"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()


def test_erase_option_and_config_errors(tmp_path):
    with pytest.raises(ValueError, match=r"method.beta must be in \[0, 1\]; got 2"):
        resolve(_erase(tmp_path, tmp_path / "r", beta=2))
    with pytest.raises(ValueError, match="method.hidden must be a multiple of method.heads = 3"):
        resolve(_erase(tmp_path, tmp_path / "r", heads=3))
    with pytest.raises(ValueError, match="method.eps_sq must be a finite number > 0; got 0"):
        resolve(_erase(tmp_path, tmp_path / "r", eps_sq=0))
    r = _erase(tmp_path, tmp_path / "r")
    r["detection"] = {"method": "dynamics"}
    with pytest.raises(ValueError, match="detection.method must be 'kfold' or 'none'"):
        resolve(r)
    with pytest.raises(ValueError, match="method 'erase' does not run on task 'classification'"):
        resolve({"task": {"name": "classification"}, "method": {"name": "erase"}})
