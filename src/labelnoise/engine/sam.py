"""Sharpness-aware minimization (Foret, Kleiner, Mobahi & Neyshabur, "Sharpness-Aware
Minimization for Efficiently Improving Generalization", ICLR 2021) and its adaptive form
(ASAM, Kwon et al., ICML 2021): the weight perturbation of the first pass.

One SAM step (:func:`labelnoise.engine.step.take_step` with ``optim.sam.rho > 0``)::

    g = grad L(w)                                   # first pass, this micro-batch
    e = rho * g / ||g||                             # SAM
    e = rho * w^2 * g / || |w| * g ||               # ASAM (adaptive: true)
    grad L(w + e) -> the optimizer's gradient       # second pass, then w -= e; optimizer.step()

Under gradient accumulation the perturbation is computed per micro-batch (the paper's
m-sharpness with m = the micro-batch) and only the second passes accumulate; on several
processes each process perturbs with its own gradient (the first pass does not all-reduce,
as in the paper's per-accelerator SAM). With a gradient scaler (fp16) the direction is the
same (it is scale-free); a first-pass gradient that overflowed gives no perturbation.
Each network's perturbation uses the norm of its own parameters' gradient.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

__all__ = ["perturb", "restore", "stash_grads", "unstash_grads"]

Perturbation = list[tuple[nn.Parameter, Tensor]]


@torch.no_grad()
def perturb(params: Iterable[nn.Parameter], rho: float, *, adaptive: bool = False) -> Perturbation:
    """Add ``e`` (module docstring) to every parameter with a gradient; return ``(p, e)``."""
    pg = [(p, p.grad) for p in params if p.grad is not None]
    if not pg:
        return []
    scaled = [(p.abs() * g if adaptive else g).float() for p, g in pg]
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(s) for s in scaled]))
    if not bool(torch.isfinite(norm)) or float(norm) == 0.0:
        return []
    out: Perturbation = []
    for p, g in pg:
        e = (p * p * g if adaptive else g) * (rho / (norm + 1e-12))
        e = e.to(p.dtype)
        p.add_(e)
        out.append((p, e))
    return out


@torch.no_grad()
def restore(perturbation: Perturbation) -> None:
    """Undo :func:`perturb`."""
    for p, e in perturbation:
        p.sub_(e)


def stash_grads(params: Iterable[nn.Parameter]) -> list[tuple[nn.Parameter, Tensor | None]]:
    """Take the accumulated gradients out of ``params`` (``p.grad`` becomes None)."""
    out = []
    for p in params:
        out.append((p, p.grad))
        p.grad = None
    return out


def unstash_grads(stash: list[tuple[nn.Parameter, Tensor | None]]) -> None:
    """Put the stashed gradients back (dropping the first pass's)."""
    for p, g in stash:
        p.grad = g
