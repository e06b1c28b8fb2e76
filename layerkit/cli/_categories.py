"""What ``layerkit predict`` gives a model whose first step reads categories (a
ColumnTransformer, an encoder, an imputer fitted on text, or a Pipeline starting with
one): the table as pandas reads the file, column by column, but a column whose
categories are text in the model as written. The steps check the columns themselves."""

from __future__ import annotations

import math
import re
import warnings
from typing import Any

import numpy as np

from ._tables import PANDAS_MISSING, Table, as_categories, object_array


def _first_step(model: Any) -> Any:
    """The model's first step before the network (a Pipeline, as it is)."""
    from ._predict import steps_before

    steps = steps_before(model)
    return steps[0] if steps else None


def _innermost(step: Any) -> Any:
    """A Pipeline's first step, through Pipelines inside Pipelines."""
    while type(step).__name__ == "Pipeline":
        step = next((s for _, s in step.steps if s not in (None, "passthrough")), None)
    return step


def takes_categories(model: Any) -> bool:
    """Whether the model's first step reads categories: a ColumnTransformer, an
    encoder, or an imputer fitted on objects (inside a Pipeline too)."""
    first = _innermost(_first_step(model))
    kind = type(first).__name__
    if kind in ("ColumnTransformer", "OneHotEncoder", "OrdinalEncoder"):
        return True
    return kind == "SimpleImputer" and first._fit_dtype.kind == "O"


def categorical_inputs(model: Any) -> set[int]:
    """The model's input columns, by position, whose categories are text in the step
    reading them: given as written, not typed as numbers."""
    if not takes_categories(model):
        return set()
    from ..io._columns import examples

    return {i for i, value in enumerate(examples(_first_step(model))) if isinstance(value, str)}


def _parquet_null() -> Any:
    """What pandas reads a Parquet file's null text as: None before pandas 3 (objects),
    NaN from pandas 3 (its own text dtype)."""
    try:
        import pandas as pd
    except ImportError:
        return math.nan
    return None if int(pd.__version__.split(".")[0]) < 3 else math.nan


# (ASCII only: Python's int() takes other digits and spaces, pandas does not)
_INTEGER = re.compile(r"\s*[+-]?\d+\s*", re.ASCII)
_NUMBER = re.compile(
    r"\s*[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|(?i:inf|infinity))\s*", re.ASCII
)
_BOOLEANS = {"true": True, "false": False}  # (pandas' spellings, in any letter case)


def _as_pandas_reads(cells: np.ndarray, numbers: np.ndarray, csv: bool) -> np.ndarray:
    """A column the model's steps read as numbers, typed as pandas types it: integers
    (exact, beyond 2**53 too) when every cell is one, booleans when every cell is one
    (objects, NaN where missing), numbers (NaN where missing) when every cell is a
    number or missing, else text (a cell such as "NONE" makes the column text for
    pandas, as it does here). A Parquet file's values: as stored."""
    values = cells.tolist()
    if not csv:
        return _as_stored(values, numbers)
    present = [v for v in values if v not in PANDAS_MISSING]
    if present and len(present) == len(values) and all(_INTEGER.fullmatch(v) for v in values):
        return _integers([int(v) for v in values], numbers)
    if present and all(v.strip().lower() in _BOOLEANS for v in present):
        flags = [_BOOLEANS[v.strip().lower()] if v not in PANDAS_MISSING else None for v in values]
        if len(present) == len(values):
            return np.array(flags)
        return object_array([math.nan if f is None else f for f in flags])
    if all(_NUMBER.fullmatch(v) for v in present):
        return numbers
    return as_categories(cells, math.nan, csv=True)


def _as_stored(values: list[Any], numbers: np.ndarray) -> np.ndarray:
    """A Parquet column as pandas reads it: integers exactly, text as text (a text
    column of "1", "2" stays text), booleans as booleans; else the numbers read."""
    present = [v for v in values if v is not None]
    if not present:
        return numbers
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return _integers(values, numbers)
    if all(isinstance(v, str) for v in present):
        return as_categories(object_array(values), _parquet_null(), csv=False)
    if all(isinstance(v, bool) for v in values):
        return np.array(values)
    return numbers


def _integers(values: list[int], numbers: np.ndarray) -> np.ndarray:
    for dtype in (np.int64, np.uint64):
        try:
            return np.array(values, dtype=dtype)
        except OverflowError:
            continue
    return numbers  # (beyond 64 bits: pandas reads them as objects, or floats)


def pandas_column(
    values: np.ndarray, cells: np.ndarray | None, *, text: bool, csv: bool
) -> np.ndarray:
    """One column as pandas reads it, from the table reader's ``values`` and the
    ``cells`` as written (None: not read as written): categories as written when
    ``text`` or when the column holds text, else typed as pandas types it (integers,
    booleans, numbers)."""
    if text or values.dtype == object:
        null = math.nan if csv else _parquet_null()
        return as_categories(values if cells is None else cells, null, csv=csv)
    return values if cells is None else _as_pandas_reads(cells, values, csv)


def categorical_input(
    model: Any, table: Table, names: list[str], as_written: dict[str, np.ndarray]
) -> Any:
    """The columns as pandas reads the file (pd.read_csv, pd.read_parquet), so the
    model predicts what it would in Python on that table; but a column whose
    categories are text in the model is given as written ("007" stays "007", where
    pandas would read 7). A table with the column names when the model has them,
    else an array. A column the model drops (``unused_inputs``) that the file lacks is
    given as missing values, where Python's table would go without it."""
    text = categorical_inputs(model)
    csv = table.lines is not None
    rows = len(next(iter(table.values())))
    columns = {
        name: pandas_column(table[name], as_written.get(name), text=i in text, csv=csv)
        if name in table
        else object_array([math.nan] * rows)
        for i, name in enumerate(names)
    }
    from ._predict import regressor_of

    if getattr(regressor_of(model), "feature_names_in_", None) is not None:
        try:
            import pandas as pd
        except ImportError:  # (steps picking columns by position take the array)
            pass
        else:
            return pd.DataFrame(columns)
    if any(v.dtype == object for v in columns.values()):
        return np.column_stack([v.astype(object) for v in columns.values()])
    return np.column_stack(list(columns.values()))


def _column_steps(model: Any) -> list[tuple[str, Any, list[int]]]:
    """The steps of the model's first step, when it is a ColumnTransformer (else []):
    each fitted step's name, the step, and the input positions it reads."""
    first = _first_step(model)
    if type(first).__name__ != "ColumnTransformer":
        return []
    from ..io._columns import column_list, positions

    return [
        (name, step, positions(first, column_list(columns)))
        for name, step, columns in first.transformers_
    ]


def _input_names(model: Any) -> Any:
    """The model's first step's column names (None: it has none)."""
    return getattr(_first_step(model), "feature_names_in_", None)


def unused_inputs(model: Any) -> set[str]:
    """The named input columns the model's first step, a ColumnTransformer, drops (a
    "drop" step's, or the remainder's when it is "drop"): Python's table may lack them."""
    steps, names = _column_steps(model), _input_names(model)
    if not steps or names is None:
        return set()
    used = {
        j for _, step, at in steps if not (isinstance(step, str) and step == "drop") for j in at
    }
    return {str(name) for j, name in enumerate(names) if j not in used}


def explain_refusal(model: Any, X: Any, err: Exception, lines: Any = None) -> str:
    """scikit-learn's message of a step refusing the data, on one line, with the
    ColumnTransformer's step that refused it and the file's column its message counts
    within that step ("column 3" of the step's own columns)."""
    text = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    if "contains NaN" in text:  # (a step let them through; the network refused them)
        gaps = _missing_numbers(model, X, lines)
        if gaps:
            return f"{'; '.join(gaps)}, which the model's steps do not fill: fill or drop them"
    given = _input_names(model)
    for name, step, at in _column_steps(model):
        if isinstance(step, str):
            continue
        part = X.iloc[:, at] if hasattr(X, "iloc") else X[:, at]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                step.transform(part)
        except Exception as inner:
            shown = [str(given[i]) if given is not None else f"#{i + 1}" for i in at]
            where = f"its step {name!r} (columns {', '.join(shown)})"
            found = re.search(r"in column (\d+)", str(inner))
            if found and int(found.group(1)) < len(shown):
                where += f", in column {shown[int(found.group(1))]}"
            where += _cell_of(str(inner), part, shown, lines)
            return f"{where}: {text}"
    return text


def _cell_of(message: str, part: Any, shown: list[str], lines: Any) -> str:
    """Where the text a step could not read as a number (scikit-learn's "could not
    convert string to float: '?'") first is: ", in column Age, row 5 (line 6)"."""
    found = re.search(r"could not convert string to float: (['\"])(.*)\1", message)
    if not found:
        return ""
    from ._examples import _row

    cells = np.asarray(part.to_numpy() if hasattr(part, "to_numpy") else part, dtype=object)
    rows, cols = np.nonzero(cells == found.group(2))
    if not rows.size:
        return ""
    return f", in column {shown[cols[0]]}, {_row(int(rows[0]), lines)}"


def _encoded_inputs(model: Any) -> set[int]:
    """The input positions the model's first step, a ColumnTransformer, sends to an
    encoder (alone, or ending a Pipeline): a gap there is a category, not a number."""
    found = set()
    for _, step, at in _column_steps(model):
        last = step.steps[-1][1] if type(step).__name__ == "Pipeline" else step
        if type(last).__name__ in ("OneHotEncoder", "OrdinalEncoder"):
            found.update(at)
    return found


def _missing_numbers(model: Any, X: Any, lines: Any = None) -> list[str]:
    """For each numeric input column holding missing values (not one an encoder
    reads): its name (or position), how many, and the first row (1 = the first data
    row; and its line in a CSV file)."""
    from ._examples import _row

    names = _input_names(model)
    encoded = _encoded_inputs(model)
    found = []
    for j in range(X.shape[1]):
        if j in encoded:
            continue
        column = np.asarray(X.iloc[:, j] if hasattr(X, "iloc") else X[:, j])
        try:
            gaps = np.flatnonzero(np.isnan(column.astype(np.float64)))
        except (TypeError, ValueError):  # (text: a category's gap is the encoder's)
            continue
        if gaps.size:
            name = repr(str(names[j])) if names is not None else f"#{j + 1}"
            found.append(
                f"feature column {name} has {gaps.size} missing value(s) (first in "
                f"{_row(int(gaps[0]), lines, within=True)})"
            )
    return found


def unseen_categories(model: Any, X: Any) -> list[str]:
    """For each one-hot encoder (of categories unknown to it: all 0s) in the model's
    first ColumnTransformer, directly or at the end of a Pipeline there: the input
    columns holding categories it did not see in training, how many rows, and the
    first such value."""
    given = _input_names(model)
    found = []
    for _, step, at in _column_steps(model):
        steps = step.steps if type(step).__name__ == "Pipeline" else [(None, step)]
        encoder = steps[-1][1]
        if type(encoder).__name__ != "OneHotEncoder" or encoder.drop is not None:
            continue
        part = X.iloc[:, at] if hasattr(X, "iloc") else X[:, at]
        raw = part
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _, before in steps[:-1]:
                if before is not None and not isinstance(before, str):  # (passthrough)
                    part = before.transform(part)
            if np.shape(part)[1] != len(at):  # (a step before it dropped a column)
                continue
            encoded = encoder.transform(part)
        encoded = encoded.toarray() if hasattr(encoded, "toarray") else np.asarray(encoded)
        widths = np.array([len(c) for c in encoder.categories_])
        ends = np.cumsum(widths)
        for k, (start, end) in enumerate(zip(ends - widths, ends, strict=True)):
            unseen = np.flatnonzero(encoded[:, start:end].sum(axis=1) == 0)
            if unseen.size:
                name = str(given[at[k]]) if given is not None else f"#{at[k] + 1}"
                column = raw.iloc[:, k] if hasattr(raw, "iloc") else raw[:, k]
                value = np.asarray(column, dtype=object)[unseen[0]]
                gap = value is None or (isinstance(value, float) and math.isnan(value))
                shown = "a missing value" if gap else repr(value)
                found.append(f"{name!r}: {unseen.size} row(s), such as {shown}")
    return found
