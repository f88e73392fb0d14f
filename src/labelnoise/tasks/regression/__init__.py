"""Regression with noisy targets: readers, the MLP and scikit-learn models, the task adapter,
ConFrag's selection arithmetic, phase schedules of the multi-network regression methods, the
scikit-learn-like :class:`NoisyRegressor` (a thin wrapper of the engine), detection helpers and
metrics (MAE / RMSE on clean targets, ERR).

The methods themselves (``mixture_refit``, ``trimmed_refit``, ``confrag``) are in
:mod:`labelnoise.methods` and train in the one loop, :func:`labelnoise.engine.train`.
"""

from labelnoise.tasks.regression.adapter import (
    RegressionAdapter,
    RegressionConfig,
    RegressionNoiseConfig,
    corrupt_targets,
    standardize_targets,
)
from labelnoise.tasks.regression.confrag import (
    agreement_score,
    contrastive_pairs,
    expert_votes,
    fragment_of,
    jittered_window,
)
from labelnoise.tasks.regression.estimator import DEFAULT_RECIPE, NoisyRegressor
from labelnoise.tasks.regression.metrics import error_residual_ratio, mae, rmse
from labelnoise.tasks.regression.models import MLP, SklearnRegressor, cross_val_predictions
from labelnoise.tasks.regression.readers import (
    RegressionData,
    aggregate_raters,
    load_sklearn,
    read_raters,
    read_table,
)

__all__ = [
    "DEFAULT_RECIPE",
    "MLP",
    "NoisyRegressor",
    "RegressionAdapter",
    "RegressionConfig",
    "RegressionData",
    "RegressionNoiseConfig",
    "SklearnRegressor",
    "aggregate_raters",
    "agreement_score",
    "contrastive_pairs",
    "corrupt_targets",
    "cross_val_predictions",
    "error_residual_ratio",
    "expert_votes",
    "fragment_of",
    "jittered_window",
    "load_sklearn",
    "mae",
    "read_raters",
    "read_table",
    "rmse",
    "standardize_targets",
]
