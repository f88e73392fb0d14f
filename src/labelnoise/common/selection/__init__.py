"""Sample selection: per-step weights in [0, 1] from unit losses, identical across processes.

``SELECTORS`` maps a name to its class; :func:`build_selector` builds one. :class:`CoTeaching`
is the two-network helper (Co-teaching and JoCoR).
"""

from labelnoise.common.selection._base import Selector, gather_all
from labelnoise.common.selection.adaptive_k import AdaptiveKSelector
from labelnoise.common.selection.aum import AUMSelector, margins
from labelnoise.common.selection.bmm import BMMSelector
from labelnoise.common.selection.coteaching import CoTeaching, jocor_loss
from labelnoise.common.selection.gmm import GMMSelector
from labelnoise.common.selection.mixture import fit_bmm_1d, fit_gmm_1d
from labelnoise.common.selection.or_gate import ORGateTopKSelector
from labelnoise.common.selection.registry import SELECTORS, build_selector
from labelnoise.common.selection.small_loss import (
    SmallLossSelector,
    forget_rate_at,
    small_loss_mask,
)
from labelnoise.common.selection.uniform import NoSelection

__all__ = [
    "AUMSelector",
    "AdaptiveKSelector",
    "BMMSelector",
    "CoTeaching",
    "GMMSelector",
    "NoSelection",
    "ORGateTopKSelector",
    "SELECTORS",
    "Selector",
    "SmallLossSelector",
    "build_selector",
    "fit_bmm_1d",
    "fit_gmm_1d",
    "forget_rate_at",
    "gather_all",
    "jocor_loss",
    "margins",
    "small_loss_mask",
]
