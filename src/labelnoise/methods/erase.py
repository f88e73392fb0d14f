"""``erase``: ERASE, error-resilient representation learning on graphs (node classification).

Chen, Zhang, Huang, Su, Lin, Xiao, Xia & Liu, "ERASE: Error-Resilient Representation Learning
on Graphs for Label Noise Tolerance", CIKM 2024 (code: github.com/eraseai/erase, read for the
loss terms and defaults). A GAT encoder maps every node to ``z (N, D)`` and is trained with the
maximal coding rate reduction (:func:`~labelnoise.common.losses.mcr2.mcr2_loss`) of all ``N``
representations under labels that are re-derived at every step:

1. **Structural pre-correction** (once, before training): the noisy one-hot training labels
   ``Y0`` are propagated ``T`` steps over the training-to-training edges only,
   ``Y <- (1 - alpha) A_tr Y + alpha Y`` with ``A_tr = A D^-1`` (column-normalised adjacency of
   that subgraph, as the authors' ``normalize_adj_row``); ``Y_pre (N, K)`` is 0 off the
   training nodes.
2. **Prototype pseudo-labels / semantic labels** (every step, no gradient): prototypes are the
   class means of the training nodes' ``z`` grouped by ``argmax Y_pre``;
   ``Y_sem = softmax(beta Y_pre + (1 - beta) |cos(z, prototypes)|)`` over every node.
3. **Decoupled label propagation** (every step): ``T`` steps of
   ``Y <- (1 - alpha) A Y + alpha Y`` over the whole graph (``A = A D^-1``); the labels of the
   loss are ``L = argmax Y`` for all ``N`` nodes.
4. **Loss**: ``-gam2 R(Z) + gam1 Rc(Z | L)`` with ``eps^2 = eps_sq``.

**Prediction** (ERASE's ``Linear_classifier``): after every epoch a logistic regression
(scikit-learn, lbfgs, ``max_iter = 1000``) is fitted on the L2-normalised eval-mode ``z`` of
the training nodes with their labels ``L`` of that epoch's step; its weights are copied into a
frozen linear head of network 0, so the engine evaluates, selects (best clean-validation
accuracy, ERASE's protocol) and saves exactly that classifier. One full-graph step per epoch.

Encoder (the authors' Planetoid model): GAT, ``GATConv(F, hidden / heads, heads)`` ->
leaky ReLU -> L1 row normalisation -> ``GATConv(hidden, embedding, 1)`` -> L1 row
normalisation -> ReLU; input dropout. ``task.model`` / ``hidden`` / ``dropout`` are not used.
Defaults are the authors' Cora settings (``gam1 1, gam2 2, eps 0.05, alpha 0.6, beta 0.6,
T 5``; hidden 256, embedding 512, 8 heads, dropout 0.5; Adam lr 1e-3, weight decay 5e-4,
400 epochs, patience 150).

Simplified: Adam without AMSGrad (the engine's ``adam``); a class without pre-corrected
training nodes gets a zero prototype (the authors' code fails); the adjacency is sparse.
``erase.json`` in the run directory: the training nodes (split positions) whose ERASE label
under the selected network (eval mode) differs from the given label, and those labels.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from labelnoise._io import atomic_write
from labelnoise.common.losses.mcr2 import mcr2_loss
from labelnoise.methods.base import Method, StepOutput
from labelnoise.tasks.graph.adapter import GraphAdapter, GraphModel, node_labels
from labelnoise.tasks.graph.erase import column_normalized, erase_labels, precorrect
from labelnoise.tasks.graph.models import feature_dropout

__all__ = ["Erase", "EraseOptions"]


@dataclass
class EraseOptions:
    """Options of ``method: {name: erase}`` (defaults: the authors' Cora settings).

    Attributes:
        alpha: weight of the current labels in each propagation step, in ``[0, 1]`` (0.6).
        beta: weight of the pre-corrected labels against the prototype similarity, in
            ``[0, 1]`` (0.6).
        T: propagation steps, >= 0 (5).
        gam1, gam2: weights of ``Rc`` and ``R`` in the MCR^2 loss, >= 0 (1, 2).
        eps_sq: ``eps^2`` of the coding rate, > 0 (0.05; ERASE's ``eps``).
        hidden, embedding, heads: encoder widths and attention heads (256, 512, 8;
            ``hidden`` must be a multiple of ``heads``).
        dropout: input dropout in ``[0, 1)`` (0.5).
    """

    alpha: float = 0.6
    beta: float = 0.6
    T: int = 5
    gam1: float = 1.0
    gam2: float = 2.0
    eps_sq: float = 0.05
    hidden: int = 256
    embedding: int = 512
    heads: int = 8
    dropout: float = 0.5

    def __post_init__(self) -> None:
        for key in ("alpha", "beta"):
            if not 0 <= getattr(self, key) <= 1:
                raise ValueError(f"method.{key} must be in [0, 1]; got {getattr(self, key)!r}")
        if self.T < 0:
            raise ValueError(f"method.T must be >= 0; got {self.T!r}")
        for key in ("gam1", "gam2"):
            v = getattr(self, key)
            if not (v >= 0 and math.isfinite(v)):
                raise ValueError(f"method.{key} must be a finite number >= 0; got {v!r}")
        if not (self.eps_sq > 0 and math.isfinite(self.eps_sq)):
            raise ValueError(f"method.eps_sq must be a finite number > 0; got {self.eps_sq!r}")
        for key in ("hidden", "embedding", "heads"):
            if getattr(self, key) < 1:
                raise ValueError(f"method.{key} must be >= 1; got {getattr(self, key)!r}")
        if self.hidden % self.heads:
            raise ValueError(
                f"method.hidden must be a multiple of method.heads = {self.heads}; "
                f"got {self.hidden}"
            )
        if not 0 <= self.dropout < 1:
            raise ValueError(f"method.dropout must be in [0, 1); got {self.dropout!r}")


class _SparseInput(nn.Module):
    """GATConv's input projection on a sparse COO ``x`` (bag-of-words features are ~1 %
    dense: a sparse product instead of a dense ``N x F`` one); same weight and init."""

    def __init__(self, lin: Any) -> None:
        super().__init__()
        self.lin: Any = lin

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        return torch.sparse.mm(x, self.lin.weight.T) if x.is_sparse else self.lin(x)


class EraseEncoder(nn.Module):
    """ERASE's two-layer GAT encoder (module docstring) and a frozen linear head:
    ``encode(x, edge_index) -> (N, embedding)``, ``forward -> (N, K)`` head logits."""

    def __init__(self, in_dim: int, num_classes: int, o: EraseOptions) -> None:
        super().__init__()
        from torch_geometric.nn import GATConv

        self.conv1 = GATConv(in_dim, o.hidden // o.heads, heads=o.heads)
        self.conv1.lin = _SparseInput(self.conv1.lin)
        self.conv2 = GATConv(o.hidden, o.embedding, heads=1)
        self.dropout = o.dropout
        self.head = nn.Linear(o.embedding, num_classes)
        for p in self.head.parameters():
            p.requires_grad_(False)
            p.zero_()

    def encode(self, x: Tensor, edge_index: Tensor) -> Tensor:
        h = feature_dropout(x, self.dropout, self.training)
        h = F.normalize(F.leaky_relu(self.conv1(h, edge_index)), p=1.0, dim=1)
        return F.relu(F.normalize(self.conv2(h, edge_index), p=1.0, dim=1))

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return self.head(F.normalize(self.encode(x, edge_index), dim=1))


class Erase(Method):
    """MCR^2 on a GAT's node representations under ERASE's labels (module docstring)."""

    name = "erase"
    Options = EraseOptions
    tasks = frozenset({"graph"})
    single_process = True

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        if cfg.detection.method == "dynamics":
            raise ValueError(
                "detection.method must be 'kfold' or 'none' for method 'erase' (its loss is on "
                "representations: no per-node training dynamics); got 'dynamics'"
            )
        if cfg.selector.name != "none":
            raise ValueError(
                f"selector.name must be 'none' for method 'erase' (it labels every node itself); "
                f"got {cfg.selector.name!r}"
            )
        if cfg.train.eval_every != 1:
            raise ValueError(
                f"train.eval_every must be 1 for method 'erase' (the head is refitted every "
                f"epoch); got {cfg.train.eval_every}"
            )

    def train_dataset(self, train: Dataset) -> Dataset:
        o, adapter = self.options, self.run.adapter
        assert isinstance(adapter, GraphAdapter)
        g = self.graph = adapter.graph
        _, self.train_nodes, self.noisy, labels = node_labels(train, g.num_nodes)
        self.y_pre = precorrect(
            labels, g.edge_index, self.train_nodes, g.num_classes, alpha=o.alpha, T=o.T
        )
        self.adj = column_normalized(g.edge_index, g.num_nodes)
        self.step_labels = self.noisy.clone()  # the training nodes' labels of the last step
        return train

    def build_model(self, splits: Any) -> nn.Module:
        g = self.graph
        net = EraseEncoder(g.num_features, g.num_classes, self.options)
        return GraphModel(net, g.x if g.x.is_sparse else g.x.to_sparse(), g.edge_index)

    def _module(self) -> GraphModel:
        module = self.run.accelerator.unwrap_model(self.nets[0].model)
        assert isinstance(module, GraphModel)
        return module

    def _encode(self) -> Tensor:
        """``(N, embedding)`` representations of network 0 (current mode, with gradients)."""
        module = self._module()
        net = module.net
        assert isinstance(net, EraseEncoder)
        x, edge_index = module.x, module.edge_index
        assert isinstance(x, Tensor) and isinstance(edge_index, Tensor)
        return net.encode(x, edge_index)

    def epoch_batches(self, epoch: int, skip: int) -> Iterable[Any]:
        return [] if skip > 0 else [{}]  # one full-graph step per epoch

    def _labels(self, z: Tensor) -> Tensor:
        o = self.options
        return erase_labels(
            z, self.y_pre, self.train_nodes, self.adj, alpha=o.alpha, beta=o.beta, T=o.T
        )

    def step(self, batch: Any) -> StepOutput:
        o = self.options
        z = self._encode()
        labels = self._labels(z.detach())
        loss, _, _ = mcr2_loss(
            z.float(),
            labels,
            self.graph.num_classes,
            eps=math.sqrt(o.eps_sq),
            gam1=o.gam1,
            gam2=o.gam2,
        )
        self.check_finite(loss.reshape(1))
        self.step_labels = labels[self.train_nodes.to(labels.device)].cpu()
        return StepOutput(loss)

    def _eval_z(self) -> Tensor:
        module = self._module()
        was = module.training
        module.eval()
        with torch.no_grad():
            z = self._encode().float()
        module.train(was)
        return z

    def on_epoch_end(self, epoch: int) -> None:
        """Fit ERASE's logistic regression on the training nodes and write it into the head."""
        from sklearn.linear_model import LogisticRegression

        z = F.normalize(self._eval_z(), dim=1).cpu()
        x, y = z[self.train_nodes].double().numpy(), self.step_labels.numpy()
        k, d = self.graph.num_classes, z.shape[1]
        weight, bias = torch.zeros(k, d), torch.full((k,), -1e4)
        classes = sorted(set(y.tolist()))
        if len(classes) == 1:
            bias[classes[0]] = 0.0
        else:
            clf = LogisticRegression(solver="lbfgs", max_iter=1000).fit(x, y)
            coef, icpt = torch.from_numpy(clf.coef_).float(), torch.from_numpy(clf.intercept_)
            if len(classes) == 2:  # one row: class classes[1] against classes[0]
                coef, icpt = torch.cat([torch.zeros_like(coef), coef]), torch.cat([icpt * 0, icpt])
            for row, c in enumerate(clf.classes_.tolist()):
                weight[c], bias[c] = coef[row], float(icpt[row])
        net = self._module().net
        assert isinstance(net, EraseEncoder)
        head = net.head
        with torch.no_grad():
            head.weight.copy_(weight.to(head.weight.device))
            head.bias.copy_(bias.to(head.bias.device))

    def after_training(self) -> None:
        if not self.run.accelerator.is_main_process:
            return
        labels = self._labels(self._eval_z()).cpu()[self.train_nodes]
        issue = (labels != self.noisy).nonzero().flatten()
        with atomic_write(self.run.run_dir / "erase.json") as f:
            json.dump({"issues": issue.tolist(), "labels": labels.tolist()}, f)

    def state_dict(self) -> dict[str, Any]:
        return {"step_labels": self.step_labels}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step_labels = state["step_labels"]
