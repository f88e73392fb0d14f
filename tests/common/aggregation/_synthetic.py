"""Small synthetic crowd data sets shared by the aggregation tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_crowd(
    seed: int = 0,
    *,
    n_items: int = 60,
    n_annotators: int = 8,
    n_classes: int = 3,
    per_item: int = 5,
    accuracy: tuple[float, float] = (0.45, 0.9),
) -> tuple[pd.DataFrame, pd.Series]:
    """A ``task, worker, label`` table with one-coin annotators, and the true labels."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_items)
    acc = rng.uniform(*accuracy, n_annotators)
    rows = []
    for i in range(n_items):
        for a in rng.choice(n_annotators, per_item, replace=False):
            if rng.random() < acc[a]:
                label = truth[i]
            else:
                label = rng.choice([c for c in range(n_classes) if c != truth[i]])
            rows.append((f"t{i:03d}", f"w{a:02d}", int(label)))
    df = pd.DataFrame(rows, columns=["task", "worker", "label"])
    return df, pd.Series(truth, index=[f"t{i:03d}" for i in range(n_items)], name="truth")
