"""Models, label propagation, neighbourhood-aware detection and PPL's prototypes on a tiny
planted-partition graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from labelnoise.tasks.graph.data import validate_graph
from labelnoise.tasks.graph.detection import graph_label_quality
from labelnoise.tasks.graph.models import build_model, normalized_adjacency
from labelnoise.tasks.graph.propagation import lp_correct, neighbour_label_agreement
from labelnoise.tasks.graph.robust import confident_per_class, prototype_probs, prototypes


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


def test_prototypes_and_confident_pseudo_labels_match_recomputation() -> None:
    g = _blocks()
    z = torch.rand(60, 4) + F.one_hot(g.y, 3).float() @ torch.rand(3, 4) * 3
    noisy = g.y.clone()
    noisy[g.train_idx[:2]] = (noisy[g.train_idx[:2]] + 1) % 3
    protos = prototypes(z, g.train_idx, noisy, 3)
    zn = z / z.norm(dim=1, keepdim=True)
    for c in range(3):  # independent: the normalised mean of the class's normalised rows
        mean = zn[g.train_idx[noisy[g.train_idx] == c]].mean(0)
        assert torch.allclose(protos[c], mean / mean.norm(), atol=1e-6)
    probs = prototype_probs(z, g.train_idx, noisy, 3, temperature=0.1)
    assert torch.allclose(probs, F.softmax(zn @ protos.T / 0.1, dim=1), atol=1e-6)
    ids, labels = confident_per_class(probs, 4)
    conf, pred = probs.max(1)
    for c in range(3):
        members = (pred == c).nonzero().flatten()
        top = members[conf[members].argsort(descending=True)[:4]]
        assert ids[labels == c].tolist() == top.tolist()
