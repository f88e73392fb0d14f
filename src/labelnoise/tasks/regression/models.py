"""Regression models: a small MLP (optionally with a variance head) and a scikit-learn wrapper.

The MLP is the network every torch method trains. :class:`SklearnRegressor` lets any
scikit-learn regressor take part in detection: :func:`cross_val_predictions` gives the
out-of-fold predictions that residual scores need (cleanlab's advice, and ours).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import Tensor, nn

__all__ = ["MLP", "SklearnRegressor", "cross_val_predictions"]


class MLP(nn.Module):
    """Fully connected regressor.

    Args:
        in_features: ``D``.
        hidden: widths of the hidden layers (ReLU); ``()`` gives a linear model.
        variance_head: add a second output, the log-variance (heteroscedastic regression,
            Nix & Weigend 1994); ``forward`` then returns ``(N, 2)`` = ``[mean, log_var]``.
        dropout: dropout after each hidden layer (default 0).

    ``forward(x (N, D))`` returns ``(N,)`` or ``(N, 2)``; ``embed(x)`` the last hidden layer.
    """

    def __init__(
        self,
        in_features: int,
        *,
        hidden: Sequence[int] = (64, 64),
        variance_head: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if in_features < 1:
            raise ValueError(f"in_features must be >= 1; got {in_features}")
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = int(h)
        self.body = nn.Sequential(*layers)
        self.variance_head = variance_head
        self.head = nn.Linear(width, 2 if variance_head else 1)
        self.embed_dim = width

    def embed(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        out = self.head(self.body(x))
        return out if self.variance_head else out[:, 0]


class SklearnRegressor:
    """Thin wrapper giving a scikit-learn regressor the ``fit`` / ``predict`` surface of the
    torch methods (float64 in, ``(N,)`` float64 out, optional per-sample weights).

    Args:
        estimator: any unfitted scikit-learn regressor (cloned at each ``fit``).
    """

    def __init__(self, estimator: Any) -> None:
        if not (hasattr(estimator, "fit") and hasattr(estimator, "predict")):
            raise ValueError(f"estimator must have fit and predict; got {type(estimator).__name__}")
        self.estimator = estimator
        self.fitted_: Any = None

    def fit(
        self, x: np.ndarray, y: np.ndarray, *, sample_weight: np.ndarray | None = None
    ) -> SklearnRegressor:
        from sklearn.base import clone

        est = clone(self.estimator)
        if sample_weight is None:
            est.fit(np.asarray(x), np.asarray(y, dtype=np.float64))
        else:
            est.fit(np.asarray(x), np.asarray(y, dtype=np.float64), sample_weight=sample_weight)
        self.fitted_ = est
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.fitted_ is None:
            raise ValueError("predict needs a fitted model; call fit first")
        return np.asarray(self.fitted_.predict(np.asarray(x)), dtype=np.float64).reshape(-1)


def cross_val_predictions(
    model: Any, x: np.ndarray, y: np.ndarray, *, folds: int = 5, seed: int = 0
) -> np.ndarray:
    """Out-of-fold predictions ``(N,)``: each sample predicted by a model not trained on it.

    Args:
        model: a scikit-learn regressor, a :class:`SklearnRegressor`, or any object whose
            ``fit(x, y)`` returns a fitted object with ``predict(x)`` (the torch methods'
            ``RegressionMethod``).
        folds: number of folds, ``2 <= folds <= N``.
        seed: shuffling seed of the folds.
    """
    from sklearn.model_selection import KFold

    n = len(y)
    if not isinstance(folds, (int, np.integer)) or not 2 <= folds <= n:
        raise ValueError(f"folds must be an integer in [2, {n}]; got {folds!r}")
    wrapped = model if hasattr(model, "fit") and not _is_sklearn(model) else SklearnRegressor(model)
    out = np.empty(n, dtype=np.float64)
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(np.arange(n)):
        fitted = wrapped.fit(x[train], y[train])
        out[test] = np.asarray(fitted.predict(x[test]), dtype=np.float64).reshape(-1)
    return out


def _is_sklearn(model: Any) -> bool:
    return hasattr(model, "get_params") and hasattr(model, "fit")
