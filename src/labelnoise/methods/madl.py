"""``madl``: Multi-annotator Deep Learning (Herde, Huseljic & Sick, "Multi-annotator Deep
Learning: A Probabilistic Framework for Classification", TMLR 2023; authors' code
``ies-research/multi-annotator-deep-learning``, ``lfma/modules/_madl_module.py``).

Two models are trained jointly by the likelihood of the observed answers:

* the ground-truth (GT) model, the task's network: ``p(y | x) = softmax(f(x))`` ``(B, C)``;
* the annotator-performance (AP) model: for an item and an annotator, a confusion matrix
  ``P(z | y, x, a) = softmax_z(L)``, ``L (C, C)`` from the annotator's embedding ``e_a``
  (``Q`` numbers, a linear map of the annotator's one-hot code) and, with
  ``instance_features`` (default), the item's embedding ``e_x`` (a linear map of the GT
  model's penultimate features, detached): ``h = [e_a, e_x, outer(e_a + e_x)]``,
  ``h = relu(MLP(h) + e_a)`` (MLP: ``3Q -> hidden -> Q`` with BatchNorm, residual on
  ``e_a``), ``L = Linear(h)``. The output bias starts at ``log(eta (C - 1) / (1 - eta))`` on
  the diagonal: every annotator is first ``eta``-correct (prior performance, default 0.8).

The loss of the observed answers ``z`` of annotator ``a`` on item ``x``::

    log p(z | x, a) = logsumexp_y [ log p(y | x) + log P(z | y, x, a) ]
    loss = sum_answers w_a * (-log p(z | x, a)) / #answers  -  log Gamma(gamma; alpha, beta)

with annotator weights ``w`` from the similarity of the (detached) annotator embeddings,
``S = exp(-gamma ||e_a - e_b||^2)``, ``w_a ∝ 1 / sum_b S_ab`` (mean 1), so groups of
similar annotators (e.g. spammers) do not dominate; the RBF bandwidth ``gamma`` is learned
under a ``Gamma(alpha, beta)`` prior (started at its mode). Evaluation, model selection and
the saved model use the GT model alone. Every parameter lives in the model (:class:`MaDLNet`),
so checkpoints carry them and a resumed run continues exactly.

Simplified from the authors' code: the AP model runs on the observed (item, annotator) pairs
of the batch only, not on every item x every annotator (the loss is the same; BatchNorm
statistics then come from the observed pairs); only the ``full`` confusion matrix; the GT
model's penultimate features are the input of its last ``nn.Linear``; the configured ``loss``
and ``selector`` are not used. Data without annotators trains one annotator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labelnoise.methods._answers import num_annotators, observed_pairs
from labelnoise.methods.base import Method, StepOutput

__all__ = ["MaDL", "MaDLNet", "MaDLOptions", "madl_pair_nll"]


@dataclass
class MaDLOptions:
    """Options of ``method: {name: madl, ...}`` (defaults: the authors').

    Attributes:
        embed_size: ``Q``, size of the annotator and item embeddings (``>= 1``). Default 16.
        hidden: width of the AP model's hidden layer (``>= 1``). Default 128.
        eta: prior probability of a correct answer, in ``(0, 1)``. Default 0.8.
        instance_features: the AP model also sees the item (otherwise one confusion matrix
            per annotator, the class-conditional model). Default True.
        annotator_weights: weight the answers by the annotators' embedding similarity
            (module doc). Default True.
        alpha, beta: the Gamma prior of the RBF bandwidth (``> 0``). Defaults 1.25, 0.25.
        num_annotators: annotators to embed (``>= 1``); ``None`` (default): the task's.

    Raises:
        ValueError: naming the field (``method.eta``, ...) and the received value.
    """

    embed_size: int = 16
    hidden: int = 128
    eta: float = 0.8
    instance_features: bool = True
    annotator_weights: bool = True
    alpha: float = 1.25
    beta: float = 0.25
    num_annotators: int | None = None

    def __post_init__(self) -> None:
        for key in ("embed_size", "hidden"):
            if getattr(self, key) < 1:
                raise ValueError(f"method.{key} must be >= 1; got {getattr(self, key)!r}")
        if not 0.0 < self.eta < 1.0:
            raise ValueError(f"method.eta must be in (0, 1); got {self.eta!r}")
        for key in ("alpha", "beta"):
            if not getattr(self, key) > 0:
                raise ValueError(f"method.{key} must be > 0; got {getattr(self, key)!r}")
        n = self.num_annotators
        if n is not None and (isinstance(n, bool) or n < 1):
            raise ValueError(f"method.num_annotators must be >= 1 or null; got {n!r}")


def madl_pair_nll(logits: Tensor, perf_logits: Tensor, rows: Tensor, label: Tensor) -> Tensor:
    """``(P,)`` ``-log p(z | x, a) = -logsumexp_y [log p(y|x) + log P(z|y,x,a)]``.

    Args:
        logits: ``(B, C)`` GT class logits.
        perf_logits: ``(P, C, C)`` confusion logits of each answer, ``[y, z]``.
        rows, label: ``(P,)`` each answer's item (row of ``logits``) and answered class.
    """
    log_p = logits.float().log_softmax(-1)[rows]  # (P, C)
    log_conf = perf_logits.float().log_softmax(-1)  # (P, C_true, C_answer)
    log_annot = torch.logsumexp(log_p[:, :, None] + log_conf, dim=1)  # (P, C_answer)
    return F.nll_loss(log_annot, label, reduction="none")


class MaDLNet(nn.Module):
    """The GT network plus the AP model (module doc). ``forward(x)``: the GT logits; the
    penultimate features of the last call are kept for :meth:`perf_logits`."""

    def __init__(self, net: nn.Module, num_annotators: int, num_classes: int, o: MaDLOptions):
        super().__init__()
        linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise ValueError("method 'madl' needs a network that ends in an nn.Linear; got none")
        self.net, q, c = net, o.embed_size, num_classes
        self.num_classes, self.instance_features = c, o.instance_features
        self.embed_a = nn.Linear(num_annotators, q)  # on the one-hot code: a row of weight.T
        if o.instance_features:
            self.embed_x = nn.Linear(linears[-1].in_features, q)
            self.outer = nn.Parameter(nn.init.xavier_uniform_(torch.empty(q, q, q)))
            self.hidden = nn.Sequential(
                nn.Linear(3 * q, o.hidden),
                nn.BatchNorm1d(o.hidden),
                nn.ReLU(),
                nn.Linear(o.hidden, q),
                nn.BatchNorm1d(q),
            )
        self.out = nn.Linear(q, c * c)
        with torch.no_grad():  # prior performance eta on the diagonal
            self.out.bias.copy_((math.log(o.eta * (c - 1) / (1 - o.eta)) * torch.eye(c)).flatten())
        if o.annotator_weights:
            self.gamma = nn.Parameter(torch.tensor(max(0.0, (o.alpha - 1) / o.beta)))
            self.alpha, self.beta = o.alpha, o.beta
        self._features: Tensor | None = None
        linears[-1].register_forward_pre_hook(self._keep_features)

    def _keep_features(self, module: nn.Module, args: tuple[Tensor, ...]) -> None:
        self._features = args[0]

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def annotator_embedding(self, annotator: Tensor | None = None) -> Tensor:
        """``(P, Q)`` embeddings of ``annotator`` codes (all annotators when None)."""
        w = self.embed_a.weight.t()  # (A, Q): the one-hot code times the weight
        return (w if annotator is None else w[annotator]) + self.embed_a.bias

    def perf_logits(self, rows: Tensor, annotator: Tensor) -> Tensor:
        """``(P, C, C)`` confusion logits ``[y, z]`` of the answers ``(rows, annotator)``
        (rows of the last :meth:`forward`'s batch)."""
        e_a = self.annotator_embedding(annotator)
        h = e_a
        if self.instance_features:
            assert self._features is not None, "perf_logits needs a forward pass first"
            e_x = self.embed_x(self._features.detach().flatten(1).float())[rows]
            s = e_a + e_x
            op = torch.einsum("be,bm,pem->bp", s, s, self.outer)
            h = F.relu(self.hidden(torch.cat([e_a, e_x, op], dim=-1)) + e_a)
        return self.out(h).view(-1, self.num_classes, self.num_classes)

    def weights_and_prior(self) -> tuple[Tensor | None, Tensor]:
        """``(w (A,), -log Gamma(gamma))``: the annotator weights (None without them) and
        the bandwidth's prior term of the loss."""
        if not hasattr(self, "gamma"):
            return None, torch.zeros((), device=self.out.bias.device)
        gamma = self.gamma.clamp_min(1e-3)
        e = self.annotator_embedding().detach()
        sims = torch.exp(-gamma * torch.cdist(e, e) ** 2)
        inv = 1.0 / sims.sum(0)
        w = inv / inv.sum() * len(inv)
        prior = torch.distributions.Gamma(
            torch.tensor(self.alpha, device=gamma.device),
            torch.tensor(self.beta, device=gamma.device),
        )
        return w, -prior.log_prob(gamma)


class MaDL(Method):
    """The GT and AP models trained on every answer (module doc)."""

    name = "madl"
    Options = MaDLOptions
    tasks = frozenset({"classification"})

    def build_model(self, splits: Any) -> nn.Module:
        n = num_annotators(splits, self.options.num_annotators, self.name)
        net = self.run.adapter.build_model(splits)
        return MaDLNet(net, n, splits.num_classes, self.options)

    def step(self, batch: Any) -> StepOutput:
        model = self.nets[0].model
        net: MaDLNet = self.run.accelerator.unwrap_model(model)
        units = self.run.adapter.units(model, batch)
        rows, annotator, label = observed_pairs(batch, net.embed_a.in_features)
        nll = madl_pair_nll(units.pred, net.perf_logits(rows, annotator), rows, label)
        self.check_finite(nll)
        w, prior = net.weights_and_prior()
        weighted = nll if w is None else nll * w[annotator]
        loss = weighted.sum() / max(len(nll), 1) + prior
        b = units.pred.shape[0]
        per_item = torch.zeros(b, device=nll.device).index_add(0, rows, nll.detach())
        count = torch.bincount(rows, minlength=b).clamp_min(1)
        return StepOutput(loss, units, per_item / count)
