"""TABASCO's two-stage bi-dimensional sample selection (Lu et al., ICCV 2023): the weighted
JS divergence (WJSD), the adaptive centroid distance (ACD) and the per-class choice between them.
The method that trains with it, and the formulas: :mod:`labelnoise.methods.tabasco`."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["acd", "select", "wjsd"]


def _kl(p: Tensor, q: Tensor) -> Tensor:
    return (p * ((p + 1e-10) / (q + 1e-10)).log()).sum(1)


def wjsd(probs: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """``(N,)`` weighted JS divergence of softmax ``probs (N, C)`` to ``onehot(labels)``."""
    p, y = probs.double(), labels.long()
    out = torch.zeros(len(y), dtype=torch.float64)
    onehot = F.one_hot(y, num_classes).double()
    m = (p + onehot) / 2
    jsd = 0.5 * _kl(p, m) + 0.5 * _kl(onehot, m)
    for c in y.unique().tolist():
        idx = y == c
        pbar = p[idx].mean(0)
        cap = float(pbar.max() / pbar[c].clamp_min(1e-12))
        w = (p[idx].max(1).values / p[idx, c].clamp_min(1e-12)).clamp(1.0, max(cap, 1.0))
        out[idx] = w * jsd[idx]
    return out


def acd(
    probs: Tensor, feats: Tensor, labels: Tensor, num_classes: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Adaptive centroid similarity ``(N,)``, the centroids ``(C, D)`` and each class's number
    of high-confidence examples ``(C,)`` (module docstring)."""
    p, y = probs.double(), labels.long()
    z = F.normalize(feats.double() - feats.double().mean(0), dim=1)
    cents = torch.zeros(num_classes, z.shape[1], dtype=torch.float64)
    counts = torch.zeros(num_classes, dtype=torch.long)
    for c in y.unique().tolist():
        idx = y == c
        pc = p[idx].clone()
        pbar = pc.mean(0)
        a = int(pbar.argmax())
        pc[:, a] = pc[:, a] * (pc[:, a] / pbar[a]).clamp_min(1.0)
        ptil = pc.mean(0)
        a2 = int(ptil.argmax())
        conf = (p[idx].argmax(1) == a2) & (p[idx, a2] > ptil[a2])
        counts[c] = int(conf.sum()) if conf.any() else int(idx.sum())
        cents[c] = (z[idx][conf] if conf.any() else z[idx]).mean(0)
    return (z * cents[y]).sum(1), cents, counts


def _gmm(x: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, Any]:
    """2-component GMM on min-max normalised ``x``: (normalised x, posteriors (n, 2), gmm)."""
    from sklearn.mixture import GaussianMixture

    x = (x - x.min()) / max(float(np.ptp(x)), 1e-12)
    g = GaussianMixture(2, max_iter=30, tol=1e-2, reg_covar=5e-4, random_state=seed)
    g.fit(x.reshape(-1, 1))
    return x, g.predict_proba(x.reshape(-1, 1)), g


def select(
    probs: Tensor,
    feats: Tensor,
    labels: Tensor,
    num_classes: int,
    *,
    std_ratio: float = 0.65,
    centroid_margin: float = 0.1,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bi-dimensional selection: ``(selected (N,) bool, clean probability (N,), metric (C,))``
    with metric 0 = WJSD, 1 = ACD, -1 = a class with < 4 examples (all kept, probability 1)."""
    y = labels.long().numpy()
    n = len(y)
    sel, prob = np.zeros(n, dtype=bool), np.zeros(n)
    metric = np.full(num_classes, -1)
    dw = wjsd(probs, labels, num_classes).numpy()
    da, cents, counts = acd(probs, feats, labels, num_classes)
    sim = torch.softmax(cents @ cents.T, dim=1)
    for c in range(num_classes):
        idx = np.flatnonzero(y == c)
        if len(idx) < 4:
            sel[idx], prob[idx] = True, 1.0
            continue
        xw, pw, gw = _gmm(dw[idx], seed)
        xa, pa, ga = _gmm(da[idx].numpy(), seed)
        w_lo, w_hi = int(gw.means_.argmin()), int(gw.means_.argmax())
        a_lo, a_hi = int(ga.means_.argmin()), int(ga.means_.argmax())
        near = pa[:, a_lo] > 0.5  # ACD cluster 1 (low similarity); cluster 2 the rest
        use_wjsd = near.all() or not near.any()
        if not use_wjsd:
            stds, preds = [1.0, 1.0], []
            for part in (near, ~near):
                k = int(gw.predict(np.array([[xw[part].mean()]]))[0])
                stds[k] = float(xw[part].std()) or 0.1
                preds.append(k)
            use_wjsd = (preds[0] == preds[1] and preds[0] != w_lo) or (
                stds[w_hi] / stds[w_lo] < std_ratio
            )
        if use_wjsd:
            metric[c] = 0
            keep, p_keep = pw[:, w_lo] > 0.5, pw[:, w_lo]
        else:
            metric[c] = 1
            row = sim[c].clone()
            own = float(row[c])
            row[c] = 0
            j = int(row.argmax())
            captured = abs(own - float(row[j])) < centroid_margin * own and counts[c] < counts[j]
            keep = near if captured else ~near
            p_keep = pa[:, a_lo] if captured else pa[:, a_hi]
        sel[idx[keep]], prob[idx[keep]] = True, p_keep[keep]
    return sel, prob, metric
