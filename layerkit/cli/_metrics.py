"""The numbers ``layerkit train`` reports for a fitted estimator on a set of rows."""

from __future__ import annotations

import warnings
from typing import Any

from sklearn.base import is_classifier
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)


def scores(est: Any, X: Any, y: Any) -> dict[str, float]:
    """Accuracy, balanced accuracy and log loss; or R², MSE and MAE for a regressor."""
    with warnings.catch_warnings():
        # e.g. "y_pred contains classes not in y_true" on a small test split: the
        # numbers are still right, and the user asked for them
        warnings.simplefilter("ignore", UserWarning)
        return _scores(est, X, y)


def _scores(est: Any, X: Any, y: Any) -> dict[str, float]:
    if is_classifier(est):
        proba = est.predict_proba(X)
        predicted = est.classes_[proba.argmax(axis=1)]
        return {
            "accuracy": float(accuracy_score(y, predicted)),
            "balanced_accuracy": float(balanced_accuracy_score(y, predicted)),
            "log_loss": float(log_loss(y, proba, labels=est.classes_)),
        }
    predicted = est.predict(X)
    return {
        "r2": float(r2_score(y, predicted)) if len(y) > 1 else float("nan"),
        "mse": float(mean_squared_error(y, predicted)),
        "mae": float(mean_absolute_error(y, predicted)),
    }
