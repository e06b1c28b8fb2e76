"""``layerkit train EXPERIMENT``: fit, then write the model, its metrics and its loss curve."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from ..estimators import MLPClassifier, MLPRegressor
from ..exceptions import DivergenceError
from ..io import save
from ._config import Loaded, load_experiment
from ._errors import CLIError
from ._metrics import scores
from ._plot import save_loss_curve
from ._progress import EpochPrinter
from ._tables import read_table

_LOSSES = {"classification": ("log_loss",), "regression": ("squared_error", "poisson")}


def train(config_path: Path, *, quiet: bool = False) -> dict[str, Any]:
    """Run the experiment in ``config_path``; return the metrics written."""
    loaded = load_experiment(config_path)
    exp = loaded.experiment
    data_path = loaded.base / exp.data.path
    X, y, features = _examples(read_table(data_path), exp.data, exp.task, data_path)
    est = _estimator(loaded, config_path)
    X_train, X_test, y_train, y_test = _split(X, y, exp)
    say: Any = (lambda *a: None) if quiet else print
    say(
        f"training {type(est).__name__} on {len(y_train)} rows x {X.shape[1]} features of "
        f"{data_path.name} (testing on {len(y_test)} held-out rows)"
    )
    if not quiet:
        EpochPrinter(every=max(1, exp.training.max_iter // 20)).attach(est)
    start = time.perf_counter()
    converged = _fit(est, X_train, y_train)
    seconds = time.perf_counter() - start
    metrics = _metrics(est, exp, data_path, X_train, y_train, X_test, y_test, seconds, converged)
    metrics["features"] = features
    # saved with the model, so that `layerkit predict` finds the columns by name
    est.feature_names_in_ = np.asarray(features, dtype=object)
    out = loaded.base / exp.output.dir
    out.mkdir(parents=True, exist_ok=True)
    if hasattr(est, "_skl_callbacks"):
        est.set_callbacks()  # the printer is not part of the model
    metrics["files"] = {"model": str(save(est, out / exp.output.model))}
    if exp.output.plot:
        metrics["files"]["plot"] = save_loss_curve(est, out / exp.output.plot)
    metrics_path = out / exp.output.metrics
    metrics["files"]["metrics"] = str(metrics_path)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    _summary(metrics, say)
    return metrics


def _examples(
    table: dict[str, np.ndarray], data: Any, task: str, path: Path
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    columns = list(table)
    if data.target not in table:
        raise CLIError(f"{path}: no target column {data.target!r}; the columns are {columns}")
    features = (
        data.features
        if data.features is not None
        else [name for name in columns if name != data.target]
    )
    missing = [name for name in features if name not in table]
    if missing:
        raise CLIError(f"{path}: no feature column(s) {missing}; the columns are {columns}")
    if data.target in features:
        raise CLIError(f"{path}: the target {data.target!r} cannot also be a feature")
    if not features:
        raise CLIError(f"{path}: no feature columns besides the target {data.target!r}")
    for name in features:
        _check_numeric(table[name], f"{path}: feature column {name!r}")
    X = np.column_stack([table[name] for name in features])
    y = table[data.target]
    if task == "regression":
        _check_numeric(y, f"{path}: target column {data.target!r} (regression)")
    elif y.dtype != object:
        _check_numeric(y, f"{path}: target column {data.target!r}")
        if np.all(y == np.round(y)):
            y = y.astype(np.int64)  # class labels 0, 1, 2 rather than 0.0, 1.0, 2.0
    return X, y, features


def _check_numeric(column: np.ndarray, what: str) -> None:
    if column.dtype == object:
        bad = next(i for i, v in enumerate(column) if not _is_number(v))
        raise CLIError(
            f"{what} must hold numbers, but row {bad + 1} holds {column[bad]!r}; "
            "encode categories as numbers first"
        )
    nan = np.flatnonzero(np.isnan(column))
    if nan.size:
        raise CLIError(
            f"{what} has {nan.size} missing value(s) (first in row {nan[0] + 1}); fill or "
            "drop them first"
        )


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _estimator(loaded: Loaded, config_path: Path) -> Any:
    exp = loaded.experiment
    loss = loaded.loss
    if isinstance(loss, str) and loss not in _LOSSES[exp.task]:
        allowed = " or ".join(repr(name) for name in _LOSSES[exp.task])
        raise CLIError(
            f"{config_path}: loss: {loss!r} does not fit task {exp.task!r}; use {allowed}, "
            'or a loss object such as {type = "SquaredError"}'
        )
    cls = MLPClassifier if exp.task == "classification" else MLPRegressor
    params: dict[str, Any] = dict(
        solver=loaded.optimizer,
        max_iter=exp.training.max_iter,
        batch_size=exp.training.batch_size,
        alpha=exp.training.alpha,
        tol=exp.training.tol,
        shuffle=exp.training.shuffle,
        random_state=exp.training.random_state,
        early_stopping=exp.validation.early_stopping,
        validation_fraction=exp.validation.validation_fraction,
        n_iter_no_change=exp.validation.n_iter_no_change,
    )
    if loaded.layers is not None:
        params["layers"] = loaded.layers
    if loss is not None:
        params["loss"] = loss
    return cls(**params)


def _split(X: np.ndarray, y: np.ndarray, exp: Any) -> tuple[Any, Any, Any, Any]:
    fraction = exp.validation.test_fraction
    if fraction == 0:
        return X, X[:0], y, y[:0]
    stratify = None
    if exp.task == "classification":
        _, counts = np.unique(y, return_counts=True)
        stratify = y if counts.min() >= 2 else None
    try:
        return train_test_split(
            X, y, test_size=fraction, random_state=exp.training.random_state, stratify=stratify
        )
    except ValueError as err:
        raise CLIError(f"validation.test_fraction={fraction}: {err}") from None


def _fit(est: Any, X: np.ndarray, y: np.ndarray) -> bool:
    """Fit; False if the solver stopped at max_iter before converging."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            est.fit(X, y)
        except DivergenceError as err:
            raise CLIError(f"training diverged: {err}") from None
        except (ValueError, TypeError) as err:
            raise CLIError(f"cannot train {type(est).__name__}: {err}") from None
    for warning in caught:
        if not issubclass(warning.category, ConvergenceWarning):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return not any(issubclass(w.category, ConvergenceWarning) for w in caught)


def _metrics(
    est: Any,
    exp: Any,
    data_path: Path,
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    seconds: float,
    converged: bool,
) -> dict[str, Any]:
    metrics: dict[str, Any] = {
        "task": exp.task,
        "estimator": type(est).__name__,
        "data": str(data_path),
        "target": exp.data.target,
        "n_train": len(y_train),
        "n_test": len(y_test),
        "train": scores(est, X_train, y_train),
        "test": scores(est, X_test, y_test) if len(y_test) else None,
        "n_iter": int(est.n_iter_),
        "converged": converged,
        "fit_seconds": round(seconds, 3),
        "loss_curve": [float(v) for v in est.loss_curve_],
        "validation_scores": None
        if est.validation_scores_ is None
        else [float(v) for v in est.validation_scores_],
    }
    if exp.task == "classification":
        metrics["classes"] = [c.item() if hasattr(c, "item") else c for c in est.classes_]
    return metrics


def _summary(metrics: dict[str, Any], say: Any) -> None:
    status = "" if metrics["converged"] else " (stopped at max_iter before converging)"
    say(f"trained {metrics['n_iter']} epochs in {metrics['fit_seconds']:.1f} s{status}")
    for part in ("train", "test"):
        if metrics[part]:
            values = ", ".join(f"{k} {v:.4f}" for k, v in metrics[part].items())
            say(f"{part}: {values}")
    for kind, where in metrics["files"].items():
        if where:
            say(f"wrote {kind}: {where}")
