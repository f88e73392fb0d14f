"""Instance collaboration of CoLaDa (Ma et al., ACL 2023): how much a token's (pseudo-)label
agrees with its nearest neighbours' in a representation space (:func:`knn_consistency`), the
weights :mod:`labelnoise.methods.colada` trusts its pseudo-labels by. Any token labelling with
IOB2 tags (``partner_labels`` pairs ``B-X`` with ``I-X``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["knn_consistency", "partner_labels"]


def partner_labels(class_names: list[str]) -> Tensor:
    """``(C,)`` the id of each tag's B/I partner of the same type (``O``: -1, no partner)."""
    index = {n: i for i, n in enumerate(class_names)}
    out = []
    for n in class_names:
        other = {"B-": "I-", "I-": "B-"}.get(n[:2])
        out.append(index.get(f"{other}{n[2:]}", -1) if other else -1)
    return torch.tensor(out, dtype=torch.long)


@torch.no_grad()
def knn_consistency(
    reprs: Tensor,
    labels: Tensor,
    partner: Tensor,
    *,
    k: int,
    sm_k: float = 1.0,
    emu: float = 1.0,
    ealpha: float = 6.0,
    reference: Tensor | None = None,
    chunk: int = 4096,
) -> Tensor:
    """``(N,)`` kNN label-consistency weights in ``(0, 1]`` (module docstring).

    Args:
        reprs: ``(N, D)`` token representations (cosine similarity).
        labels: ``(N,)`` the tokens' (pseudo-)label ids.
        partner: ``(C,)`` B/I partner ids (:func:`partner_labels`).
        k: neighbours, at most ``len(reference) - 1``.
        reference: ``(R,)`` indices of the tokens neighbours are searched among (None: all);
            a token is never its own neighbour.
    """
    n = reprs.shape[0]
    if labels.shape != (n,):
        raise ValueError(f"labels must be ({n},); got {tuple(labels.shape)}")
    ref = torch.arange(n) if reference is None else reference.long()
    if ref.numel() < 2:
        raise ValueError(f"the reference set must hold >= 2 tokens; got {ref.numel()}")
    k = min(k, ref.numel() - 1)
    z = F.normalize(reprs.float(), dim=1)
    zr, lr = z[ref].T.contiguous(), labels[ref]
    align = torch.empty(n)
    for s in range(0, n, chunk):
        sim = z[s : s + chunk] @ zr  # (b, R)
        rows = torch.arange(s, min(s + chunk, n))
        is_self = ref[None, :] == rows[:, None]
        sim.masked_fill_(is_self, float("-inf"))
        nb = lr[sim.topk(k, dim=1).indices]  # (b, k) neighbour labels
        own = labels[rows]
        align[rows] = ((nb == own[:, None]) | (nb == partner[own][:, None])).sum(1).float()
    t = torch.empty(n)
    for c in labels.unique():
        m = labels == c
        t[m] = (align[m] + sm_k) / (align[m].max() + sm_k)
        t[m] = torch.sigmoid(ealpha * (t[m] - emu * t[m].mean()))
        t[m] = t[m] / t[m].max()
    return t
