"""PPR prototype pseudo-labelling (``ppl``): our graph-specific robust training.

Noisy training labels are never fit directly. Instead:

1. **Structure-denoised representation.** ``Z = PPR(X)`` (APPNP's personalised-PageRank
   operator applied to the features, Gasteiger et al., ICLR 2019), label-free, once per graph.
2. **Prototype teacher.** Class prototypes are the mean normalised ``Z`` of the nodes carrying
   each noisy label (optionally re-estimated from the nodes that agree with them,
   ``clean_iters``). A class mean is a low-variance estimate under noise: with symmetric noise
   the true class keeps the plurality of its members, so cosine similarity to the prototypes
   ranks nodes robustly (the semantic labels of ERASE, Chen et al., CIKM 2024, and of
   prototype-based label correction).
3. **Confident pseudo-labels.** The ``frac * N / K`` most confident nodes of each predicted
   class (labelled or not), plus the labelled nodes whose noisy label is the teacher's top
   class (small-loss-style agreement), become the training set of a PPR-MLP student, taken at
   its best clean-validation accuracy; ``rounds > 1`` repeats step 3 with the best model so
   far as the teacher (self-training, Li et al., AAAI 2018).
4. **Selection at the best clean-validation accuracy** (ERASE's protocol) over the whole
   trajectory: every round's student is a candidate and so is the prototype teacher itself;
   each round learns from the best candidate so far and the best one is returned.

Training nodes whose noisy label disagrees with the final teacher are the flagged label
issues (:class:`PPLResult`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from labelnoise.tasks.graph.fullbatch import fit_fullbatch
from labelnoise.tasks.graph.models import PPRMLP, ppr_features

__all__ = ["PPLResult", "confident_per_class", "ppl_fit", "prototype_probs"]


@dataclass(frozen=True)
class PPLResult:
    """Outcome of :func:`ppl_fit`.

    Attributes:
        logits: ``(N, K)`` log-probabilities of the selected model (best clean-validation
            accuracy among the teacher and the students).
        teacher_probs: ``(N, K)`` prototype-teacher probabilities.
        quality: ``(M,)`` teacher probability of each training node's noisy label.
        is_issue: ``(M,)`` bool, the noisy label is not the teacher's top class.
        val_accuracy: validation accuracy of the selected model.
    """

    logits: Tensor
    teacher_probs: Tensor
    quality: Tensor
    is_issue: Tensor
    val_accuracy: float


def prototype_probs(
    z: Tensor,
    train_idx: Tensor,
    labels: Tensor,
    num_classes: int,
    *,
    clean_iters: int = 0,
    temperature: float = 0.05,
) -> Tensor:
    """``(N, K)`` softmax of cosine similarity to the class prototypes of the noisy labels.

    Args:
        z: ``(N, D)`` node representation (rows are L2-normalised here).
        train_idx: ``(M,)`` labelled nodes; labels: ``(N,)`` their (noisy) labels.
        clean_iters: re-estimate the prototypes this many times from the labelled nodes whose
            label is the current top class (classes left without such a node keep theirs).
        temperature: softmax temperature of the cosine similarities.
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
    return F.softmax(zn @ protos.T / temperature, dim=1)


def confident_per_class(probs: Tensor, per_class: int) -> tuple[Tensor, Tensor]:
    """The ``per_class`` most confident nodes of each predicted class: ``(ids, labels)``."""
    conf, pred = probs.max(1)
    ids = []
    for c in range(probs.shape[1]):
        members = (pred == c).nonzero().flatten()
        ids.append(members[conf[members].argsort(descending=True)[:per_class]])
    sel = torch.cat(ids)
    return sel, pred[sel]


def ppl_fit(
    x: Tensor,
    edge_index: Tensor,
    labels: Tensor,
    train_idx: Tensor,
    val_idx: Tensor,
    val_labels: Tensor,
    num_classes: int,
    *,
    z: Tensor | None = None,
    frac: float = 0.3,
    rounds: int = 2,
    clean_iters: int = 0,
    keep_agreeing: bool = True,
    hidden: int = 64,
    dropout: float = 0.5,
    epochs: int = 200,
    lr: float = 0.01,
    weight_decay: float = 5e-4,
    seed: int = 0,
) -> PPLResult:
    """Run PPR prototype pseudo-labelling (module docstring).

    Args:
        x: ``(N, F)`` features, dense or sparse COO; edge_index: ``(2, E)``.
        z: precomputed :func:`~labelnoise.tasks.graph.models.ppr_features` (computed if None;
            pass it when running many seeds on one graph).
        labels: ``(N,)`` noisy labels (read at ``train_idx``).
        val_idx, val_labels: clean validation nodes, used only to select checkpoints.
        frac: pseudo-labels per class, as a fraction of ``N / K``.
        rounds: teacher -> student rounds.
        keep_agreeing: also train on the labelled nodes whose noisy label is the teacher's
            top class (with that label).
    """
    if z is None:
        z = ppr_features(x, edge_index)
    n = z.shape[0]
    teacher = prototype_probs(z, train_idx, labels, num_classes, clean_iters=clean_iters)
    best_probs = teacher
    best_acc = float((teacher[val_idx].argmax(1) == val_labels).float().mean())
    model = PPRMLP(z.shape[1], num_classes, hidden=hidden, dropout=dropout)
    for r in range(rounds):
        sel, pseudo = confident_per_class(best_probs, max(1, int(frac * n / num_classes)))
        if keep_agreeing:
            agree = train_idx[best_probs[train_idx].argmax(1) == labels[train_idx]]
            fresh = ~torch.isin(sel, agree)
            sel = torch.cat([sel[fresh], agree])
            pseudo = torch.cat([pseudo[fresh], labels[agree]])
        result = fit_fullbatch(
            model, z, edge_index, sel, pseudo, val_idx, val_labels,
            epochs=epochs, lr=lr, weight_decay=weight_decay, seed=seed + 7919 * r,
        )  # fmt: skip
        if result.val_accuracy > best_acc:
            best_acc, best_probs = result.val_accuracy, F.softmax(result.logits, dim=1)
    y = labels[train_idx]
    quality = teacher[train_idx].gather(1, y[:, None]).squeeze(1)
    return PPLResult(
        best_probs.clamp_min(1e-12).log(), teacher, quality, teacher[train_idx].argmax(1) != y,
        best_acc,
    )  # fmt: skip
