"""The return type shared by every noise simulator."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

__all__ = ["NoisyTargets"]


@dataclass(frozen=True)
class NoisyTargets:
    """Noisy labels with their ground truth, so every detection metric has a reference.

    Attributes:
        noisy: the corrupted labels, same shape and dtype as ``clean``.
        clean: the labels before corruption.
        is_corrupted: bool tensor, True where ``noisy`` differs from ``clean`` (per unit; for
            continuous targets, where the target was replaced or perturbed).
    """

    noisy: Tensor
    clean: Tensor
    is_corrupted: Tensor

    @property
    def noise_rate(self) -> float:
        """Realised fraction of corrupted units."""
        return float(self.is_corrupted.float().mean()) if self.is_corrupted.numel() else 0.0
