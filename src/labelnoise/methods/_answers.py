"""The annotators' answers of a batch, for the multi-annotator methods (``crowd_layer``,
``madl``): the classification task's ``annotations (B, S)`` / ``annotator_ids (B, S)``
(``-1``: no answer; see :mod:`labelnoise.tasks._annotators`), flattened to observed pairs."""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor

__all__ = ["num_annotators", "observed_pairs"]


def num_annotators(splits: Any, override: int | None, method: str) -> int:
    """Annotators the method keeps parameters for: ``override`` (``method.num_annotators``),
    else the task's ``info["num_annotators"]``; data without annotations is one annotator
    (each item's ``target`` its one answer), with a warning."""
    if override is not None:
        return override
    n = splits.info.get("num_annotators")
    if n is None:
        warnings.warn(
            f"method {method!r}: the training data has no annotators (task.label_set "
            "'annotators' or task.annotations); each target is taken as the answer of one "
            "annotator",
            UserWarning,
            stacklevel=3,
        )
        return 1
    return int(n)


def observed_pairs(batch: dict[str, Any], num_annotators: int) -> tuple[Tensor, Tensor, Tensor]:
    """``(row, annotator, label)``, each ``(P,)`` int64: the batch's observed answers (row:
    the item's position in the batch). Without ``annotations`` in the batch, each item's
    ``target`` is annotator 0's answer. Annotator codes must be below ``num_annotators``."""
    if "annotations" not in batch:
        target = batch["target"].long()
        rows = torch.arange(len(target), device=target.device)
        return rows, torch.zeros_like(target), target
    labels, ids = batch["annotations"].long(), batch["annotator_ids"].long()
    rows, cols = torch.nonzero(labels >= 0, as_tuple=True)
    annot = ids[rows, cols]
    if annot.numel() and (int(annot.max()) >= num_annotators or int(annot.min()) < 0):
        raise ValueError(
            f"annotator_ids must be in [0, {num_annotators}) (method.num_annotators); got "
            f"[{int(annot.min())}, {int(annot.max())}]"
        )
    return rows, annot, labels[rows, cols]
