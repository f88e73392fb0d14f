"""Sample selection: per-step weights in [0, 1] from unit losses, identical across processes.

``SELECTORS`` maps a name to its class; :func:`build_selector` builds one.
"""

from labelnoise.common.selection._base import Selector, gather_all
from labelnoise.common.selection.registry import SELECTORS, build_selector
from labelnoise.common.selection.small_loss import (
    SmallLossSelector,
    forget_rate_at,
    small_loss_mask,
)
from labelnoise.common.selection.uniform import NoSelection

__all__ = [
    "NoSelection",
    "SELECTORS",
    "Selector",
    "SmallLossSelector",
    "build_selector",
    "forget_rate_at",
    "gather_all",
    "small_loss_mask",
]
