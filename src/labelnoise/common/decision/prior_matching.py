"""Prior-matched decisions: per-class logit offsets so that the argmax hits target class fractions.

A model trained on noisy labels learns the *noisy* posterior ``P(noisy label | x)``. When a
class is often lost in the labels (thin membranes erased by boundary noise), its noisy
posterior stays below 1/2 even where it is the true class, and the argmax almost never
predicts it. Moving the decision threshold fixes this without retraining: add an offset
``b_c`` to each class score, ``argmax_c (log p_c(x) + b_c)``, chosen so that on reference
inputs (e.g. the training images) each class is predicted for a target fraction ``prior_c``
of the units (e.g. the class frequencies of the noisy training labels). No clean labels and
no test labels are used.

Literature: decision-threshold moving for the Bayes decision under changed costs or priors
(Elkan, IJCAI 2001; Lipton et al., ECML-PKDD 2014, thresholds for F1), and the prior
adjustment of a posterior by ``log(new prior / old prior)`` offsets (Saerens, Latinne &
Decaestecker, Neural Computation 2002). Saerens et al. estimate the new prior by EM on soft
posteriors; here the target fractions are given and the offsets are fitted on *hard*
decisions, so that the predicted class fractions equal the targets (a quantile threshold for
two classes). The multi-class fit by cyclic per-class quantile updates, and its use to undo
the class shrinkage caused by spatial mask noise, are ours.

Fit (``scores``: ``(N, C)`` or ``(N, C, *)``, class dimension 1):

- ``C = 2``: exact. ``b_0 = 0`` and ``b_1`` is a midpoint between two consecutive order
  statistics of ``s_0 - s_1``, so exactly ``round(prior_1 * N)`` units are predicted class 1
  (fewer or more only where scores tie).
- ``C > 2``: cyclic coordinate updates with ``b_0 = 0``. Each update sets ``b_c`` (``c >= 1``)
  exactly as in the binary case against ``max_{k != c} (s_k + b_k)``, so class ``c`` gets its
  target count given the other offsets. This is coordinate descent on the convex
  piecewise-linear dual of the capacity-constrained assignment
  ``min_b sum_i max_c (s_ic + b_c) - sum_c N prior_c b_c``: each update minimises it exactly
  in ``b_c``, so the objective never increases. Coordinate descent on a non-smooth function
  can stall short of the optimum, so the fit stops when ``max_c |fraction_c - prior_c| <= tol``
  (default ``1e-3``) or after ``max_iter`` sweeps (default 100) and says whether it converged.
  On random logits it typically converges in a few sweeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from labelnoise.common._checks import (
    as_long_tensor,
    check_finite,
    check_in_range,
    check_labels,
    check_probabilities,
)

__all__ = ["PriorMatch", "apply_offsets", "class_frequencies", "fit_prior_offsets"]

Kind = Literal["logits", "probs"]


@dataclass(frozen=True)
class PriorMatch:
    """Result of :func:`fit_prior_offsets`.

    Attributes:
        offsets: ``(C,)`` float64, ``offsets[0] == 0``; add to log-probabilities or logits.
        fractions: ``(C,)`` class fractions of the offset argmax on the reference scores.
        iterations: sweeps over the classes (1 for ``C = 2``).
        converged: ``max |fractions - prior| <= tol``.
    """

    offsets: Tensor
    fractions: Tensor
    iterations: int
    converged: bool


def class_frequencies(
    labels: Tensor | np.ndarray, num_classes: int, *, ignore_index: int = -100
) -> Tensor:
    """``(C,)`` float64 frequencies of integer ``labels`` (any shape), ``ignore_index`` left
    out: the usual target ``prior`` of :func:`fit_prior_offsets`."""
    if int(num_classes) < 1:
        raise ValueError(f"num_classes must be >= 1; got {num_classes}")
    t = as_long_tensor("labels", labels).reshape(-1)
    check_labels("labels", t, num_classes, ignore_index=ignore_index)
    t = t[t != ignore_index]
    if t.numel() == 0:
        raise ValueError("labels must hold at least one label other than ignore_index; got none")
    return torch.bincount(t, minlength=num_classes).double() / t.numel()


def fit_prior_offsets(
    scores: Tensor | np.ndarray,
    prior: Tensor | np.ndarray,
    *,
    kind: Kind = "logits",
    tol: float = 1e-3,
    max_iter: int = 100,
) -> PriorMatch:
    """Fit per-class offsets ``b (C,)`` so that ``argmax(log p + b)`` predicts each class ``c``
    for a fraction ``prior[c]`` of the reference units.

    Args:
        scores: ``(N, C)`` or ``(N, C, *)`` reference predictions, class dimension 1: logits
            (``kind="logits"``, any finite values) or probabilities (``kind="probs"``, rows
            summing to 1; zeros are clamped to 1e-12 before the log, so prefer logits when the
            softmax saturates).
        prior: ``(C,)`` target fractions, non-negative, summing to 1 (``atol`` 1e-4), e.g.
            :func:`class_frequencies` of the noisy training labels.
        kind: what ``scores`` holds.
        tol: convergence tolerance on ``max_c |fraction_c - prior_c|`` (multi-class).
        max_iter: maximum number of sweeps over the classes (multi-class).

    Returns:
        :class:`PriorMatch` (offsets with ``offsets[0] = 0``; see the module docstring for the
        algorithm and its convergence).
    """
    s = _scores(scores, kind)
    c = s.shape[1]
    p = torch.as_tensor(np.asarray(prior) if not isinstance(prior, Tensor) else prior)
    p = p.detach().to(torch.float64)
    if p.shape != (c,):
        raise ValueError(f"prior must have shape ({c},) to match scores; got {tuple(p.shape)}")
    check_probabilities("prior", p)
    check_in_range("tol", tol, 0.0, 1.0)
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be >= 1; got {max_iter}")
    return _compute_offsets(s, p / p.sum(), tol=float(tol), max_iter=int(max_iter))


def apply_offsets(
    scores: Tensor | np.ndarray, offsets: Tensor | np.ndarray, *, kind: Kind = "logits"
) -> Tensor:
    """``argmax_c (log p_c + offsets_c)`` over dimension 1: ``(N, C, *) -> (N, *)`` long."""
    s = _as_scores(scores, kind)
    b = torch.as_tensor(np.asarray(offsets) if not isinstance(offsets, Tensor) else offsets)
    if b.shape != (s.shape[1],):
        raise ValueError(
            f"offsets must have shape ({s.shape[1]},) to match scores; got {tuple(b.shape)}"
        )
    check_finite("offsets", b)
    shape = [1, -1] + [1] * (s.dim() - 2)
    return (s.double() + b.double().view(shape)).argmax(1)


def _as_scores(scores: Tensor | np.ndarray, kind: Kind) -> Tensor:
    """Validated ``(N, C, *)`` scores on the log scale (logits or log-probabilities)."""
    if kind not in ("logits", "probs"):
        raise ValueError(f"kind must be 'logits' or 'probs'; got {kind!r}")
    s = torch.as_tensor(np.asarray(scores) if not isinstance(scores, Tensor) else scores)
    if s.dim() < 2 or s.shape[1] < 2 or s.numel() == 0:
        raise ValueError(
            f"scores must have shape (N, C, *) with N >= 1 and C >= 2; got {tuple(s.shape)}"
        )
    if not s.is_floating_point():
        raise ValueError(f"scores must be floating point; got dtype {s.dtype}")
    s = s.detach()
    check_finite("scores", s)
    if kind == "probs":
        check_probabilities("scores", s, dim=1)
        s = s.clamp_min(1e-12).log()
    return s


def _scores(scores: Tensor | np.ndarray, kind: Kind) -> Tensor:
    """``(U, C)`` float64 log-scale scores, the class dimension last."""
    s = _as_scores(scores, kind)
    return s.movedim(1, -1).reshape(-1, s.shape[1]).to(torch.float64)


def _fractions(s: Tensor, b: Tensor) -> Tensor:
    pred = (s + b).argmax(1)
    return torch.bincount(pred, minlength=s.shape[1]).double() / s.shape[0]


def _compute_offsets(s: Tensor, prior: Tensor, *, tol: float, max_iter: int) -> PriorMatch:
    n, c = s.shape
    b = torch.zeros(c, dtype=torch.float64)
    counts = (prior * n).round().long().clamp(0, n)
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        for k in range(1, c):
            others = s + b
            others[:, k] = -torch.inf
            margin = others.max(1).values - s[:, k]  # class k wins iff b_k > margin
            b[k] = _between(margin, int(counts[k]))
        frac = _fractions(s, b)
        if c == 2 or float((frac - prior).abs().max()) <= tol:
            break
    frac = _fractions(s, b)
    converged = float((frac - prior).abs().max()) <= max(tol, 0.5 / n)
    return PriorMatch(b.float(), frac, iterations, converged)


def _between(margin: Tensor, k: int) -> float:
    """A value with exactly ``k`` entries of ``margin`` strictly below it (up to ties)."""
    n = margin.numel()
    if k <= 0:
        return float(margin.min()) - 1.0
    if k >= n:
        return float(margin.max()) + 1.0
    lo = float(torch.kthvalue(margin, k).values)
    hi = float(torch.kthvalue(margin, k + 1).values)
    return 0.5 * (lo + hi)
