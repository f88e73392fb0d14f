"""The pure functions of PPR prototype pseudo-labelling (the ``ppl`` method,
:mod:`labelnoise.methods.ppl`, trains with them through the engine).

* **Prototype teacher** (:func:`prototypes`, :func:`prototype_probs`). Class prototypes are
  the mean L2-normalised representation ``z`` (the personalised-PageRank features
  :func:`~labelnoise.tasks.graph.models.ppr_features`, APPNP's operator, Gasteiger et al.,
  ICLR 2019) of the nodes carrying each noisy label, optionally re-estimated from the nodes
  that agree with them (``clean_iters``). A class mean is a low-variance estimate under noise:
  with symmetric noise the true class keeps the plurality of its members, so cosine
  similarity to the prototypes ranks nodes robustly (the semantic labels of ERASE, Chen et
  al., CIKM 2024, and of prototype-based label correction).
* **Confident pseudo-labels** (:func:`confident_per_class`): the most confident nodes of each
  predicted class of a teacher (labelled or not).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["confident_per_class", "prototype_probs", "prototypes"]


def prototypes(
    z: Tensor, train_idx: Tensor, labels: Tensor, num_classes: int, *, clean_iters: int = 0
) -> Tensor:
    """``(K, D)`` L2-normalised class prototypes of the noisy labels.

    Args:
        z: ``(N, D)`` node representation (rows are L2-normalised here).
        train_idx: ``(M,)`` labelled nodes; labels: ``(N,)`` their (noisy) labels (only
            ``labels[train_idx]`` is read).
        clean_iters: re-estimate the prototypes this many times from the labelled nodes whose
            label is the current top class (classes left without such a node keep theirs).
            A class without any labelled node has a zero prototype.
    """
    zn = F.normalize(z, dim=1)
    y = labels[train_idx]
    keep = torch.ones_like(y, dtype=torch.bool)
    protos = None
    for _ in range(clean_iters + 1):
        onehot = F.one_hot(y[keep], num_classes).float()
        counts = onehot.sum(0)
        new = F.normalize(onehot.T @ zn[train_idx[keep]], dim=1)
        protos = new if protos is None else torch.where(counts[:, None] > 0, new, protos)
        keep = (zn[train_idx] @ protos.T).argmax(1) == y
    assert protos is not None
    return protos


def prototype_probs(
    z: Tensor,
    train_idx: Tensor,
    labels: Tensor,
    num_classes: int,
    *,
    clean_iters: int = 0,
    temperature: float = 0.05,
) -> Tensor:
    """``(N, K)`` softmax of cosine similarity to the class :func:`prototypes` of the noisy
    labels, divided by ``temperature``."""
    protos = prototypes(z, train_idx, labels, num_classes, clean_iters=clean_iters)
    return F.softmax(F.normalize(z, dim=1) @ protos.T / temperature, dim=1)


def confident_per_class(probs: Tensor, per_class: int) -> tuple[Tensor, Tensor]:
    """The ``per_class`` most confident nodes of each predicted class of ``probs`` ``(N, K)``:
    ``(ids, labels)``, class by class, most confident first."""
    conf, pred = probs.max(1)
    ids = []
    for c in range(probs.shape[1]):
        members = (pred == c).nonzero().flatten()
        ids.append(members[conf[members].argsort(descending=True)[:per_class]])
    sel = torch.cat(ids)
    return sel, pred[sel]
