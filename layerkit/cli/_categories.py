"""What ``layerkit predict`` gives a model whose first step reads categories (a
ColumnTransformer, an encoder, an imputer fitted on text): the columns such a step
reads as text, as written, a missing cell as that step's missing value; the other
columns as numbers. The steps check the columns themselves."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from ._tables import Table, as_categories


def _first_step(model: Any) -> Any:
    from ._predict import steps_before

    steps = steps_before(model)
    return steps[0] if steps else None


def takes_categories(model: Any) -> bool:
    """Whether the model's first step reads categories: a ColumnTransformer, an
    encoder, or an imputer fitted on objects."""
    first = _first_step(model)
    kind = type(first).__name__
    if kind in ("ColumnTransformer", "OneHotEncoder", "OrdinalEncoder"):
        return True
    return kind == "SimpleImputer" and first._fit_dtype.kind == "O"


def _missing_value(step: Any) -> Any:
    """What a step takes for a missing cell of text categories: None where it was
    fitted on None (a NumPy array of objects), else NaN (as pandas reads a file)."""
    kind = type(step).__name__
    if kind == "Pipeline":
        inner = [s for _, s in step.steps if s not in (None, "passthrough")]
        return _missing_value(inner[0]) if inner else math.nan
    if kind == "SimpleImputer":
        return None if step.missing_values is None else math.nan
    if kind in ("OneHotEncoder", "OrdinalEncoder") and any(
        v is None for cats in step.categories_ for v in cats.tolist()
    ):
        return None
    return math.nan


def categorical_inputs(model: Any) -> dict[int, Any]:
    """The model's input columns, by position, that its first step reads as text
    categories (its categories there are strings), each with the value that step
    takes for a missing cell. Columns of numeric categories are read as numbers."""
    if not takes_categories(model):
        return {}
    from ..io._columns import column_list, examples, positions

    first = _first_step(model)
    markers = dict.fromkeys(range(int(first.n_features_in_)), _missing_value(first))
    if type(first).__name__ == "ColumnTransformer":
        for _, step, columns in first.transformers_:
            if not isinstance(step, str):
                for i in positions(first, column_list(columns)):
                    markers[i] = _missing_value(step)
    return {i: markers[i] for i, value in enumerate(examples(first)) if isinstance(value, str)}


def categorical_input(
    model: Any, table: Table, names: list[str], as_written: dict[str, np.ndarray]
) -> Any:
    """The columns as the model's steps take them: a text category column's cells as
    pandas reads them (as written; Parquet's as stored), a missing one as its step's
    missing value; the others as read (numbers, NaN where missing). A table with the column names
    when the model has them, else an array."""
    text = categorical_inputs(model)
    columns = {}
    for i, name in enumerate(names):
        values = table[name]
        if i in text:
            csv = table.lines is not None  # (a Parquet file's values: as stored)
            values = as_categories(as_written.get(name, values), text[i], csv=csv)
        elif values.dtype == object:  # (text where the model's step takes numbers: its error)
            values = as_categories(values, math.nan)
        columns[name] = values
    from ._predict import regressor_of

    if getattr(regressor_of(model), "feature_names_in_", None) is None:
        if any(v.dtype == object for v in columns.values()):
            return np.column_stack([v.astype(object) for v in columns.values()])
        return np.column_stack(list(columns.values()))
    import pandas as pd

    return pd.DataFrame(columns)


def explain_refusal(model: Any, X: Any, err: Exception) -> str:
    """scikit-learn's message of a step refusing the data, on one line, with the
    ColumnTransformer's step that refused it and the file's column its message counts
    within that step ("column 3" of the step's own columns)."""
    text = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    first = _first_step(model)
    if type(first).__name__ != "ColumnTransformer":
        return text
    import warnings

    from ..io._columns import column_list, positions

    given = getattr(first, "feature_names_in_", None)
    for name, step, columns in first.transformers_:
        if isinstance(step, str):
            continue
        at = positions(first, column_list(columns))
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
            return f"{where}: {text}"
    return text
