"""``uplme``: two heteroscedastic regressors, an uncertainty-aware loss and cross-consistency.

UPLME (Hasan, Hossain, Gedeon & Rahman, "UPLME: Uncertainty-Aware Probabilistic Language
Modelling for Robust Empathy Regression", arXiv 2508.03520, 2025; authors' code
``hasan-rakibul/UPLME``, ``LitTwoModels``). Two networks of the task, each with a mean and a
variance head (``[mean, log_var]``, ``task.variance_head: true``), see the same batch. With
``mu_k (U,)``, ``v_k = exp(log_var_k) (U,)`` (clamped to ``[1e-8, 1e3]``, as the authors,
after Seitzer et al.) and ``v = (v_1 + v_2) / 2`` the averaged variance::

    nll     = 1/2 sum_k beta_nll(mu_k, v, y)                       # Seitzer et al., ICLR 2022
    beta_nll(mu, v, y) = mean_u 1/2 (log v + (y - mu)^2 / v) * stopgrad(v)^beta
    penalty = 1/2 sum_k || v * exp(-alpha (mu_k - y)^2) ||_2 / U   # degenerate-variance penalty
    consist = mean_u (mu_1 - mu_2)^2 + (sqrt v_1 - sqrt v_2)^2       # 2-Wasserstein, N1 vs N2
    loss    = lambda_nll nll + lambda_penalty penalty + lambda_consistency consist

A target far from both means is explained by a large shared variance, which shrinks its
pull on the means (the uncertainty-aware loss); the penalty keeps the variance small where
the error is small (no variance inflation everywhere); the consistency term ties the two
networks' predictive Gaussians together. With ``num_passes > 1`` each network's mean and
variance are averaged over that many stochastic (dropout) forward passes, in training and
at evaluation (MC dropout, the authors' "variational model ensembling").

In the one loop the two networks are the members of one module (:class:`TwinHeteroscedastic`,
built from the task's own model twice, so any backbone with a ``(N, 2)`` output works, e.g.
a text encoder with a variance head): in training mode it answers ``(N, 4)``
``[mu_1, log v_1, mu_2, log v_2]``; in eval mode the ensemble ``(N, 2)`` ``[(mu_1 + mu_2)/2,
log((v_1 + v_2)/2)]`` -- the authors' test prediction -- so evaluation, selection and saving
see one regressor. Both members share the optimizer (AdamW is per parameter, so this equals
two optimizers with the same settings; gradient clipping sees both at once).

Simplified / left out: the text-pair alignment loss (it needs two texts per example: empathy
essays and articles; no such data here) and the authors' LLM-based augmentation; the
per-example ``unit_loss`` reported to the loop is network 1's beta-NLL term.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from labelnoise.common.units import Units
from labelnoise.methods.base import Method, StepOutput

if TYPE_CHECKING:
    from labelnoise.config import RunConfig

__all__ = [
    "TwinHeteroscedastic",
    "Uplme",
    "UplmeOptions",
    "beta_nll",
    "uplme_loss",
    "variance_penalty",
    "wasserstein2",
]

MIN_VAR, MAX_VAR = 1e-8, 1e3


@dataclass
class UplmeOptions:
    """The recipe's ``method:`` options (defaults: the authors' code where it gives one).

    Attributes:
        beta: beta-NLL exponent in ``[0, 1]`` (0: plain Gaussian NLL; default 0.5).
        alpha: error-decay factor of the variance penalty, ``>= 0`` (default 1.5).
        lambda_nll: weight of the NLL term, ``>= 0`` (default 1).
        lambda_penalty: weight of the variance penalty, ``>= 0`` (default 1).
        lambda_consistency: weight of the 2-Wasserstein consistency, ``>= 0`` (default 1).
        num_passes: stochastic forward passes averaged per network, ``>= 1`` (default 1;
            > 1 only differs from 1 with dropout in the network).
    """

    beta: float = 0.5
    alpha: float = 1.5
    lambda_nll: float = 1.0
    lambda_penalty: float = 1.0
    lambda_consistency: float = 1.0
    num_passes: int = 1

    def __post_init__(self) -> None:
        if not (isinstance(self.beta, (int, float)) and 0.0 <= self.beta <= 1.0):
            raise ValueError(f"method.beta must be in [0, 1]; got {self.beta!r}")
        for key in ("alpha", "lambda_nll", "lambda_penalty", "lambda_consistency"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"method.{key} must be a finite number >= 0; got {v!r}")
        if self.lambda_nll + self.lambda_penalty + self.lambda_consistency <= 0:
            raise ValueError(
                "method.lambda_nll / lambda_penalty / lambda_consistency: one must be > 0"
            )
        if isinstance(self.num_passes, bool) or not (
            isinstance(self.num_passes, int) and self.num_passes >= 1
        ):
            raise ValueError(f"method.num_passes must be an integer >= 1; got {self.num_passes!r}")


def beta_nll(mean: Tensor, var: Tensor, target: Tensor, beta: float) -> Tensor:
    """``(U,)`` beta-NLL (Seitzer et al., ICLR 2022): ``1/2 (log v + (y - mu)^2 / v)``
    times ``stopgrad(v)^beta``; ``beta = 0`` is the Gaussian NLL without ``log(2 pi) / 2``."""
    nll = 0.5 * (var.log() + (target - mean) ** 2 / var)
    return nll * var.detach() ** beta if beta > 0 else nll


def variance_penalty(mean: Tensor, var: Tensor, target: Tensor, alpha: float) -> Tensor:
    """Scalar ``|| v * exp(-alpha (mu - y)^2) ||_2 / U``: variance where the error is small."""
    w = torch.exp(-alpha * (mean - target).detach() ** 2)
    return torch.linalg.vector_norm(var * w) / max(var.numel(), 1)


def wasserstein2(mean_a: Tensor, var_a: Tensor, mean_b: Tensor, var_b: Tensor) -> Tensor:
    """``(U,)`` squared 2-Wasserstein distance of ``N(mu_a, v_a)`` and ``N(mu_b, v_b)``."""
    return (mean_a - mean_b) ** 2 + (var_a.sqrt() - var_b.sqrt()) ** 2


def uplme_loss(
    pred: Tensor, target: Tensor, options: UplmeOptions
) -> tuple[Tensor, Tensor, dict[str, float]]:
    """UPLME's loss of one batch.

    Args:
        pred: ``(U, 4)`` ``[mu_1, log v_1, mu_2, log v_2]``.
        target: ``(U,)`` float.
        options: the weights, ``beta`` and ``alpha``.

    Returns:
        ``(loss, unit_loss (U,), parts)``: the scalar loss, network 1's per-unit beta-NLL
        term and the three terms' values (unweighted).
    """
    if pred.dim() != 2 or pred.shape[1] != 4 or pred.shape[0] != target.numel():
        raise ValueError(
            f"pred must be (U, 4) for {target.numel()} targets; got {tuple(pred.shape)}"
        )
    y = target.reshape(-1).to(pred.dtype)
    mu1, mu2 = pred[:, 0], pred[:, 2]
    v1 = pred[:, 1].exp().clamp(MIN_VAR, MAX_VAR)
    v2 = pred[:, 3].exp().clamp(MIN_VAR, MAX_VAR)
    v = 0.5 * (v1 + v2)
    o = options
    n1, n2 = beta_nll(mu1, v, y, o.beta), beta_nll(mu2, v, y, o.beta)
    nll = 0.5 * (n1.mean() + n2.mean())
    pen = 0.5 * (variance_penalty(mu1, v, y, o.alpha) + variance_penalty(mu2, v, y, o.alpha))
    cons = wasserstein2(mu1, v1, mu2, v2).mean()
    loss = o.lambda_nll * nll + o.lambda_penalty * pen + o.lambda_consistency * cons
    parts = {
        "nll": float(nll.detach()),
        "penalty": float(pen.detach()),
        "consistency": float(cons.detach()),
    }
    return loss, n1, parts


class TwinHeteroscedastic(nn.Module):
    """Two ``[mean, log_var]`` regressors as one module (module docstring).

    Args:
        first, second: modules whose ``forward(*args, **kwargs)`` returns ``(N, 2)``.
        num_passes: forward passes averaged per member (means and variances), ``>= 1``.

    ``forward``: training mode ``(N, 4)`` ``[mu_1, log v_1, mu_2, log v_2]``; eval mode the
    ensemble ``(N, 2)`` ``[(mu_1 + mu_2) / 2, log((v_1 + v_2) / 2)]`` (with ``num_passes >
    1`` the dropout layers are kept stochastic at evaluation, MC dropout).
    """

    def __init__(self, first: nn.Module, second: nn.Module, *, num_passes: int = 1) -> None:
        super().__init__()
        if num_passes < 1:
            raise ValueError(f"num_passes must be >= 1; got {num_passes}")
        self.members = nn.ModuleList([first, second])
        self.num_passes = num_passes

    def _member(self, m: nn.Module, args: Any, kwargs: Any) -> tuple[Tensor, Tensor]:
        means, variances = [], []
        for _ in range(self.num_passes):
            out = m(*args, **kwargs)
            if out.dim() != 2 or out.shape[-1] != 2:
                raise ValueError(
                    "uplme needs networks with a variance head, output (N, 2) [mean, log_var] "
                    f"(task.variance_head: true); got {tuple(out.shape)}"
                )
            means.append(out[:, 0])
            variances.append(out[:, 1].exp().clamp(MIN_VAR, MAX_VAR))
        return torch.stack(means).mean(0), torch.stack(variances).mean(0)

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        mc = not self.training and self.num_passes > 1
        drops = [d for d in self.modules() if isinstance(d, nn.Dropout)] if mc else []
        for d in drops:
            d.train()
        try:
            (m1, v1), (m2, v2) = (self._member(m, args, kwargs) for m in self.members)
        finally:
            for d in drops:
                d.eval()
        if self.training:
            return torch.stack([m1, v1.log(), m2, v2.log()], dim=1)
        return torch.stack([0.5 * (m1 + m2), (0.5 * (v1 + v2)).log()], dim=1)


class Uplme(Method):
    """Two heteroscedastic networks trained on UPLME's loss (module docstring)."""

    name = "uplme"
    Options = UplmeOptions
    tasks = frozenset({"regression"})

    @classmethod
    def check_config(cls, cfg: RunConfig) -> None:
        if getattr(cfg.task.options, "variance_head", True) is False:
            raise ValueError(
                "method 'uplme' needs a mean and a variance output: set task.variance_head: true"
            )

    def build_model(self, splits: Any) -> nn.Module:
        build = self.run.adapter.build_model
        return TwinHeteroscedastic(build(splits), build(splits), num_passes=self.options.num_passes)

    def step(self, batch: Any) -> StepOutput:
        units = self.run.adapter.units(self.nets[0].model, batch)
        loss, unit_loss, _ = uplme_loss(units.pred, units.target, self.options)
        self.check_finite(unit_loss.detach())
        p = units.pred.detach()
        v = 0.5 * (p[:, 1].exp() + p[:, 3].exp())
        ens = torch.stack([0.5 * (p[:, 0] + p[:, 2]), v.log()], dim=1)
        out = Units(ens, units.target, units.example_id, weight=units.weight)
        return StepOutput(loss, out, unit_loss)
