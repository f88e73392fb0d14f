"""Every annotator's own boundary map as its own label (``task.noise.kind: all_annotators``).

BSDS500 ships 4-9 (mostly 5-6) human boundary maps per image but no global annotator ids: the
``groundTruth`` cells of an image are numbered ``0..K-1`` and cell ``k`` of one image and of
another need not be the same person. We therefore identify an annotator by its *slot* ``k`` in
the image's file. The target of an item is the annotator bitmask (bit ``k`` = slot ``k``, as
``clean_target``; :mod:`labelnoise.tasks.edges.data`) and ``item["annotators"]`` is ``K``
(an annotator whose map is empty after resizing still counts, so ``K`` is not the highest set
bit). :func:`annotator_units` expands a batch into one ``(image, slot)`` map per annotator.

:class:`ConfusionEdgeNet` -- the edge network plus annotator confusion networks for
:mod:`labelnoise.methods.annotator_confusion`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labelnoise.tasks.edges.data import EdgeDataset

__all__ = ["AnnotatorEdgeDataset", "ConfusionEdgeNet", "annotator_units"]


class AnnotatorEdgeDataset(EdgeDataset):
    """:class:`EdgeDataset` whose items also carry ``"annotators"``: ``K`` of the image."""

    def __init__(
        self,
        images: list[Tensor],
        target: list[np.ndarray],
        clean: list[np.ndarray],
        annotators: list[int],
    ) -> None:
        super().__init__(images, target, clean)
        if len(annotators) != len(images):
            raise ValueError(
                f"annotators must give one count per image ({len(images)}); got {len(annotators)}"
            )
        self.annotators = [int(k) for k in annotators]

    def __getitem__(self, i: int) -> dict:
        return {**super().__getitem__(i), "annotators": self.annotators[i]}


def annotator_units(
    target: Tensor, annotators: Tensor, example_id: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One 0/1 map per (image, annotator slot).

    Args:
        target: ``(N, 1, H, W)`` annotator bitmasks (bit ``k`` = slot ``k``).
        annotators: ``(N,)`` ``K`` of each image (>= 1).
        example_id: ``(N,)``.

    Returns:
        ``(maps (M, 1, H, W) long, image (M,), slot (M,), example_id (M,))`` with
        ``M = sum(annotators)``, image-major (image 0's slots 0..K0-1 first); ``image`` indexes
        the batch.
    """
    if target.dim() != 4 or target.shape[1] != 1:
        raise ValueError(f"target must have shape (N, 1, H, W); got {tuple(target.shape)}")
    counts = torch.as_tensor(annotators, device=target.device).long().reshape(-1)
    if counts.numel() != target.shape[0] or bool((counts < 1).any()):
        raise ValueError(
            f"annotators must hold one count >= 1 per image ({target.shape[0]}); "
            f"got {counts.tolist()}"
        )
    image = torch.repeat_interleave(torch.arange(target.shape[0], device=target.device), counts)
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.arange(image.numel(), device=target.device) - starts[image]
    maps = (target[image] >> slot.view(-1, 1, 1, 1)) & 1
    return maps, image, slot, example_id.to(target.device)[image]


class ConfusionEdgeNet(nn.Module):
    """Edge network (the true map) + pixel-wise annotator confusion networks.

    ``forward(image)`` -> the true map's logits ``(N, 1, H, W)`` (evaluation).
    ``joint(image)`` (or ``forward(image, joint=True)``) -> ``(logits (N, 1, H, W), log_cm (N, S, 2, 2, H, W))``: per pixel and
    slot ``s`` a column-stochastic ``2 x 2`` matrix in log space, ``cm[i, j] = p(annotator
    says i | true j)`` (columns sum to 1), initialised near the identity (diagonal
    ``init_diag``) and, with ``diag_floor`` ``f > 0``, kept diagonally dominant: ``A = f I +
    (1 - f) softmax(raw)`` (every diagonal entry >= ``f``). ``slots``: ``S`` confusion networks, one per annotator slot (``S = 1``: one
    confusion shared by every annotator).

    The confusion head reads the image and the backbone's side outputs (HED's per-stage logits,
    or the fused logits when the backbone has no ``side_outputs``), not detached: the features
    are shared with the true map's head as in Zhang et al. (their U-Net's last decoder layer),
    simplified to a 4-layer dilated convolution head with ``hidden`` channels.
    """

    def __init__(
        self,
        backbone: nn.Module,
        *,
        slots: int,
        hidden: int = 16,
        init_diag: float = 0.9,
        diag_floor: float = 0.0,
    ) -> None:
        super().__init__()
        if slots < 1 or hidden < 1 or not 0.0 <= diag_floor < init_diag < 1.0:
            raise ValueError(
                f"slots and hidden must be >= 1 and 0 <= diag_floor < init_diag < 1; got "
                f"slots={slots}, hidden={hidden}, init_diag={init_diag}, diag_floor={diag_floor}"
            )
        self.backbone, self.slots, self.diag_floor = backbone, slots, diag_floor
        sides, side_outputs = 1, self._side_outputs()
        if side_outputs is not None:  # count them without touching BatchNorm statistics
            was = backbone.training
            backbone.eval()
            with torch.no_grad():
                sides = len(side_outputs(torch.zeros(1, 3, 8, 8)))
            backbone.train(was)
        self.head = nn.Sequential(
            nn.Conv2d(3 + sides, hidden, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 3, padding=2, dilation=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 3, padding=4, dilation=4),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, 4 * slots, 1),
        )
        last = self.head[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None  # built just above
        nn.init.normal_(last.weight, std=1e-3)
        # channel order per slot: (i, j) = (0,0), (0,1), (1,0), (1,1); diagonal logit d, off 0
        s = (init_diag - diag_floor) / (1 - diag_floor)  # softmax diagonal giving init_diag
        d = float(np.log(s / (1 - s)))
        with torch.no_grad():
            last.bias.copy_(torch.tensor([d, 0.0, 0.0, d]).repeat(slots))

    def _side_outputs(self) -> Callable[[Tensor], list[Tensor]] | None:
        fn = getattr(self.backbone, "side_outputs", None)
        return fn if callable(fn) else None

    def forward(self, image: Tensor, joint: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """The true map's logits, or with ``joint`` :meth:`joint` (through the prepared,
        possibly DDP-wrapped module)."""
        return self.joint(image) if joint else self.backbone(image)

    def joint(self, image: Tensor) -> tuple[Tensor, Tensor]:
        side_outputs = self._side_outputs()
        if side_outputs is not None:
            sides = side_outputs(image)
            logits, feats = sides[-1], torch.cat(sides, 1)
        else:
            logits = self.backbone(image)
            feats = logits
        n, _, h, w = image.shape
        raw = self.head(torch.cat([image, feats], 1)).view(n, self.slots, 2, 2, h, w)
        log_cm = F.log_softmax(raw, dim=2)  # normalised over the annotator's label i
        f = self.diag_floor
        if f > 0:  # log(f I + (1 - f) A)
            eye = torch.eye(2, device=raw.device, dtype=raw.dtype).view(1, 1, 2, 2, 1, 1)
            log_f = torch.where(eye > 0, eye.new_tensor(float(np.log(f))), -torch.inf)
            log_cm = torch.logaddexp(log_cm + float(np.log1p(-f)), log_f)
        return logits, log_cm
