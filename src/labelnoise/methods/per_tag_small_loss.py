"""``per_tag_small_loss``: curated + noisy audio tagging with per-tag small-loss selection.

DCASE 2019 Task 2 (FSDKaggle2019; Fonseca et al., DCASE 2019) trains on a small curated
(trusted) set and a large noisy one. This method is the standard step (the configured core
loss on two-class tag units, the adapter's unit weights such as ``task.curated_weight``) with
:class:`~labelnoise.tasks.audio.selection.PerTagSmallLossSelector` as its selector::

    units = adapter.units(model, batch)                  # K two-class units per clip
    unit_loss = loss_fn(units.pred, units.target)        # (N K,)
    w = per_tag_small_loss(unit_loss, example_id, target=units.target)
    loss = (w * units.weight * unit_loss).sum() / (w * units.weight).sum()

Curated clips always weigh 1; among the noisy clips each tag's units (positive- and
negative-labelled apart with ``by_label``) are ranked on their own and the ``R(e)`` fraction
with the largest losses is dropped, ``R(e)`` ramping to ``forget_rate`` (positives) /
``negative_forget_rate`` (negatives) over ``num_gradual`` epochs (Co-teaching's schedule, Han
et al., NeurIPS 2018).

Why a method and not a core selector: the selector needs the training split's curated flags
(``ClipDataset.curated``), which a selector built from the recipe alone does not see. The
recipe's ``selector`` must be ``none``; ``task.units`` must be ``tags``. The selector's epoch
counter is checkpointed (the loop saves ``method.selector``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from labelnoise.methods.base import Net
from labelnoise.methods.standard import Standard

__all__ = ["PerTagSmallLoss", "PerTagSmallLossOptions", "curated_flags"]


@dataclass
class PerTagSmallLossOptions:
    """Options of ``method: {name: per_tag_small_loss, ...}``.

    Attributes:
        forget_rate: final fraction of each tag's noisy units dropped, in ``[0, 1)`` (with
            ``by_label``: of its positive-labelled units). Default 0.2.
        negative_forget_rate: with ``by_label``, the final fraction of each tag's noisy
            negative-labelled units dropped (``None``: ``forget_rate``). Missing tags are few
            among the many negatives, spurious ones many among the few positives.
        num_gradual: epochs of the ramp of the rate (``>= 0``). Default 5.
        exponent: ramp exponent (``> 0``). Default 1.
        by_label: rank positive- and negative-labelled units of a tag apart. Default True.

    Raises:
        ValueError: naming the field (``method.forget_rate``, ...), the expected and the
            received value.
    """

    forget_rate: float = 0.2
    negative_forget_rate: float | None = None
    num_gradual: int = 5
    exponent: float = 1.0
    by_label: bool = True

    def __post_init__(self) -> None:
        for key in ("forget_rate", "negative_forget_rate"):
            v = getattr(self, key)
            if v is not None and not 0.0 <= v < 1.0:
                raise ValueError(f"method.{key} must be in [0, 1); got {v!r}")
        if self.num_gradual < 0:
            raise ValueError(f"method.num_gradual must be >= 0; got {self.num_gradual!r}")
        if not self.exponent > 0:
            raise ValueError(f"method.exponent must be > 0; got {self.exponent!r}")


def curated_flags(train: Any) -> torch.Tensor:
    """``(N,)`` bool curated flags of a training split: ``ClipDataset.curated``, through a
    :class:`~labelnoise.engine.data.Reindexed` view (``data.limit``), else item by item."""
    if hasattr(train, "curated"):
        return train.curated.bool()
    if hasattr(train, "indices") and hasattr(train.dataset, "curated"):
        return train.dataset.curated.bool()[torch.as_tensor(train.indices, dtype=torch.long)]
    return torch.tensor([bool(train[i]["curated"]) for i in range(len(train))])


class PerTagSmallLoss(Standard):
    """The standard step with the per-tag small-loss selector over curated + noisy clips."""

    name = "per_tag_small_loss"
    Options = PerTagSmallLossOptions
    tasks = frozenset({"audio"})

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        if cfg.selector.name != "none":
            raise ValueError(
                "method per_tag_small_loss brings its own selector; selector.name must be "
                f"'none'; got {cfg.selector.name!r}"
            )
        units = getattr(cfg.task.options, "units", "tags")
        if units != "tags":
            raise ValueError(
                f"method per_tag_small_loss ranks tag units; task.units must be 'tags'; got "
                f"{units!r}"
            )

    def setup(self, nets: Sequence[Net], selector: Any) -> None:
        # imported here: the audio package imports torchaudio (the optional `audio` extra)
        from labelnoise.tasks.audio.selection import PerTagSmallLossSelector

        train = self.run.train_split
        o = self.options
        per_tag = PerTagSmallLossSelector(
            num_examples=len(train),
            gather=self.run.accelerator.gather,
            num_tags=len(self.run.splits.class_names or []),
            forget_rate=o.forget_rate,
            negative_forget_rate=o.negative_forget_rate,
            num_gradual=o.num_gradual,
            exponent=o.exponent,
            by_label=o.by_label,
            curated=curated_flags(train),
        )
        super().setup(nets, per_tag)

    def on_epoch_end(self, epoch: int) -> None:
        self.selector.on_epoch_end(epoch)
