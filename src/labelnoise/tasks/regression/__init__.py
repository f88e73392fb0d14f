"""Regression with noisy targets: readers, MLP and scikit-learn models, robust training,
ConFrag sample selection, mixture select-then-refit, detection and metrics (MAE / RMSE on
clean targets, ERR)."""

from labelnoise.tasks.regression.adapter import (
    RegressionAdapter,
    RegressionConfig,
    RegressionNoiseConfig,
    corrupt_targets,
)
from labelnoise.tasks.regression.confrag import (
    ConFragConfig,
    ConFragSelection,
    confrag_select,
    contrastive_pairs,
    fit_confrag,
)
from labelnoise.tasks.regression.metrics import error_residual_ratio, mae, rmse
from labelnoise.tasks.regression.mixture_refit import MixtureRefit, fit_mixture_refit
from labelnoise.tasks.regression.models import MLP, SklearnRegressor, cross_val_predictions
from labelnoise.tasks.regression.readers import (
    RegressionData,
    aggregate_raters,
    load_sklearn,
    read_raters,
    read_table,
)
from labelnoise.tasks.regression.training import FittedMLP, TrainConfig, fit_mlp

__all__ = [
    "MLP",
    "ConFragConfig",
    "ConFragSelection",
    "FittedMLP",
    "MixtureRefit",
    "RegressionAdapter",
    "RegressionConfig",
    "RegressionData",
    "RegressionNoiseConfig",
    "SklearnRegressor",
    "TrainConfig",
    "aggregate_raters",
    "confrag_select",
    "contrastive_pairs",
    "corrupt_targets",
    "cross_val_predictions",
    "error_residual_ratio",
    "fit_confrag",
    "fit_mixture_refit",
    "fit_mlp",
    "load_sklearn",
    "mae",
    "read_raters",
    "read_table",
    "rmse",
]
