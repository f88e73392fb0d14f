"""Training units of a tagging model: one two-class unit per tag, or one K-class unit per clip.

``"tags"`` (:func:`~labelnoise.common.units.two_class_units`): each tag of a clip is a sigmoid
output with a 0/1 target; BCE and the core's two-class losses apply.

``"clip"`` (:func:`clip_units`): the clip is one ``K``-class unit whose soft target is its tag
set normalised to sum 1, so the core's cross-entropy is the multi-label softmax loss of Joulin
et al. ("Learning visual features from large weakly supervised data", ECCV 2016) and Mahajan et
al. ("Exploring the limits of weakly supervised pretraining", ECCV 2018), who found it better
than per-tag sigmoids on noisy user tags; every core multi-class loss and selector then applies
to clips. A clip with no tag has no softmax target and weight 0: under missing-tag noise an
empty tag set is mostly tags that went missing, and per-tag BCE would teach all of them as
absent. Tags compete within a clip, so outputs rank tags (lwlrap) rather than estimate each
tag's probability.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from labelnoise.common.units import Units, two_class_units

__all__ = ["UnitsKind", "clip_units", "tag_units"]

UnitsKind = Literal["tags", "clip"]


def clip_units(logits: Tensor, target: Tensor, *, example_id: Tensor | None = None) -> Units:
    """``logits (N, K)``, 0/1 ``target (N, K)`` -> ``N`` units: ``pred (N, K)``, soft
    ``target (N, K)`` (the tags / their count; uniform where a clip has none), ``weight (N,)``
    (1, or 0 for a clip with no tag)."""
    if logits.dim() != 2 or tuple(target.shape) != tuple(logits.shape):
        raise ValueError(
            f"logits and target must both have shape (N, K); got {tuple(logits.shape)} and "
            f"{tuple(target.shape)}"
        )
    n, k = logits.shape
    if example_id is None:
        example_id = torch.arange(n, device=logits.device)
    elif tuple(example_id.shape) != (n,):
        raise ValueError(f"example_id must have shape ({n},); got {tuple(example_id.shape)}")
    t = target.to(logits.dtype if logits.is_floating_point() else torch.float32)
    count = t.sum(1, keepdim=True)
    has_tag = count.squeeze(1) > 0
    soft = torch.where(count > 0, t / count.clamp_min(1.0), torch.full_like(t, 1.0 / k))
    return Units(logits, soft, example_id.long(), has_tag.to(soft.dtype))


def tag_units(
    logits: Tensor, target: Tensor, *, example_id: Tensor | None = None, kind: UnitsKind = "tags"
) -> Units:
    """Units of ``kind`` (module doc) for ``logits (N, K)`` and 0/1 ``target (N, K)``."""
    if kind == "clip":
        return clip_units(logits, target, example_id=example_id)
    if kind != "tags":
        raise ValueError(f"units must be 'tags' or 'clip'; got {kind!r}")
    return two_class_units(logits, target.long(), example_id=example_id)
