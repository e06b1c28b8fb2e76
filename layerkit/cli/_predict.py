"""``layerkit predict MODEL DATA -o OUT``: predictions of a saved model for a table."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import is_classifier

from ..network import Sequential
from ._errors import CLIError
from ._loading import load_model
from ._tables import read_table, write_table


def predict(
    model_path: Path,
    data_path: Path,
    out_path: Path,
    *,
    proba: bool = False,
    keep: list[str] | None = None,
    plugins: list[str] | None = None,
) -> int:
    """Write the predictions for every row of ``data_path`` to ``out_path``; return the count."""
    model = load_model(model_path, plugins or [])
    table = read_table(data_path)
    X = _features(model, table, data_path)
    missing = [name for name in keep or [] if name not in table]
    if missing:
        raise CLIError(
            f"{data_path}: no column(s) {missing} to keep; the columns are {list(table)}"
        )
    out = {name: table[name] for name in keep or []}
    with warnings.catch_warnings():
        # the columns were picked by name above; the array just carries no names
        warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)
        try:
            out.update(_outputs(model, X, proba))
        except ValueError as err:
            raise CLIError(f"{data_path}: {err}") from None
    write_table(out_path, out)
    return len(X)


def _features(model: Any, table: dict[str, np.ndarray], path: Path) -> np.ndarray:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        missing = [str(n) for n in names if n not in table]
        if missing:
            raise CLIError(
                f"{path}: the model needs column(s) {missing}, which the data lacks; "
                f"the columns are {list(table)}"
            )
        columns = [table[str(n)] for n in names]
    else:
        columns = list(table.values())
        expected = model.n_in_ if isinstance(model, Sequential) else model.n_features_in_
        if len(columns) != expected:
            raise CLIError(
                f"{path}: the model takes {expected} feature columns, the data has "
                f"{len(columns)} columns"
            )
    for name, column in zip(names if names is not None else table, columns, strict=True):
        if column.dtype == object:
            raise CLIError(f"{path}: feature column {str(name)!r} must hold numbers")
    return np.column_stack(columns)


def _outputs(model: Any, X: np.ndarray, proba: bool) -> dict[str, np.ndarray]:
    if isinstance(model, Sequential):
        out = model.predict(X)
        return {f"output_{j}": out[:, j] for j in range(out.shape[1])}
    predicted = model.predict(X)
    if predicted.ndim == 2:
        columns = {f"prediction_{j}": predicted[:, j] for j in range(predicted.shape[1])}
    else:
        columns = {"prediction": predicted}
    if proba:
        if not is_classifier(model):
            raise ValueError("--proba needs a classifier; this model is a regressor")
        probabilities = model.predict_proba(X)
        for j, label in enumerate(model.classes_):
            columns[f"proba_{label}"] = probabilities[:, j]
    return columns
