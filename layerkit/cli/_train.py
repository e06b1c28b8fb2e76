"""``layerkit train EXPERIMENT``: fit, then write the model, its metrics and its loss curve."""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..estimators import MLPClassifier, MLPRegressor
from ..exceptions import DivergenceError, TrainingInterrupted
from ..io import save
from ..layers import Dense
from ..losses import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    PoissonLoss,
    SquaredError,
)
from ..training import HOW_TO_SCALE_THE_TARGET
from ._categorical_columns import read_as_written
from ._config import Loaded, load_experiment
from ._errors import CLIError
from ._examples import examples, identifier_features, split
from ._metrics import scores
from ._one_hot import as_fitted_on_the_table, encoded_width, encoding_pipeline, filled_with
from ._plot import save_loss_curve
from ._progress import EpochPrinter
from ._progress import say as progress_say
from ._tables import check_not_an_input, check_replaceable, read_table_and_text, written_whole

#: The built-in losses (by name and by class) that make sense for each task.
_LOSSES = {
    "classification": (("log_loss",), (CategoricalCrossEntropy, BinaryCrossEntropy)),
    "regression": (("squared_error", "poisson"), (SquaredError, PoissonLoss)),
}


def train(config_path: Path, *, quiet: bool = False) -> dict[str, Any]:
    """Run the experiment in ``config_path``; return the metrics written."""
    loaded = load_experiment(config_path)
    exp = loaded.experiment
    out = _writable_dir(loaded)  # before any work: a bad output path fails at once
    data_path = loaded.base / exp.data.path
    _check_outputs(loaded, config_path, out, data_path)
    # (a boolean class label stays a boolean, as pandas reads it)
    labels = [exp.data.target] if exp.task == "classification" else []
    listed = [] if exp.data.categorical == "auto" else list(exp.data.categorical)
    table, as_written = read_table_and_text(data_path, [*labels, *listed])
    unread = [n for n in read_as_written(table, exp.data) if n not in as_written]
    if unread:  # (a Pipeline's columns as pandas reads them: categories not stripped)
        table, as_written = read_table_and_text(data_path, [*labels, *listed, *unread])
    X, y, features, categorical = examples(table, exp.data, exp.task, data_path, as_written)
    if exp.data.features is None:
        for name in identifier_features(table, features):
            print(
                f"layerkit train: warning: feature column {name!r} holds a distinct whole "
                "number in every row, as an identifier does: row labels are trained on as "
                "data (and predictions would depend on them); leave it out (data.exclude)",
                file=sys.stderr,
            )
    steps = bool(categorical) or exp.data.impute is not None  # (a Pipeline's steps)
    folds = exp.data.standardize and not steps
    est = _estimator(loaded, config_path, y, folds)
    model = (
        encoding_pipeline(est, features, categorical, exp.data.standardize, exp.data.impute)
        if steps
        else est
    )
    X_train, X_test, y_train, y_test = split(
        X, y, exp.task, exp.validation.test_fraction, exp.training.random_state
    )
    say: Any = (lambda *a: None) if quiet else progress_say
    target_scaled = _scales_target(exp, est)
    inputs = "numeric inputs" if categorical else "inputs"
    scales_inputs = exp.data.standardize and len(categorical) < len(features)
    scaled = [(inputs, scales_inputs)]
    scaled_text = " and ".join(name for name, on in [*scaled, ("target", target_scaled)] if on)
    encoded = f"{len(categorical)} of them categorical, one-hot encoded; " if categorical else ""
    numbers = [n for n in features if n not in categorical]
    filled = [n for n in numbers if table[n].dtype != object and np.isnan(table[n]).any()]
    if filled:
        encoded += f"missing values filled in {len(filled)} numeric column(s); "
    say(
        f"training {type(est).__name__} on {len(y_train)} rows x {X.shape[1]} features of "
        f"{data_path.name} ({encoded}testing on {len(y_test)} held-out rows"
        f"{f'; {scaled_text} standardized' if scaled_text else ''})"
    )
    printer = None if quiet else EpochPrinter(every=max(1, exp.training.max_iter // 20))
    if printer is not None:
        printer.attach(est)
    if folds:
        mean, scale = _standardizer(X_train)
        X_fit = (X_train - mean) / scale
    else:
        X_fit = X_train
    y_fit = y_train
    if target_scaled:
        y_mean, y_scale = (float(v[0]) for v in _standardizer(y_train[:, None]))
        y_fit = (y_train - y_mean) / y_scale
    start = time.perf_counter()
    try:
        converged = _fit(model, X_fit, y_fit, exp.data.standardize)
    finally:
        if printer is not None:
            printer.detach(est)  # the printer is not part of the model
    seconds = time.perf_counter() - start
    if folds:
        _fold_standardization(est, mean, scale, features)  # the model takes the raw columns
    if target_scaled:
        _fold_target_scaling(est, y_mean, y_scale)  # and predicts in the target's units
    metrics = _metrics(model, est, exp, data_path, (X_train, y_train), (X_test, y_test))
    metrics["standardized"] = scales_inputs  # (the numeric inputs: none, categories only)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CLIError(f"output.dir: cannot create {out}: {err.strerror or err}") from None
    metrics.update(features=features, converged=converged, fit_seconds=round(seconds, 3))
    if steps:
        metrics.update(categorical=list(categorical), network_inputs=encoded_width(model))
        metrics.update(imputed=filled_with(model, features, filled))
        as_fitted_on_the_table(model, features, categorical)
    else:
        # saved with the model, so that `layerkit predict` finds the columns by name
        est.feature_names_in_ = np.asarray(features, dtype=object)
    files = metrics["files"] = {"model": str(save(model, out / exp.output.model))}
    if exp.output.plot:
        files["plot"] = save_loss_curve(est, out / exp.output.plot, command="layerkit train")
    files["metrics"] = str(out / exp.output.metrics)
    text = json.dumps(_no_nan(metrics), indent=2, allow_nan=False)  # (standard JSON)
    with written_whole(out / exp.output.metrics) as temporary:
        temporary.write_text(text + "\n", encoding="utf-8")
    _summary(metrics, say)
    return metrics


def _writable_dir(loaded: Loaded) -> Path:
    """output.dir, if it is (or can be created as) a writable directory; nothing is created."""
    out = loaded.base / loaded.experiment.output.dir
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise CLIError(f"output.dir: {existing} is a file, so {out} cannot be a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise CLIError(f"output.dir: cannot write in {existing} (permission denied)")
    return out


def _check_outputs(loaded: Loaded, config_path: Path, out: Path, data_path: Path) -> None:
    """Before any work: no output is a directory, one of the run's inputs (the data, the
    experiment file, a plugin module; also through a link) or another output."""
    inputs = {"data.path": data_path, "the experiment file": Path(os.path.abspath(config_path))}
    for i, name in enumerate(loaded.experiment.plugins):
        module_file = getattr(sys.modules.get(name), "__file__", None)
        if module_file:
            inputs[f"plugins.{i} {name!r}"] = Path(module_file)
    output = loaded.experiment.output
    written: dict[str, Path] = {}
    for setting in ("model", "metrics", "plot"):
        name = getattr(output, setting)
        if name is None:
            continue
        path = out / name
        what = f"output.{setting}:"
        if path.is_dir():
            raise CLIError(f"{what} {path} is a directory; give a file name")
        check_replaceable(path, what)
        check_not_an_input(path, what, inputs)
        for other, other_path in written.items():
            if path.exists() and other_path.exists() and path.samefile(other_path):
                raise CLIError(
                    f"{what} {path} is the same file as {other} ({other_path}); one would "
                    "overwrite the other: give them different files"
                )
        written[f"output.{setting}"] = path


def _estimator(loaded: Loaded, config_path: Path, y: np.ndarray, folds: bool) -> Any:
    """The network estimator; ``folds``: the input scaling is to be folded into its
    first layer."""
    exp = loaded.experiment
    loss = loaded.loss
    names, classes = _LOSSES[exp.task]
    other = "regression" if exp.task == "classification" else "classification"
    if (isinstance(loss, str) and loss not in names) or isinstance(loss, _LOSSES[other][1]):
        shown = loss if isinstance(loss, str) else type(loss).__name__
        allowed = ", ".join([*(repr(n) for n in names), *(c.__name__ for c in classes)])
        raise CLIError(
            f"{config_path}: loss: {shown!r} is a loss for {other}, not {exp.task}; use one "
            f"of {allowed} (or leave loss out for the default)"
        )
    layers = loaded.layers
    if folds and layers is not None and type(layers[0]) is not Dense:
        # (exactly Dense: the fold rewrites W and b for x W + b, which a subclass, a
        # weight-normalized one say, need not compute)
        subclass = " (a subclass of Dense may compute other than x W + b)"
        raise CLIError(
            f"{config_path}: data.standardize = true folds the input scaling into the first "
            f"layer, which must be a Dense layer, not {layers[0]!r}"
            f"{subclass if isinstance(layers[0], Dense) else ''}; put a Dense layer first "
            "or set standardize = false"
        )
    cls = MLPClassifier if exp.task == "classification" else MLPRegressor
    params: dict[str, Any] = dict(
        solver=loaded.optimizer,
        max_iter=exp.training.max_iter,
        batch_size=exp.training.batch_size,
        alpha=exp.training.alpha,
        tol=exp.training.tol,
        shuffle=exp.training.shuffle,
        learning_rate=exp.training.learning_rate,
        power_t=exp.training.power_t,
        random_state=exp.training.random_state,
        early_stopping=exp.validation.early_stopping,
        validation_fraction=exp.validation.validation_fraction,
        n_iter_no_change=exp.validation.n_iter_no_change,
        scoring=exp.validation.scoring,
    )
    if layers is not None:
        params["layers"] = layers
    if loss is not None:
        params["loss"] = loss
        n_classes = len(np.unique(y)) if exp.task == "classification" else 0
        if type(loss) is BinaryCrossEntropy and n_classes > 2:
            raise CLIError(
                f"{config_path}: loss: BinaryCrossEntropy with {n_classes} classes trains "
                "one sigmoid per class (one-vs-rest), whose probabilities do not sum to 1 "
                "(and log_loss on them means nothing); for one label per row use "
                '"log_loss" (softmax), the default'
            )
    if exp.training.class_weight is not None:
        params["class_weight"] = _class_weight(exp.training.class_weight, exp.task, y, config_path)
    return cls(**params)


def _class_weight(given: Any, task: str, y: np.ndarray, config_path: Path) -> Any:
    """``'balanced'``, or the table's weights keyed by the labels they name (a table's
    keys are text: ``"0"`` names the label 0)."""
    if task != "classification":
        raise CLIError(f"{config_path}: training.class_weight is for classification only")
    if given == "balanced":
        return given
    labels = {str(label): label for label in np.unique(y)}
    unknown = sorted(set(given) - set(labels))
    if unknown:
        from ._config import _close_name

        guesses = [(name, _close_name(name, list(labels))) for name in unknown]
        did_you_mean = "".join(
            f"; did you mean {guess!r} for {name!r}?" for name, guess in guesses if guess
        )
        raise CLIError(
            f"{config_path}: training.class_weight names {', '.join(map(repr, unknown))}, "
            f"not among the labels of the target: {', '.join(map(repr, labels))}"
            f"{did_you_mean}"
        )
    return {labels[key]: weight for key, weight in given.items()}


def _standardizer(X: np.ndarray) -> tuple[Any, Any]:
    """Each column's mean and standard deviation, computed on the column divided by its
    largest magnitude: squaring values beyond about 1e154 overflows, and a column of
    them would get an infinite scale (its weights then all 0, the column silently
    ignored). A constant column keeps scale 1, and so does one whose spread is within
    the rounding of its values (1e6 and the next float, 0.3 and 0.1 + 0.2), as
    scikit-learn's StandardScaler takes it: scaled up, that rounding noise became a
    feature, and folding its scale of 1e-10 into the model cost it its accuracy."""
    largest = np.abs(X).max(axis=0) if len(X) else np.ones(X.shape[1])
    largest = np.where(largest > 0, largest, 1.0)
    unit = X / largest
    scale, mean = unit.std(axis=0) * largest, unit.mean(axis=0) * largest
    noise = scale <= 10 * np.finfo(np.float64).eps * np.abs(mean)
    return mean, np.where((scale > 0) & ~noise, scale, 1.0)


def _fold_standardization(
    est: Any, mean: np.ndarray, scale: np.ndarray, features: list[str]
) -> None:
    """Make the first Dense layer take raw inputs: ((x - μ)/s) W + b = x (W/s) + (b - (μ/s) W).
    A column spread so little that W/s overflows (below about 1e-300) is refused by name."""
    first = est.network_.layers[0]
    W, b = first.params["W"], first.params["b"]
    with np.errstate(over="ignore", invalid="ignore"):
        folded, shifted = W / scale[:, None], b - (mean / scale) @ W
    if not (np.isfinite(folded).all() and np.isfinite(shifted).all()):
        bad = [
            f"{features[j]!r} ({scale[j]:.3g})"
            for j in np.flatnonzero(~np.isfinite(folded).all(axis=1))
        ]
        raise CLIError(
            f"data.standardize: cannot fold the scaling into the model: feature column(s) "
            f"{', '.join(bad) or 'with tiny spreads'} vary so little (standard deviation "
            "in brackets) that their weights overflow; multiply them by a power of ten in "
            "the file, or drop them"
        )
    np.copyto(W, folded, casting="same_kind")
    np.copyto(b, shifted, casting="same_kind")


def _no_nan(value: Any) -> Any:
    """``value`` with NaN and infinite floats as None (JSON null): a score on one test
    row (R² of a single value) is NaN, which JSON does not have."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


def _scales_target(exp: Any, est: Any) -> bool:
    """Whether the target is standardized for training: a regression with the squared
    error (an affine scaling of the target is then folded exactly into the output layer;
    the Poisson loss's counts cannot be shifted)."""
    if exp.task != "regression" or not exp.data.standardize_target:
        return False
    loss = est.get_params()["loss"]
    return loss == "squared_error" if isinstance(loss, str) else type(loss) is SquaredError


def _fold_target_scaling(est: Any, mean: float, scale: float) -> None:
    """Make the output layer predict in the target's units: s (a W + b) + μ =
    a (s W) + (s b + μ), for the last Dense layer (its Identity output keeps it)."""
    last = [layer for layer in est.network_.layers if isinstance(layer, Dense)][-1]
    W, b = last.params["W"], last.params["b"]
    np.multiply(W, scale, out=W, casting="same_kind")
    np.copyto(b, b * scale + mean, casting="same_kind")


def _fit(est: Any, X: np.ndarray, y: np.ndarray, scaled: bool) -> bool:
    """Fit; False if the solver stopped at max_iter before converging.

    Ctrl-C stops the command (exit 130, nothing written): a run is a job, and a model
    cut short must not look like a finished one. The estimator stops at a batch boundary
    as in interactive use and says so with a ``TrainingInterrupted`` warning; the command
    then raises KeyboardInterrupt. (SIGINT itself is left as the process has it: a run
    started in the background, with SIGINT ignored, is not stopped by it.)"""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.simplefilter("always", TrainingInterrupted)
        try:
            est.fit(X, y)
        except DivergenceError as err:
            text = str(err)  # (the loop's own message already says so)
            text = text.replace(
                ", or scale the inputs (for instance with sklearn.preprocessing.StandardScaler)",
                "" if scaled else ", or set data.standardize = true",
            ).replace(  # (a large target: the command's own setting scales it)
                HOW_TO_SCALE_THE_TARGET, ": set data.standardize_target = true"
            )
            prefix = "" if text.startswith("training diverged") else "training diverged: "
            raise CLIError(f"{prefix}{text}") from None
        except (ValueError, TypeError) as err:
            notes = "".join(f" {note}" for note in getattr(err, "__notes__", ()))
            name = type(est.steps[-1][1] if hasattr(est, "steps") else est).__name__
            raise CLIError(f"cannot train {name}: {err}{notes}") from None
    if any(issubclass(w.category, TrainingInterrupted) for w in caught):
        raise KeyboardInterrupt  # the command's handler: "interrupted", exit 130
    for warning in caught:
        if not issubclass(warning.category, ConvergenceWarning):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return not any(issubclass(w.category, ConvergenceWarning) for w in caught)


def _metrics(
    model: Any,
    est: Any,
    exp: Any,
    data_path: Path,
    train: tuple[Any, Any],
    test: tuple[Any, Any],
) -> dict[str, Any]:
    """The run's record: the scores of ``model`` (the network estimator ``est``, or the
    Pipeline encoding categories before it), and the network's training history."""
    metrics: dict[str, Any] = {
        "task": exp.task,
        "estimator": type(est).__name__,
        "data": str(data_path),
        "target": exp.data.target,
        "target_standardized": _scales_target(exp, est),
        "n_train": len(train[1]),
        "n_test": len(test[1]),
        "train": scores(model, *train),
        "test": scores(model, *test) if len(test[1]) else None,
        "n_iter": int(est.n_iter_),
        "loss_curve": [float(v) for v in est.loss_curve_],
        "validation_scores": None
        if est.validation_scores_ is None
        else [float(v) for v in est.validation_scores_],
        **_early_stopping_record(est),
    }
    if exp.task == "classification":
        metrics["classes"] = [c.item() if hasattr(c, "item") else c for c in est.classes_]
    return metrics


def _early_stopping_record(est: Any) -> dict[str, Any]:
    """With early stopping: what the scores are by, the best, the epoch whose weights
    were kept and the validation losses."""
    scores = est.validation_scores_
    if scores is None:
        return {}
    losses = est.__dict__.get("validation_loss_curve_")
    return {
        "validation_scoring": est.__dict__.get("_validation_scoring"),
        "best_validation_score": float(est.best_validation_score_),
        "kept_epoch": est.best_epoch_,
        "validation_loss_curve": None if losses is None else [float(v) for v in losses],
    }


def _summary(metrics: dict[str, Any], say: Any) -> None:
    status = "" if metrics["converged"] else " (stopped at max_iter before converging)"
    say(f"trained {metrics['n_iter']} epochs in {metrics['fit_seconds']:.1f} s{status}")
    if metrics.get("kept_epoch") is not None:
        by = metrics["validation_scoring"] or "the estimator's score"
        say(
            f"early stopping kept epoch {metrics['kept_epoch']}: best validation score "
            f"{metrics['best_validation_score']:.4f} ({by})"
        )
    curve = metrics["loss_curve"]
    if len(curve) > 1 and curve[-1] > curve[0]:
        print(  # (a warning: on stderr, and kept by --quiet)
            f"layerkit train: warning: the training loss rose from {curve[0]:.4g} to "
            f"{curve[-1]:.4g}: the learning rate is probably too high",
            file=sys.stderr,
        )
    for part in ("train", "test"):
        if metrics[part]:
            values = ", ".join(f"{k} {v:.4f}" for k, v in metrics[part].items() if v is not None)
            say(f"{part}: {values}")
    for kind, where in metrics["files"].items():
        if where:
            say(f"wrote {kind}: {where}")
