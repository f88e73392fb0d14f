"""``NoisyRegressor``: a scikit-learn-like ``fit(x, y)`` / ``predict(x)`` on the one loop.

A thin wrapper: ``fit`` writes the arrays to a ``.npz`` file, builds a
:class:`~labelnoise.config.RunConfig` for the regression task on it (a recipe file or mapping,
one of its variants and overrides; the split is the whole training set -- no validation, no
test, no simulated noise: ``y`` is taken as given; the last epoch's model) and calls :func:`labelnoise.engine.train`.
``predict`` loads the run's selected network 0. Every method of the registry that runs on the
regression task works (``method: {name: mixture_refit}``, ...).

Nothing is written into the working directory: the run goes to a fresh temporary directory,
deleted after ``fit`` unless ``run_dir`` is given (then the run stays there, and a directory
holding another run is refused unless ``overwrite``).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from labelnoise.config import RunConfig, deep_merge, load_recipe, resolve

__all__ = ["DEFAULT_RECIPE", "NoisyRegressor"]

#: The recipe used when none is given: an MLP (64, 64) with the MSE, AdamW (lr 3e-3, weight
#: decay 1e-4, cosine), 40 epochs of batches of 256, the last epoch's model.
DEFAULT_RECIPE: dict[str, Any] = {
    "name": "noisy_regressor",
    "task": {"name": "regression", "hidden": [64, 64]},
    "loss": {"name": "mse"},
    "data": {"batch_size": 256},
    "optim": {"lr": 3e-3, "weight_decay": 1e-4, "scheduler": "cosine"},
    "train": {"epochs": 40, "select_by": "last", "progress": False},
    "detection": {"method": "none"},
}


class NoisyRegressor:
    """Train a regressor on noisy targets with any regression recipe (module docstring).

    Args:
        recipe: a recipe path or mapping (default :data:`DEFAULT_RECIPE`); its ``task``
            section gives the network (``hidden``, ``variance_head``, ``dropout``).
        variant: one of the recipe's variants.
        overrides: nested overrides, e.g. ``{"method": {"name": "mixture_refit"}}``.
        seed: the run seed (initialisation, data order).
        run_dir: keep the run there (default: a temporary directory, deleted after ``fit``).
        overwrite: replace a run already in ``run_dir``.

    Attributes (after ``fit``): ``config_`` the RunConfig, ``metrics_`` the run's metrics,
    ``model_`` the trained network (standardised inputs and targets).
    """

    def __init__(
        self,
        recipe: str | Path | Mapping[str, Any] | None = None,
        *,
        variant: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        seed: int = 0,
        run_dir: str | Path | None = None,
        overwrite: bool = False,
    ) -> None:
        if recipe is None:
            recipe = DEFAULT_RECIPE
        self.recipe = dict(recipe) if isinstance(recipe, Mapping) else load_recipe(recipe)
        self.variant, self.overrides = variant, dict(overrides or {})
        self.seed, self.run_dir, self.overwrite = seed, run_dir, overwrite
        self.config_: RunConfig | None = None
        self.metrics_: dict[str, Any] | None = None
        self.model_: torch.nn.Module | None = None

    def config(self, dataset: str | Path, output_dir: str | Path) -> RunConfig:
        """The RunConfig of a fit on ``dataset`` (a ``.npz`` with ``x`` and ``y``)."""
        fixed = {
            "seed": self.seed,
            "output_dir": str(output_dir),
            "train": {"select_by": "last"},  # no validation split
            "task": {
                "dataset": str(dataset),
                "val_fraction": 0.0,
                "test_fraction": 0.0,
                "noise": {"kind": "none", "drop_corrupted": False},
            },
        }
        over = deep_merge({"train": {"progress": False}}, self.overrides)  # quiet by default
        return resolve(self.recipe, deep_merge(over, fixed), variant=self.variant)

    def fit(self, x: np.ndarray, y: np.ndarray) -> NoisyRegressor:
        """Train on ``x (N, D)`` and noisy ``y (N,)``; returns ``self``."""
        from labelnoise.engine import train
        from labelnoise.tasks.regression.adapter import RegressionAdapter

        x = np.asarray(x, dtype=np.float32)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if x.ndim != 2 or x.shape[0] != y.shape[0]:
            raise ValueError(f"x must have shape ({y.shape[0]}, D); got {x.shape}")
        if y.shape[0] < 2 or not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError(f"x and y must be finite with >= 2 rows; got {y.shape[0]} rows")
        tmp = Path(tempfile.mkdtemp(prefix="labelnoise_regressor_"))
        try:
            np.savez(tmp / "data.npz", x=x, y=y)
            out = Path(self.run_dir) if self.run_dir is not None else tmp / "run"
            cfg = self.config(tmp / "data.npz", out)
            self.metrics_ = train(cfg, overwrite=self.overwrite)
            # the adapter's standardisation of this data (the same split and statistics)
            self.adapter_ = RegressionAdapter(cfg.task.options)
            splits = self.adapter_.build_datasets(None, seed=cfg.seed)
            model = self.adapter_.build_model(splits)
            best = torch.load(out / "best_model.pt", map_location="cpu", weights_only=True)
            model.load_state_dict(best)
            self.model_, self.config_ = model.eval(), cfg
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return self

    def _raw(self, x: np.ndarray) -> torch.Tensor:
        if self.model_ is None:
            raise ValueError("predict needs a fitted model; call fit first")
        a = self.adapter_
        assert a.x_mean is not None and a.x_std is not None  # set by build_datasets
        xs = (np.asarray(x, dtype=np.float32) - a.x_mean) / a.x_std
        with torch.no_grad():
            return self.model_(torch.from_numpy(xs.astype(np.float32)))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(N,)`` predicted means in target units."""
        out = self._raw(x)
        mean = out[:, 0] if out.dim() == 2 else out
        return mean.double().numpy() * self.adapter_.y_scale + self.adapter_.y_center

    def predict_std(self, x: np.ndarray) -> np.ndarray:
        """``(N,)`` predicted standard deviations (``task.variance_head: true`` only)."""
        out = self._raw(x)
        if out.dim() != 2:
            raise ValueError("predict_std needs task.variance_head: true; got a mean-only model")
        return np.exp(0.5 * out[:, 1].double().numpy()) * self.adapter_.y_scale
