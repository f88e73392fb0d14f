"""Per-tag small-loss selection for curated + noisy tagging.

DCASE 2019 Task 2 trains on a small curated (trusted) set and a large noisy one. Curated
clips are always kept; among the noisy clips, each tag's units are ranked on their own (a
common tag's easy negatives must not crowd out a rare tag's units) -- optionally positives and
negatives apart -- and the ``R(e)`` fraction with the largest losses is dropped, with
Co-teaching's schedule (Han et al., NeurIPS 2018). Ranking uses the core's
:func:`~labelnoise.common.selection.small_loss.small_loss_mask` within each group.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from labelnoise.common._checks import check_in_range, check_rate
from labelnoise.common.selection._base import Gather, Selector, check_int
from labelnoise.common.selection.small_loss import forget_rate_at, small_loss_mask

__all__ = ["PerTagSmallLossSelector"]


class PerTagSmallLossSelector(Selector):
    """Small-loss selection per tag over two-class units (``K`` consecutive units per clip).

    Args:
        num_examples: training clips.
        num_tags: ``K``.
        forget_rate: final fraction of each group dropped (``[0, 1)``); with ``by_label``,
            of the positive-labelled units of each tag.
        negative_forget_rate: with ``by_label``, the final fraction dropped of the
            negative-labelled units of each tag (``None``: ``forget_rate``). Missing tags are
            few among the many negatives, spurious ones many among the few positives, so the
            two rates differ (a tag noise model gives both).
        num_gradual: epochs of the linear ramp of the forget rate.
        exponent: ramp exponent.
        by_label: rank positive- and negative-labelled units of a tag apart.
        curated: ``(num_examples,)`` bool; curated clips get weight 1 and are not ranked.
    """

    def __init__(
        self,
        *,
        num_examples: int,
        gather: Gather | None = None,
        num_tags: int,
        forget_rate: float = 0.2,
        negative_forget_rate: float | None = None,
        num_gradual: int = 5,
        exponent: float = 1.0,
        by_label: bool = True,
        curated: Tensor | None = None,
    ) -> None:
        super().__init__(num_examples=num_examples, gather=gather)
        self.num_tags = check_int("num_tags", num_tags, 1)
        self.forget_rate = check_rate("forget_rate", forget_rate)
        self.negative_forget_rate = (
            self.forget_rate
            if negative_forget_rate is None
            else check_rate("negative_forget_rate", negative_forget_rate)
        )
        self.num_gradual = check_int("num_gradual", num_gradual, 0)
        self.exponent = check_in_range("exponent", exponent, 0.0, float("inf"), low_inclusive=False)
        self.by_label = bool(by_label)
        if curated is not None and tuple(curated.shape) != (self.num_examples,):
            raise ValueError(
                f"curated must have shape ({self.num_examples},); got {tuple(curated.shape)}"
            )
        self.curated = (
            torch.zeros(self.num_examples, dtype=torch.bool) if curated is None else curated.bool()
        )

    def rate(self, final: float) -> float:
        """The forget rate of the current epoch for the final rate ``final``."""
        return forget_rate_at(
            self.epoch, forget_rate=final, num_gradual=self.num_gradual, exponent=self.exponent
        )

    def _select(
        self, unit_loss: Tensor, example_id: Tensor, *, target: Tensor | None, **_: Any
    ) -> Tensor:
        u = unit_loss.shape[0]
        if u % self.num_tags:
            raise ValueError(f"units must come in groups of num_tags={self.num_tags}; got {u}")
        w = torch.ones_like(unit_loss)
        rates = (self.rate(self.negative_forget_rate), self.rate(self.forget_rate))
        if max(rates) == 0:
            return w
        tag = torch.arange(u, device=unit_loss.device) % self.num_tags
        group = tag
        if self.by_label:
            if target is None:
                raise ValueError("by_label needs the hard target (U,); got None")
            label = target if target.dim() == 1 else target.argmax(1)
            group = tag * 2 + label.long().clamp(0, 1)
        noisy = ~self.curated.to(unit_loss.device)[example_id]
        for g in range(self.num_tags * (2 if self.by_label else 1)):
            at = noisy & (group == g)
            # Every process ranks every group (possibly empty) so that gathers stay in step.
            rate = rates[g % 2] if self.by_label else rates[1]
            w[at] = small_loss_mask(unit_loss[at], rate, self.gather)
        return w
