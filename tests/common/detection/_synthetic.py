"""Synthetic out-of-sample probabilities with label noise, shared by the detection tests."""

from __future__ import annotations

import numpy as np


def make_pred_probs(
    n: int,
    k: int,
    *,
    seed: int = 0,
    imbalance: bool = False,
    never_predicted: int | None = None,
    noise: float = 0.2,
    dtype: type = np.float64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(noisy_labels (N,), pred_probs (N, K), is_corrupted (N,))``."""
    rng = np.random.default_rng(seed)
    prior = rng.dirichlet(np.full(k, 0.3 if imbalance else 5.0))
    true = rng.choice(k, n, p=prior)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), true] += 2.5
    if never_predicted is not None:
        logits[:, never_predicted] -= 30.0
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p = p.astype(dtype)
    if dtype != np.float64:
        p /= p.sum(axis=1, keepdims=True)
    labels = true.copy()
    flip = rng.random(n) < noise
    labels[flip] = rng.integers(0, k, int(flip.sum()))
    return labels, p, labels != true
