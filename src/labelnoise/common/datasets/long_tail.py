"""Long-tailed subsets: the exponential class profile of Cao et al. (NeurIPS 2019, LDAM-DRW),
used by TABASCO's benchmarks (Lu et al., ICCV 2023) to make a balanced training set
intrinsically long-tailed before label noise is added.

With ``C`` classes, the largest class count ``n_max`` and the imbalance ratio ``r``
(``n_max / n_min``), class ``c`` (``0 .. C-1``; class 0 is the head) keeps::

    n_c = floor(n_max * r ** (-c / (C - 1)))

examples, drawn without replacement by a seeded generator (fewer when the class has fewer).
"""

from __future__ import annotations

import numpy as np

from labelnoise.common._random import numpy_rng

__all__ = ["long_tailed_counts", "long_tailed_subset"]


def long_tailed_counts(n_max: int, num_classes: int, ratio: float) -> np.ndarray:
    """``(C,)`` target counts ``floor(n_max * ratio ** (-c / (C - 1)))`` (at least 1).

    Args:
        n_max: the head class's count, ``>= 1``.
        num_classes: ``C >= 2``.
        ratio: imbalance ratio ``n_max / n_min``, ``>= 1`` (1: balanced).
    """
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2; got {num_classes}")
    if n_max < 1:
        raise ValueError(f"n_max must be >= 1; got {n_max}")
    if not np.isfinite(ratio) or ratio < 1:
        raise ValueError(f"imbalance ratio must be a finite number >= 1; got {ratio!r}")
    c = np.arange(num_classes, dtype=np.float64)
    counts = np.floor(n_max * ratio ** (-c / (num_classes - 1)) + 1e-9).astype(np.int64)
    return np.maximum(counts, 1)


def long_tailed_subset(labels: np.ndarray, num_classes: int, ratio: float, seed: int) -> np.ndarray:
    """Sorted positions ``(M,)`` into ``labels`` (``(N,)`` ints in ``[0, C)``, the classes the
    profile follows, e.g. the clean labels) of a long-tailed subset with imbalance ``ratio``;
    ``n_max`` is the largest class count in ``labels``."""
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    if y.size == 0:
        raise ValueError("labels must be non-empty")
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(f"labels must be in [0, {num_classes}); got [{y.min()}, {y.max()}]")
    have = np.bincount(y, minlength=num_classes)
    want = long_tailed_counts(int(have.max()), num_classes, ratio)
    rng = numpy_rng(seed)
    keep = [
        rng.choice(np.flatnonzero(y == c), size=min(int(want[c]), int(have[c])), replace=False)
        for c in range(num_classes)
    ]
    return np.sort(np.concatenate(keep))
