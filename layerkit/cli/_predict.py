"""``layerkit predict MODEL DATA -o OUT``: predictions of a saved model for a table."""

from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import is_classifier

from ..network import Sequential
from ._categories import (
    categorical_input,
    explain_refusal,
    takes_categories,
    unseen_categories,
    unused_inputs,
)
from ._errors import CLIError
from ._examples import feature_problems, near_name, refuse
from ._loading import load_model
from ._tables import (
    Table,
    check_not_an_input,
    check_output,
    index_column,
    read_table_and_text,
    typed_text,
    write_csv,
    write_table,
)

_FORMATS = (".csv", ".txt", ".parquet", ".pq")
_PARQUET = (".parquet", ".pq")


def predict(
    model_path: Path,
    data_path: Path,
    out_path: Path | str,
    *,
    proba: bool = False,
    keep: list[str] | None = None,
    plugins: list[str] | None = None,
) -> int:
    """Write the predictions for every row of ``data_path`` to ``out_path`` (``-``:
    stdout, as CSV); return the count."""
    keep = keep or []
    to_stdout = out_path == "-"  # (as given: ./- is a file named -)
    if to_stdout and sys.stdout is None:
        raise CLIError("-o -: stdout is closed; give a file name")
    out_path = Path(out_path)
    if not to_stdout:
        _check_destination(out_path, data_path, model_path)
    model = load_model(model_path, plugins or [])
    if proba and not is_classifier(model):
        raise CLIError(
            f"--proba needs a classifier; {model_path} holds {_article(type(model).__name__)}"
        )
    table, as_written = _read(model, data_path, keep)
    X = _features(model, table, data_path, as_written)
    missing = [name for name in keep if name not in table]
    if missing:
        raise CLIError(
            f"{data_path}: no column(s) {missing} to keep; the columns are {_names(table)}"
        )
    out = {name: as_written[name] for name in keep}  # copied exactly as written
    if out_path.suffix.lower() in _PARQUET and data_path.suffix.lower() not in _PARQUET:
        # a typed output: a CSV column of numbers as numbers, when that loses nothing
        # of what was written (007 stays text); an empty cell is a null, as pandas
        # reads it, in a text column too
        out = {name: _empty_as_null(typed_text(values)) for name, values in out.items()}
    with warnings.catch_warnings():
        # the columns were picked by name above; the array just carries no names
        warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)
        try:
            predictions = _outputs(model, X, proba)
        except (ValueError, TypeError) as err:  # (a Pipeline's step refusing the data)
            raise CLIError(
                f"{data_path}: the model cannot predict from this data: "
                f"{explain_refusal(model, X, err, table.lines)}"
            ) from None
        try:  # (a check for a warning: it never stops the predictions)
            unseen = unseen_categories(model, X) if takes_categories(model) else []
        except Exception:
            unseen = []
    if unseen:
        print(
            "layerkit predict: warning: categories the model did not see in training, "
            f"each encoded as all 0s, in column(s) {'; '.join(unseen)}",
            file=sys.stderr,
        )
    clash = sorted(set(out) & set(predictions))
    if clash:
        raise CLIError(f"--keep {clash}: the output has prediction column(s) of that name")
    out.update(predictions)
    if getattr(regressor_of(model), "feature_names_in_", None) is None:  # (order unchecked)
        print(
            f"layerkit predict: note: the model was trained without column names, so "
            f"{data_path.name}'s columns were its inputs in file order: {_names(table)}",
            file=sys.stderr,
        )
    if to_stdout:
        _write_stdout(out)
    else:
        write_table(out_path, out, table.arrow_types)  # (kept Parquet columns keep their types)
    return len(X)


def _write_stdout(columns: dict[str, np.ndarray]) -> None:
    """The CSV to stdout in UTF-8, as files are written, whatever the terminal's
    encoding; lines end in \\n, as other tools in a pipe (cut, awk) expect."""
    text = io.StringIO()
    write_csv(text, columns, line_end="\n")
    buffer = getattr(sys.stdout, "buffer", None)
    sys.stdout.flush()
    if buffer is None:  # (a text-only stream put in its place)
        sys.stdout.write(text.getvalue())
    else:
        data = memoryview(text.getvalue().encode("utf-8"))
        while data:  # (unbuffered, PYTHONUNBUFFERED=1, a write may take part of it)
            written = buffer.write(data)
            if written is None:  # (a non-blocking stdout that is full)
                raise BlockingIOError(11, "stdout would block")
            data = data[written:]
    (buffer or sys.stdout).flush()  # (a reader gone away shows here, not at exit)


def _empty_as_null(values: np.ndarray) -> np.ndarray:
    if values.dtype != object:
        return values
    return np.array([None if v == "" else v for v in values], dtype=object)


def _check_destination(out_path: Path, data_path: Path, model_path: Path) -> None:
    check_output(out_path, "-o")
    if out_path.suffix.lower() not in _FORMATS:
        raise CLIError(
            f"-o {out_path}: the output must be a .csv or .parquet file, got "
            f"{out_path.suffix or 'no suffix'!r}"
        )
    check_not_an_input(out_path, "-o", {"DATA": data_path, "MODEL": model_path})


def _read(model: Any, path: Path, keep: list[str]) -> tuple[Table, dict[str, np.ndarray]]:
    """The table, and as written: the columns to keep, and for a model whose first step
    reads categories, its input columns (a model without column names: every column,
    so the file is read again for them)."""
    if not takes_categories(model):
        return read_table_and_text(path, keep)
    names = getattr(regressor_of(model), "feature_names_in_", None)
    wanted = [str(n) for n in names] if names is not None else []
    table, as_written = read_table_and_text(path, [*keep, *wanted])
    if names is None and not set(table) <= set(as_written):  # (every column, in order)
        table, as_written = read_table_and_text(path, [*keep, *table])
    return table, as_written


def _features(model: Any, table: Table, path: Path, as_written: dict[str, np.ndarray]) -> Any:
    """The model's input from ``table``: its columns by name (else all, in file order);
    ``as_written``: the columns as written, for those a step reads as categories."""
    names = getattr(regressor_of(model), "feature_names_in_", None)
    if names is not None:
        names = [str(n) for n in names]
        missing = [n for n in names if n not in table]
        if missing and takes_categories(model):  # (Python's table may lack these)
            unused = unused_inputs(model)
            missing = [n for n in missing if n not in unused]
        if missing:
            guesses = [(n, near_name(n, list(table))) for n in missing]
            hints = "".join(f"; did you mean {g!r} for {n!r}?" for n, g in guesses if g)
            raise CLIError(
                f"{path}: the model needs column(s) {_names(missing)}, which the data lacks"
                f"{hints}; the columns are {_names(table)}"
            )
    else:
        names = list(table)
        expected = model.n_in_ if isinstance(model, Sequential) else input_width(model)
        index = index_column(table)
        if index:
            raise CLIError(
                f"{path}: {index}: the model has no column names, so it would take it as "
                "an input, its row labels as data; drop it from the file (pandas: "
                "index=False)"
            )
        if len(names) != expected:
            if len(names) > expected:
                hint = (
                    f"; drop the {len(names) - expected} column(s) that are not inputs (the "
                    "target, an ID) from the file: a model without column names takes every "
                    "column as an input, in file order, and --keep copies a column to the "
                    "output without taking it out of the inputs (a model trained by "
                    "`layerkit train`, or on a pandas DataFrame, picks its columns by name)"
                )
            else:
                hint = "; the model's inputs are its training data's columns, in that order"
            raise CLIError(
                f"{path}: the model takes {expected} feature columns (it has no column names "
                f"to pick them by), the data has {len(names)} columns{hint}"
            )
    if takes_categories(model):  # (its steps check the columns, and name what they refuse)
        return categorical_input(model, table, names, as_written)
    refuse(feature_problems(table, names, imputed=_imputes(model)), path)
    return np.column_stack([table[name] for name in names])


def regressor_of(model: Any) -> Any:
    """What a TransformedTargetRegressor wraps (its fitted regressor_, else its
    regressor: a network estimator or a Pipeline); any other model itself."""
    from ..io._target import is_target_regressor

    if is_target_regressor(model):
        return model.__dict__.get("regressor_", model.regressor)
    return model


def steps_before(model: Any) -> list[Any]:
    """A Pipeline's steps before the network, passthroughs left out ([] for an
    estimator); in a TransformedTargetRegressor, its regressor's."""
    steps = getattr(regressor_of(model), "steps", [])[:-1]
    return [s for _, s in steps if s not in (None, "passthrough")]


def _imputes(model: Any) -> bool:
    """A Pipeline whose first step is a SimpleImputer of NaN: missing values are its
    input too (a step before it could refuse them)."""
    steps = steps_before(model)
    first = steps[0] if steps else None
    return (
        first is not None
        and type(first).__name__ == "SimpleImputer"
        and first.missing_values != first.missing_values  # (NaN)
    )


def input_width(model: Any) -> int:
    """How many features the model takes: a Pipeline's first step's (not a
    passthrough's, which has no width), else the estimator's."""
    for step in steps_before(model):
        width = getattr(step, "n_features_in_", None)
        if width is not None:
            return int(width)
    model = regressor_of(model)
    return int(model[-1].n_features_in_ if hasattr(model, "steps") else model.n_features_in_)


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
        probabilities = model.predict_proba(X)
        for j, label in enumerate(model.classes_):
            columns[f"proba_{label}"] = probabilities[:, j]
    return columns


def _names(names: Any, shown: int = 20) -> str:
    """Column names for a message: all of them, or the first ``shown`` and how many more."""
    names = list(names)
    if len(names) <= shown:
        return repr(names)
    return f"{names[:shown]!r} and {len(names) - shown:,} more"


def _article(name: str) -> str:
    """``name`` after "a" or "an" as it is read aloud: an MLPRegressor, a Sequential."""
    return f"{'an' if name.startswith(('MLP', 'A', 'E', 'I', 'O', 'U')) else 'a'} {name}"
