"""Nested dropout on a network's classifier input: the compression regularizer of
"Boosting Co-teaching with Compression Regularization for Label Noise" (Chen, Shen, Hu &
Suykens, CVPR-W 2021 / TNNLS 2022), after Rippel et al. (ICML 2014).

In training, each batch draws a truncation ``k`` in ``1..D`` (``D`` = the classifier's input
features) from ``p(k) ~ exp(-((k - mu) / std)^2)`` (the authors' "Gaussian" distribution) and
zeroes features ``k..D-1`` before the classifier, so the first features carry the most
information (an ordered, compressed representation); in eval mode nothing is masked.

The mask is applied by a forward pre-hook on the model's last ``nn.Linear`` (the classifier of
every classification model here), so the model and its saved weights are unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["NestedDropout", "nested_distribution"]


def nested_distribution(num_features: int, mu: float, std: float) -> Tensor:
    """``(D,)`` probabilities of keeping the first ``k = 1..D`` features:
    ``exp(-((k - mu) / std)^2)``, normalised."""
    if num_features < 1:
        raise ValueError(f"num_features must be >= 1; got {num_features}")
    if not std > 0:
        raise ValueError(f"std must be > 0; got {std}")
    k = torch.arange(1, num_features + 1, dtype=torch.float64)
    d = torch.exp(-(((k - mu) / std) ** 2))
    if not float(d.sum()) > 0:
        raise ValueError(f"nested distribution is zero everywhere for mu={mu}, std={std}")
    return d / d.sum()


class NestedDropout:
    """Attach nested dropout to ``model``'s last ``nn.Linear`` (module docstring).

    Several models may share one instance (:meth:`attach` each): they get the same ``k`` per
    batch once :meth:`draw` is called before their forward passes, as in the authors' code.
    """

    def __init__(self, mu: float = 0.0, std: float = 100.0) -> None:
        self.mu, self.std = float(mu), float(std)
        self.k: int | None = None  # features kept in the current training batch
        self.dist: Tensor | None = None

    def attach(self, model: nn.Module) -> nn.Linear:
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise ValueError("nested dropout needs a model whose classifier is an nn.Linear")
        head = linears[-1]
        d = head.in_features
        if self.dist is None:
            self.dist = nested_distribution(d, self.mu, self.std)
        elif self.dist.numel() != d:
            raise ValueError(f"models differ in classifier inputs: {self.dist.numel()} vs {d}")
        head.register_forward_pre_hook(self._hook)
        return head

    def draw(self) -> int:
        """Draw this batch's ``k`` (the global torch RNG: checkpointed, so resume is exact)."""
        assert self.dist is not None, "attach a model first"
        self.k = int(torch.multinomial(self.dist.float(), 1)) + 1
        return self.k

    def _hook(self, module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if not module.training or self.k is None:
            return None
        (x, *rest) = args
        mask = torch.zeros(x.shape[-1], device=x.device, dtype=x.dtype)
        mask[: self.k] = 1
        return (x * mask, *rest)
