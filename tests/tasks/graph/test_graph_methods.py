"""Models, label propagation, neighbourhood-aware detection and PPL on a tiny two-block graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from labelnoise.common.losses import build_loss
from labelnoise.common.selection import build_selector
from labelnoise.tasks.graph.data import validate_graph
from labelnoise.tasks.graph.detection import graph_label_quality
from labelnoise.tasks.graph.fullbatch import fit_fullbatch
from labelnoise.tasks.graph.models import build_model, normalized_adjacency
from labelnoise.tasks.graph.propagation import lp_correct, neighbour_label_agreement
from labelnoise.tasks.graph.robust import ppl_fit


def _blocks(n: int = 60, k: int = 3, seed: int = 0):
    """A planted-partition graph: dense within classes, sparse across; noisy class features."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    same = y[:, None] == y[None, :]
    a = np.triu(rng.random((n, n)) < np.where(same, 0.3, 0.01), 1)
    src, dst = np.nonzero(a | a.T)
    x = np.eye(k)[y] + rng.normal(0, 0.5, (n, k))
    x = np.abs(np.concatenate([x, rng.random((n, 5))], 1)).astype(np.float32)
    return validate_graph(x, np.stack([src, dst]), y, np.arange(0, 15), np.arange(15, 30),
                          np.arange(30, n))  # fmt: skip


@pytest.mark.parametrize("name", ["gcn", "gat", "appnp"])
def test_models_shapes_and_sparse_input(name: str) -> None:
    g = _blocks()
    torch.manual_seed(0)
    m = build_model(name, g.num_features, g.num_classes).eval()
    dense = m(g.x, g.edge_index)
    assert dense.shape == (60, 3) and torch.isfinite(dense).all()
    assert torch.allclose(m(g.x.to_sparse(), g.edge_index), dense, atol=1e-5)


def test_normalized_adjacency_matches_gcn_norm() -> None:
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    g = _blocks()
    ei, w = gcn_norm(g.edge_index, num_nodes=60, add_self_loops=True)
    ref = torch.sparse_coo_tensor(ei, w, (60, 60)).to_dense()
    assert torch.allclose(normalized_adjacency(g.edge_index, 60).to_dense(), ref.T, atol=1e-6)


def test_leave_one_out_agreement_equals_recomputation() -> None:
    g = _blocks()
    a = neighbour_label_agreement(g.y, g.edge_index, g.train_idx, 3, k=5, alpha=0.2)
    s = normalized_adjacency(g.edge_index, 60).to_dense()
    for j, i in enumerate(g.train_idx.tolist()[:4]):  # independent: propagate without node i
        others = g.train_idx[g.train_idx != i]
        y0 = torch.zeros(60, 3)
        y0[others] = F.one_hot(g.y[others], 3).float()
        y = y0
        for _ in range(5):
            y = 0.8 * (s @ y) + 0.2 * y0
        assert torch.allclose(a[j], y[i] / y[i].sum(), atol=1e-5)


def test_lp_correction_and_detection_find_flipped_labels() -> None:
    g = _blocks()
    noisy = g.y.clone()
    flipped = g.train_idx[[0, 4, 8]]
    noisy[flipped] = (noisy[flipped] + 1) % 3
    fixed = lp_correct(noisy, g.edge_index, g.train_idx, 3, margin=0.1)
    assert torch.equal(fixed[flipped], g.y[flipped])
    model = F.one_hot(g.y, 3).float() * 0.4 + 0.2  # a model that is right, without confidence
    quality, issue = graph_label_quality(noisy, model, g.edge_index, g.train_idx, lam=0.5)
    assert set(g.train_idx[issue].tolist()) == set(flipped.tolist())
    assert quality[issue].max() < quality[~issue].min()


def test_fullbatch_with_core_loss_and_selector_and_ppl() -> None:
    g = _blocks()
    model = build_model("gcn", g.num_features, 3)
    loss = build_loss("gce", num_classes=3, q=0.7)
    sel = build_selector("small_loss", num_examples=15, forget_rate=0.2)
    res = fit_fullbatch(model, g.x, g.edge_index, g.train_idx, g.y[g.train_idx], g.val_idx,
                        g.y[g.val_idx], epochs=30, loss=loss, selector=sel)  # fmt: skip
    assert res.logits.shape == (60, 3) and 0 <= res.best_epoch < 30
    out = ppl_fit(g.x, g.edge_index, g.y, g.train_idx, g.val_idx, g.y[g.val_idx], 3, epochs=30,
                  seed=1)  # fmt: skip
    test_acc = (out.logits[g.test_idx].argmax(1) == g.y[g.test_idx]).float().mean()
    assert out.val_accuracy >= 0.9 and test_acc >= 0.85 and not out.is_issue.any()
