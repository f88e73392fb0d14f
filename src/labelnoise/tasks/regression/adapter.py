"""The regression task adapter: scalar targets, one unit per example.

Data (``dataset``): a scikit-learn dataset by name (``diabetes``, ``linnerud``,
``friedman1``), a CSV / Parquet file with named columns, or a ``.npz`` file with arrays ``x``
``(N, D)`` and ``y`` ``(N,)`` (how :class:`~labelnoise.tasks.regression.NoisyRegressor` hands
in-memory arrays to the engine); relative paths are read under ``data_dir``. Features are z-scored and targets robustly standardised (median / MAD) with
training statistics; :meth:`RegressionAdapter.metrics` reports MAE / RMSE back in target
units. The noise section corrupts the training and validation targets with the core's
continuous simulators; the test split stays clean.

Units: ``pred (U, 1)``, or ``(U, 2) = [mean, log_var]`` with ``variance_head`` (train it with
``loss: {name: gaussian_nll}``); ``target (U,)`` float. The mean-only prediction keeps a
trailing dimension because the loop hands ``pred`` to the selectors as 2-D ``logits``; every
regression loss takes ``(U,)`` or ``(U, 1)``. Items:
``{"x", "target", "clean_target", "example_id"}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from labelnoise.common._random import numpy_rng
from labelnoise.common.noise import gaussian_noise, outlier_noise, uniform_replacement
from labelnoise.common.units import Units
from labelnoise.tasks.base import DatasetSplits, TaskAdapter, TensorDataset
from labelnoise.tasks.regression.models import MLP
from labelnoise.tasks.regression.readers import RegressionData, load_sklearn, read_table

__all__ = ["RegressionAdapter", "RegressionConfig", "RegressionNoiseConfig", "standardize_targets"]

_SKLEARN = ("diabetes", "linnerud", "friedman1")


@dataclass
class RegressionNoiseConfig:
    """Simulated target noise on the training and validation splits.

    Attributes:
        kind: ``none``; ``symmetric`` (with probability ``rate`` replace a target by a uniform
            draw over the target range, ConFrag's protocol); ``gaussian`` (add
            ``N(0, (scale * std(y))^2)`` to every target); ``outlier`` (with probability
            ``rate`` shift a target by ``scale`` to ``2 * scale`` standard deviations).
        rate: corruption probability (``symmetric``, ``outlier``).
        scale: ``gaussian``: noise std in target standard deviations (default 0.5);
            ``outlier``: minimum shift in standard deviations (default 5 when 0).
        seed: noise seed; ``None`` uses the run seed.
        drop_corrupted: an oracle for benchmarks: train on the uncorrupted training rows only
            (what a perfect clean-sample selector would give; default false).
    """

    kind: Literal["none", "symmetric", "gaussian", "outlier"] = "none"
    rate: float = 0.0
    scale: float = 0.5
    seed: int | None = None
    drop_corrupted: bool = False


@dataclass
class RegressionConfig:
    """Options of the regression task (a recipe's ``task:`` section).

    Attributes:
        dataset: ``diabetes``, ``linnerud``, ``friedman1``, a ``.csv`` / ``.parquet`` path, or
            a ``.npz`` path with arrays ``x (N, D)`` and ``y (N,)``.
        target: target column (files: required; ``linnerud``: ``Weight``/``Waist``/``Pulse``).
        features: feature columns of a file (default: every other column).
        nan_features: ``error`` or ``mean`` (impute missing feature values by column means).
        n_samples: rows of ``friedman1``.
        data_seed: seed of the synthetic ``friedman1`` draw (default 0); ``None`` uses the run
            seed (a new data set per seed, as in ``benchmarks/regression_noise.py``).
        val_fraction / test_fraction: validation share of the training data / test share.
        hidden: hidden-layer widths of the MLP (``[]``: linear model).
        variance_head: add a log-variance output (for ``gaussian_nll``).
        dropout: dropout after each hidden layer.
        noise: see :class:`RegressionNoiseConfig`.

    Weighting the targets by a clean posterior is the method ``mixture_refit``
    (:mod:`labelnoise.methods.mixture_refit`), not a task option.
    """

    dataset: str = "diabetes"
    target: str | None = None
    features: list[str] | None = None
    nan_features: Literal["error", "mean"] = "error"
    n_samples: int = 20000
    data_seed: int | None = 0
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    hidden: list[int] = field(default_factory=lambda: [64, 64])
    variance_head: bool = False
    dropout: float = 0.0
    noise: RegressionNoiseConfig = field(default_factory=RegressionNoiseConfig)


def standardize_targets(y: np.ndarray) -> tuple[float, float]:
    """Robust centre and scale of targets: median and 1.4826 x MAD (std if the MAD is 0)."""
    center = float(np.median(y))
    scale = 1.4826 * float(np.median(np.abs(y - center)))
    if scale <= 1e-12:
        scale = float(np.std(y)) or 1.0
    return center, scale


def read_npz(path: Path) -> RegressionData:
    """``x (N, D)`` and ``y (N,)`` arrays of a ``.npz`` file (finite, matching rows)."""
    if not path.is_file():
        raise FileNotFoundError(f"task.dataset must be an existing .npz file; got {str(path)!r}")
    with np.load(path) as f:
        if "x" not in f or "y" not in f:
            raise ValueError(f"task.dataset {path.name} must hold arrays x and y; got {f.files}")
        x, y = np.asarray(f["x"], dtype=np.float32), np.asarray(f["y"], dtype=np.float64)
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"task.dataset {path.name} must hold x (N, D) and y (N,); got {x.shape}, {y.shape}"
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError(f"task.dataset {path.name} must be finite; got NaN or inf")
    return RegressionData(x, y, [f"x{i}" for i in range(x.shape[1])], "y")


def corrupt_targets(
    y: np.ndarray, noise: RegressionNoiseConfig, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(noisy (N,), is_corrupted (N,))`` with the core simulator named by ``noise.kind``."""
    if noise.kind == "none" or y.size == 0:
        return y.copy(), np.zeros(y.shape, dtype=bool)
    if noise.kind == "symmetric":
        out = uniform_replacement(y, rate=noise.rate, seed=seed)
    elif noise.kind == "gaussian":
        out = gaussian_noise(y, scale=noise.scale * float(np.std(y)), seed=seed)
    elif noise.kind == "outlier":
        out = outlier_noise(y, rate=noise.rate, scale=noise.scale or 5.0, seed=seed)
    else:
        raise ValueError(
            f"task.noise.kind must be none, symmetric, gaussian or outlier; got {noise.kind!r}"
        )
    return out.noisy.numpy(), out.is_corrupted.numpy()


class RegressionAdapter(TaskAdapter):
    """Scalar regression: one unit per example, ``pred (U, 1)`` or ``(U, 2)``."""

    name = "regression"
    Config = RegressionConfig
    lower_is_better: ClassVar[frozenset[str]] = frozenset({"mae", "rmse", "loss"})

    def __init__(self, config: RegressionConfig) -> None:
        super().__init__(config)
        self.y_center, self.y_scale = 0.0, 1.0
        self.x_mean: np.ndarray | None = None
        self.x_std: np.ndarray | None = None

    def _read(self, data_dir: Path | None, seed: int) -> RegressionData:
        cfg: RegressionConfig = self.config
        if cfg.dataset in _SKLEARN:
            data_seed = seed if cfg.data_seed is None else cfg.data_seed
            return load_sklearn(
                cfg.dataset,  # type: ignore[arg-type]
                target=cfg.target,
                n_samples=cfg.n_samples,
                seed=data_seed,
            )
        path = Path(cfg.dataset).expanduser()
        if not path.is_absolute() and data_dir is not None:
            path = Path(data_dir) / path
        if path.suffix.lower() == ".npz":
            return read_npz(path)
        if cfg.target is None:
            raise ValueError(f"task.target must name the target column of {path.name}; got null")
        return read_table(
            path, target=cfg.target, features=cfg.features, nan_features=cfg.nan_features
        )

    def build_datasets(self, data_dir: Path | None, *, seed: int) -> DatasetSplits:
        cfg: RegressionConfig = self.config
        data = self._read(data_dir, seed)
        n = data.y.shape[0]
        order = numpy_rng(seed).permutation(n)
        n_test = int(round(cfg.test_fraction * n))
        test_idx, rest = order[:n_test], order[n_test:]
        n_val = int(round(cfg.val_fraction * rest.size))
        val_idx, train_idx = rest[:n_val], rest[n_val:]
        if train_idx.size < 2:
            raise ValueError(f"the training split must hold at least 2 rows; got {train_idx.size}")
        noise_seed = seed if cfg.noise.seed is None else cfg.noise.seed
        y_tr, bad_tr = corrupt_targets(data.y[train_idx], cfg.noise, noise_seed)
        y_val, _ = corrupt_targets(data.y[val_idx], cfg.noise, noise_seed + 1)
        noise_rate = float(bad_tr.mean()) if bad_tr.size else 0.0
        if cfg.noise.drop_corrupted:  # the oracle: a perfect selection
            train_idx, y_tr = train_idx[~bad_tr], y_tr[~bad_tr]
        x_mean = data.x[train_idx].mean(0)
        x_std = np.where(data.x[train_idx].std(0) > 1e-12, data.x[train_idx].std(0), 1.0)
        self.x_mean, self.x_std = x_mean, x_std
        self.y_center, self.y_scale = standardize_targets(y_tr)

        def ds(idx: np.ndarray, noisy: np.ndarray) -> TensorDataset:
            x = torch.from_numpy(((data.x[idx] - x_mean) / x_std).astype(np.float32))
            t = torch.from_numpy(((noisy - self.y_center) / self.y_scale).astype(np.float32))
            c = torch.from_numpy(((data.y[idx] - self.y_center) / self.y_scale).astype(np.float32))
            return TensorDataset(x, t, c)

        info = {
            "num_train": int(train_idx.size),
            "num_val": int(val_idx.size),
            "num_test": int(test_idx.size),
            "noise": cfg.noise.kind,
            "noise_rate_realised": noise_rate,
            "target_center": self.y_center,
            "target_scale": self.y_scale,
        }
        return DatasetSplits(
            train=ds(train_idx, y_tr),
            val=ds(val_idx, y_val) if val_idx.size else None,
            test=ds(test_idx, data.y[test_idx]) if test_idx.size else None,
            num_classes=0,
            info=info,
        )

    def build_model(self, splits: DatasetSplits) -> nn.Module:
        cfg: RegressionConfig = self.config
        d = int(splits.train[0]["x"].numel())
        return MLP(d, hidden=cfg.hidden, variance_head=cfg.variance_head, dropout=cfg.dropout)

    def units(
        self, model: nn.Module, batch: dict[str, Any], *, target_key: str = "target"
    ) -> Units:
        pred = model(batch["x"])
        pred = pred[:, None] if pred.dim() == 1 else pred
        weight = batch.get("weight") if target_key == "target" else None
        return Units(pred, batch[target_key].float(), batch["example_id"].long(), weight=weight)

    def metrics(self, units: Units) -> dict[str, float]:
        """MAE and RMSE in target units (``pred[:, 0]`` for a variance head)."""
        pred = (units.pred[:, 0] if units.pred.dim() == 2 else units.pred).detach()
        if pred.numel() == 0:
            return {"mae": float("nan"), "rmse": float("nan")}
        err = (pred.double() - units.target.double().reshape(-1)) * self.y_scale
        return {"mae": float(err.abs().mean()), "rmse": float(err.pow(2).mean().sqrt())}

    @property
    def primary_metric(self) -> str:
        return "mae"
