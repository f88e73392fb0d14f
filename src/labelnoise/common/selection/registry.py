"""The selector registry (name -> class) and :func:`build_selector`.

``coteaching`` is the two-network helper (:meth:`CoTeaching.select`; ``variant="jocor"``);
called like the others it is plain small-loss selection with the same schedule.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

from labelnoise.common.selection._base import Gather, Selector
from labelnoise.common.selection.adaptive_k import AdaptiveKSelector
from labelnoise.common.selection.aum import AUMSelector
from labelnoise.common.selection.bmm import BMMSelector
from labelnoise.common.selection.coteaching import CoTeaching
from labelnoise.common.selection.gmm import GMMSelector
from labelnoise.common.selection.large_loss import LargeLossRejection
from labelnoise.common.selection.or_gate import ORGateTopKSelector
from labelnoise.common.selection.small_loss import SmallLossSelector
from labelnoise.common.selection.uniform import NoSelection

__all__ = ["SELECTORS", "build_selector"]

SELECTORS: dict[str, type[Selector]] = {
    "none": NoSelection,
    "small_loss": SmallLossSelector,
    "gmm": GMMSelector,
    "bmm": BMMSelector,
    "aum": AUMSelector,
    "adaptive_k": AdaptiveKSelector,
    "or_gate_topk": ORGateTopKSelector,
    "coteaching": CoTeaching,
    "large_loss": LargeLossRejection,
}


def build_selector(
    name: str, *, num_examples: int, gather: Gather | None = None, **options: Any
) -> Selector:
    """Build a selector; unknown names or options raise ValueError naming them."""
    if name not in SELECTORS:
        raise ValueError(f"name must be one of {', '.join(SELECTORS)}; got {name!r}")
    check_selector_options(name, options)
    return SELECTORS[name](num_examples=num_examples, gather=gather, **options)


def check_selector_options(name: str, keys: Iterable[str]) -> None:
    """Raise ValueError naming the first of ``keys`` that selector ``name`` (a key of
    :data:`SELECTORS`) does not take (``num_examples`` and ``gather`` are the loop's)."""
    allowed = {
        p.name
        for p in inspect.signature(SELECTORS[name].__init__).parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.name not in ("num_examples", "gather")
    }
    for key in keys:
        if key not in allowed:
            raise ValueError(
                f"unknown option {key!r} for selector {name!r}; expected one of "
                f"{', '.join(sorted(allowed)) or 'none'}"
            )
