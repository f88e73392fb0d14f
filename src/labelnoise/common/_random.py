"""Explicit randomness: the core never seeds the global RNGs; every random function takes a
seed or generator, so results do not depend on what ran before."""

from __future__ import annotations

import numpy as np
import torch

Seed = int | torch.Generator | None


def make_generator(seed: Seed = None) -> torch.Generator:
    """Return a CPU ``torch.Generator``: passed through, seeded from an int, or fresh."""
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator()
    if seed is None:
        g.seed()
    elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        if not -(2**63) <= int(seed) < 2**64:
            raise ValueError(f"seed must fit in 64 bits; got {int(seed)}")
        g.manual_seed(int(seed))
    else:
        raise ValueError(
            f"seed must be an int, a torch.Generator or None; got {type(seed).__name__}"
        )
    return g


def numpy_rng(seed: Seed = None) -> np.random.Generator:
    """A ``numpy.random.Generator`` derived from the same seed conventions."""
    if isinstance(seed, torch.Generator):
        return np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=seed)))
    make_generator(seed)  # validates the type
    if seed is not None and int(seed) < 0:
        raise ValueError(f"seed must be >= 0 for a numpy generator; got {int(seed)}")
    return np.random.default_rng(seed)
