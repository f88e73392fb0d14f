"""Training an MLP regressor on noisy targets with a robust loss or small-loss selection.

One small loop serves every loss-based method: the MSE baseline, Huber, Cauchy, trimmed
MSE, the heteroscedastic Gaussian NLL (variance head), and small-loss selection (the
"small-loss trick" of Co-teaching, Han et al., NeurIPS 2018, with one network: in each
batch only the ``1 - tau_t`` fraction with the smallest loss is trained on, ``tau_t``
growing linearly from 0 to ``forget_rate`` over ``warmup_epochs``; the core's
``labelnoise.common.selection.small_loss`` schedule and mask).

Features are standardised (mean / std) and targets robustly (median / 1.4826 MAD), so loss
options such as Huber's ``delta`` are in robust standard deviations of the target;
predictions come back in the original units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from labelnoise.common._random import make_generator
from labelnoise.common.losses import regression as rl
from labelnoise.common.selection.small_loss import forget_rate_at, small_loss_mask
from labelnoise.tasks.regression.models import MLP

__all__ = [
    "FittedMLP",
    "LossName",
    "TrainConfig",
    "fit_mlp",
    "init_mlp",
    "standardize_targets",
]

LossName = Literal["mse", "huber", "cauchy", "trimmed_mse", "gaussian_nll"]
_LOSSES = {
    "mse": rl.mse,
    "huber": rl.huber,
    "cauchy": rl.cauchy,
    "trimmed_mse": rl.trimmed_mse,
    "gaussian_nll": rl.gaussian_nll,
}


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of the MLP (Adam, fixed number of epochs)."""

    hidden: tuple[int, ...] = (64, 64)
    epochs: int = 40
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4


def standardize_targets(y: np.ndarray) -> tuple[float, float]:
    """Robust centre and scale of targets: median and 1.4826 x MAD (std if the MAD is 0)."""
    center = float(np.median(y))
    scale = 1.4826 * float(np.median(np.abs(y - center)))
    if scale <= 1e-12:
        scale = float(np.std(y)) or 1.0
    return center, scale


@dataclass
class FittedMLP:
    """A trained MLP with its input / output standardisation."""

    model: MLP
    x_mean: np.ndarray
    x_scale: np.ndarray
    y_center: float
    y_scale: float

    def _raw(self, x: np.ndarray) -> Tensor:
        xs = torch.as_tensor((np.asarray(x, dtype=np.float32) - self.x_mean) / self.x_scale)
        self.model.eval()
        with torch.no_grad():
            return self.model(xs.float())

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(N,)`` predicted means in target units."""
        out = self._raw(x)
        mean = out[:, 0] if out.dim() == 2 else out
        return mean.double().numpy() * self.y_scale + self.y_center

    def predict_std(self, x: np.ndarray) -> np.ndarray:
        """``(N,)`` predicted standard deviations (variance-head models only)."""
        out = self._raw(x)
        if out.dim() != 2:
            raise ValueError("predict_std needs a model trained with loss='gaussian_nll'")
        return np.exp(0.5 * out[:, 1].double().numpy()) * self.y_scale


def _check_xy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x must have shape ({y.shape[0]}, D); got {x.shape}")
    if y.shape[0] < 2:
        raise ValueError(f"y must have at least 2 samples; got {y.shape[0]}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite; got NaN or inf")
    return x, y


def fit_mlp(
    x: np.ndarray,
    y: np.ndarray,
    *,
    loss: LossName = "mse",
    loss_options: Mapping[str, Any] | None = None,
    forget_rate: float = 0.0,
    warmup_epochs: int = 10,
    sample_weight: np.ndarray | None = None,
    config: TrainConfig | None = None,
    seed: int = 0,
) -> FittedMLP:
    """Train an :class:`MLP` on ``(x, y)``.

    Args:
        x: ``(N, D)`` features; y: ``(N,)`` (noisy) targets.
        loss: ``mse``, ``huber``, ``cauchy``, ``trimmed_mse`` or ``gaussian_nll`` (builds a
            variance head).
        loss_options: keyword options of the loss (``delta``, ``c``, ``trim``).
        forget_rate: small-loss selection -- fraction of each batch dropped at the end of the
            warm-up (0 = off), in ``[0, 1)``.
        warmup_epochs: epochs over which the dropped fraction grows linearly to ``forget_rate``.
        sample_weight: optional ``(N,)`` non-negative per-sample loss weights (not all 0);
            a batch's loss is ``sum(w * loss) / sum(w)``.
        config: :class:`TrainConfig`.
        seed: initialisation and shuffling seed.

    Returns:
        :class:`FittedMLP`.
    """
    x, y = _check_xy(x, y)
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {sorted(_LOSSES)}; got {loss!r}")
    if not 0.0 <= forget_rate < 1.0:
        raise ValueError(f"forget_rate must be in [0, 1); got {forget_rate!r}")
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        if w.shape != y.shape or not np.isfinite(w).all() or w.min() < 0 or w.max() <= 0:
            raise ValueError(
                f"sample_weight must be ({y.shape[0]},) finite, >= 0 and not all 0; "
                f"got shape {w.shape}, range [{w.min():.3g}, {w.max():.3g}]"
            )
    cfg = config or TrainConfig()
    opts = dict(loss_options or {})
    g = make_generator(seed)
    model = init_mlp(MLP(x.shape[1], hidden=cfg.hidden, variance_head=loss == "gaussian_nll"), g)
    x_mean, x_scale = x.mean(0), x.std(0)
    x_scale = np.where(x_scale > 1e-12, x_scale, 1.0).astype(np.float32)
    y_center, y_scale = standardize_targets(y)
    xt = torch.from_numpy((x - x_mean) / x_scale).float()
    yt = torch.from_numpy((y - y_center) / y_scale).float()
    wt = None if w is None else torch.from_numpy(w).float()
    _train(model, xt, yt, wt, _LOSSES[loss], opts, forget_rate, warmup_epochs, cfg, g)
    return FittedMLP(model, x_mean, x_scale, y_center, y_scale)


def _train(
    model: MLP,
    xt: Tensor,
    yt: Tensor,
    wt: Tensor | None,
    loss_fn: Any,
    opts: dict[str, Any],
    forget_rate: float,
    warmup_epochs: int,
    cfg: TrainConfig,
    g: torch.Generator,
) -> None:
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n = xt.shape[0]
    bs = min(cfg.batch_size, n)
    steps = cfg.epochs * math.ceil(n / bs)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
    model.train()
    for epoch in range(cfg.epochs):
        tau = forget_rate_at(epoch, forget_rate=forget_rate, num_gradual=warmup_epochs, exponent=1)
        perm = torch.randperm(n, generator=g)
        for start in range(0, n, bs):
            idx = perm[start : start + bs]
            if tau > 0 or wt is not None:
                unit = loss_fn(model(xt[idx]), yt[idx], reduction="none", **opts)
                w = small_loss_mask(unit.detach(), tau, None) if tau > 0 else 1.0
                if wt is not None:
                    w = w * wt[idx]
                batch_loss = (w * unit).sum() / w.sum().clamp_min(1e-12)
            else:
                batch_loss = loss_fn(model(xt[idx]), yt[idx], reduction="mean", **opts)
            opt.zero_grad(set_to_none=True)
            batch_loss.backward()
            opt.step()
            sched.step()
    model.eval()


def init_mlp(model: torch.nn.Module, g: torch.Generator) -> torch.nn.Module:
    """Re-draw every ``nn.Linear`` as PyTorch's default init, ``U(-1/sqrt(fan_in), ..)``, from
    the generator ``g`` (explicit randomness, no global seeding)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Linear):
                bound = 1.0 / math.sqrt(m.in_features)
                m.weight.uniform_(-bound, bound, generator=g)
                m.bias.uniform_(-bound, bound, generator=g)
    return model
