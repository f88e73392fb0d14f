"""Node classifiers on torch_geometric: GCN, GAT, APPNP, and the decoupled PPR-MLP.

Every model maps the whole graph to ``(N, K)`` logits: ``model(x, edge_index)``. ``x`` may be a
dense ``(N, F)`` tensor or a sparse COO tensor (bag-of-words features are ~1 % dense); input
dropout on a sparse ``x`` drops its stored values, which is what dense dropout does to it.

* GCN: Kipf & Welling, ICLR 2017 (2 layers, 16 hidden units, dropout 0.5).
* GAT: Velickovic et al., ICLR 2018 (8 heads x 8 units, 1 output head, dropout 0.6).
* APPNP: Gasteiger et al., ICLR 2019 (MLP then K = 10 personalised-PageRank steps, alpha 0.1).
* ``ppr_mlp``: the same PPR operator applied to the features once, before an MLP (SGC-style
  decoupling, Wu et al., ICML 2019) -- call it on precomputed :func:`ppr_features`.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["MODELS", "build_model", "feature_dropout", "ppr_features"]

ModelName = Literal["gcn", "gat", "appnp", "ppr_mlp"]


def feature_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Dropout for a dense or sparse COO ``x`` (sparse: on the stored values)."""
    if not training or p == 0.0:
        return x
    if x.is_sparse:
        x = x.coalesce()
        return torch.sparse_coo_tensor(x.indices(), F.dropout(x.values(), p, True), x.shape)
    return F.dropout(x, p, True)


def _linear(x: Tensor, layer: nn.Linear) -> Tensor:
    if x.is_sparse:
        return torch.sparse.mm(x, layer.weight.t()) + layer.bias
    return layer(x)


class GCN(nn.Module):
    """Two-layer GCN; ``forward(x, edge_index) -> (N, K)``."""

    def __init__(self, in_dim: int, num_classes: int, *, hidden: int = 16, dropout: float = 0.5):
        super().__init__()
        from torch_geometric.nn import GCNConv

        self.conv1 = GCNConv(in_dim, hidden, cached=True)
        self.conv2 = GCNConv(hidden, num_classes, cached=True)
        self.dropout = dropout

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        h = F.relu(self.conv1(feature_dropout(x, self.dropout, self.training), edge_index))
        h = F.dropout(h, self.dropout, self.training)
        return self.conv2(h, edge_index)


class GAT(nn.Module):
    """Two-layer GAT; ``forward(x, edge_index) -> (N, K)``."""

    def __init__(
        self,
        in_dim: int,
        num_classes: int,
        *,
        hidden: int = 8,
        heads: int = 8,
        dropout: float = 0.6,
    ):
        super().__init__()
        from torch_geometric.nn import GATConv

        self.conv1 = GATConv(in_dim, hidden, heads=heads, dropout=dropout)
        self.conv2 = GATConv(hidden * heads, num_classes, heads=1, dropout=dropout)
        self.dropout = dropout

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        if x.is_sparse:
            x = x.to_dense()
        h = F.dropout(x, self.dropout, self.training)
        h = F.elu(self.conv1(h, edge_index))
        h = F.dropout(h, self.dropout, self.training)
        return self.conv2(h, edge_index)


class APPNPNet(nn.Module):
    """MLP followed by APPNP propagation; ``forward(x, edge_index) -> (N, K)``."""

    def __init__(
        self,
        in_dim: int,
        num_classes: int,
        *,
        hidden: int = 64,
        dropout: float = 0.5,
        k: int = 10,
        alpha: float = 0.1,
    ):
        super().__init__()
        from torch_geometric.nn import APPNP

        self.lin1 = nn.Linear(in_dim, hidden)
        self.lin2 = nn.Linear(hidden, num_classes)
        self.prop = APPNP(k, alpha, cached=True)
        self.dropout = dropout

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        h = F.relu(_linear(feature_dropout(x, self.dropout, self.training), self.lin1))
        h = self.lin2(F.dropout(h, self.dropout, self.training))
        return self.prop(h, edge_index)


class PPRMLP(nn.Module):
    """Two-layer MLP over precomputed PPR features (:func:`ppr_features`); ``edge_index`` is
    accepted and ignored so every model has the same call.

    Input dropout drops feature *columns* (one mask shared by the rows of a pass): the PPR
    features are dense, and an element-wise mask over all ``N x F`` entries costs more than the
    rest of the step on a CPU. Hidden dropout is element-wise.
    """

    def __init__(self, in_dim: int, num_classes: int, *, hidden: int = 64, dropout: float = 0.5):
        super().__init__()
        self.lin1 = nn.Linear(in_dim, hidden)
        self.lin2 = nn.Linear(hidden, num_classes)
        self.dropout = dropout

    def forward(self, x: Tensor, edge_index: Tensor | None = None) -> Tensor:
        if self.training and self.dropout > 0:
            keep = torch.rand(x.shape[1], device=x.device) >= self.dropout
            x = x * (keep / (1 - self.dropout))
        h = F.relu(self.lin1(x))
        return self.lin2(F.dropout(h, self.dropout, self.training))


MODELS: dict[str, type[nn.Module]] = {
    "gcn": GCN,
    "gat": GAT,
    "appnp": APPNPNet,
    "ppr_mlp": PPRMLP,
}


def build_model(
    name: str,
    in_dim: int,
    num_classes: int,
    *,
    hidden: int | None = None,
    dropout: float | None = None,
) -> nn.Module:
    """A fresh model from :data:`MODELS` (``None`` keeps the paper's width / dropout)."""
    if name not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}; got {name!r}")
    kwargs = {k: v for k, v in (("hidden", hidden), ("dropout", dropout)) if v is not None}
    return MODELS[name](in_dim, num_classes, **kwargs)


def normalized_adjacency(edge_index: Tensor, num_nodes: int) -> Tensor:
    """``D^-1/2 (A + I) D^-1/2`` as a sparse CSR ``(N, N)`` tensor (GCN's operator)."""
    loops = torch.arange(num_nodes)
    ei = torch.cat([edge_index, torch.stack([loops, loops])], dim=1)
    idx = torch.sparse_coo_tensor(ei, torch.ones(ei.shape[1]), (num_nodes, num_nodes))
    idx = idx.coalesce().indices()
    deg = torch.bincount(idx[0], minlength=num_nodes).float()
    vals = deg[idx[0]].rsqrt() * deg[idx[1]].rsqrt()
    a = torch.sparse_coo_tensor(idx, vals, (num_nodes, num_nodes), is_coalesced=True)
    return a.to_sparse_csr()


def ppr_features(x: Tensor, edge_index: Tensor, *, k: int = 10, alpha: float = 0.1) -> Tensor:
    """``K`` steps of APPNP's personalised PageRank on the features:
    ``H <- (1 - alpha) S H + alpha X`` with ``S = D^-1/2 (A + I) D^-1/2``. Returns ``(N, F)``."""
    x = x.to_dense() if x.is_sparse else x
    s = normalized_adjacency(edge_index, x.shape[0])
    h = x
    for _ in range(k):
        h = (1 - alpha) * (s @ h) + alpha * x
    return h
