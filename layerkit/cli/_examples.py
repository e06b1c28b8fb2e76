"""From a table to checked arrays: the features, the target, the train/test split."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from ._categories import pandas_column
from ._errors import CLIError
from ._tables import PANDAS_MISSING, Table, as_categories, index_column


def examples(
    table: Table, data: Any, task: str, path: Path, as_written: dict[str, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str], dict[str, np.dtype]]:
    """X, y, the feature names and the categorical features' dtypes by name, every
    value checked. X is float64; with categorical features (``data.categorical``), an
    object array whose categorical columns are as pandas reads them (from
    ``as_written``, which holds them: see ``read_as_written``; the dtype each had
    before it went into X), the others numbers. A
    classification's labels are booleans where ``as_written`` (the target column as the
    file has it) holds booleans (read as 1 and 0 by the number reading), as pandas reads
    them."""
    as_written = as_written or {}
    columns = list(table)
    if data.target not in table:
        raise CLIError(f"{path}: no target column {data.target!r}{_near(data.target, columns)}")
    if data.features is None:
        unknown = [name for name in data.exclude if name not in table]
        if unknown:
            raise CLIError(
                f"{path}: data.exclude names no column(s) {unknown}{_near(unknown[0], columns)}"
            )
        features = feature_names(table, data)
        index = index_column(table, skip={data.target, *data.exclude})
        if index:
            unnamed = "has no name" in index  # (a column with data may have lost its name)
            raise CLIError(
                f"{path}: {index}: it would be a feature, its row labels trained on as "
                "data; drop it from the file (pandas: index=False)"
                + (", name it" if unnamed else "")
                + ", list it under data.exclude, or list the features (data.features)"
            )
    else:
        features = feature_names(table, data)
    missing = [name for name in features if name not in table]
    if missing:
        raise CLIError(f"{path}: no feature column(s) {missing}{_near(missing[0], columns)}")
    twice = sorted({name for name in features if features.count(name) > 1})
    if twice:
        raise CLIError(f"data.features lists {twice} more than once")
    if data.target in features:
        raise CLIError(f"{path}: the target {data.target!r} cannot also be a feature")
    if not features:
        raise CLIError(f"{path}: no feature columns besides the target {data.target!r}")
    from ._categorical_columns import LISTING, choose

    categorical, problems = choose(table, data.categorical, data.target, features, path)
    listing = (
        f"; or, {LISTING}, or leave it out (data.exclude)" if data.categorical != "auto" else ""
    )
    numbers = [name for name in features if name not in categorical]
    if data.categorical == "auto":  # (a text column not taken has its problem named)
        numbers = [name for name in numbers if table[name].dtype != object]
    imputed = data.impute is not None
    # a Pipeline reads the numbers as pandas does: what it would read as text first
    texts = _read_as_text(table, numbers, as_written) if categorical or imputed else {}
    for name in numbers:
        if name in texts:
            problems.append(texts[name])
        elif table[name].dtype != object and np.isnan(table[name]).all():
            problems.append(
                f"feature column {name!r} has no value in any row; leave it out (data.exclude)"
            )
        else:
            problems += feature_problems(table, [name], imputed=imputed, hint=listing, fill=_FILL)
    problems += _stored_as_bytes(categorical, as_written)
    target = table[data.target]
    csv = table.lines is not None
    if task == "classification" and data.target in as_written:
        # labels as pandas reads them: text (a cell such as "none" among numbers makes
        # the column text) not stripped, missing as pandas spells it
        written = as_written[data.target]
        if pandas_column(target, written, text=False, csv=csv).dtype == object and any(
            isinstance(v, str) and v not in PANDAS_MISSING for v in written.tolist()
        ):
            target = as_categories(written, None, csv=csv)
    try:
        y = _target(target, task, f"target column {data.target!r}", table.lines)
        if task == "classification" and as_written and data.target in as_written:
            y = _labels_as_written(y, as_written[data.target])
    except CLIError as err:
        problems.append(str(err))
    refuse(problems, path)
    if not categorical:
        return np.column_stack([table[name] for name in features]), y, features, {}
    X = np.empty((len(y), len(features)), dtype=object)
    dtypes = {}
    for j, name in enumerate(features):
        values = table[name]
        if name in categorical:
            text = values.dtype == object
            values = pandas_column(values, as_written[name], text=text, csv=csv)
            dtypes[name] = values.dtype
        X[:, j] = values
    return X, y, features, dtypes


#: a column name that says "identifier": id, customer_id, order-id, customerID, userId
_ID_NAME = re.compile(r"(?:^|.*[_\s.-])[iI][dD]$|.*[a-z](?:ID|Id)$")


def feature_names(table: Table, data: Any) -> list[str]:
    """The feature columns an experiment names: ``data.features``, else every column of
    the table but the target and ``data.exclude``'s."""
    if data.features is not None:
        return list(data.features)
    return [name for name in table if name != data.target and name not in data.exclude]


def identifier_features(table: Table, features: list[str]) -> list[str]:
    """The features named like an identifier that hold a distinct whole number in every
    row: row labels, which a model would be trained on as data."""
    found = []
    for name in features:
        column = table[name]
        if not _ID_NAME.match(name) or column.dtype == object or len(column) < 2:
            continue
        whole = np.all(np.isfinite(column)) and np.all(column == np.round(column))
        if whole and len(np.unique(column)) == len(column):
            found.append(name)
    return found


def near_name(name: str, columns: list[str]) -> str | None:
    """The column ``name`` may have meant: the same name in other letter case, or a
    close one (None: no such column)."""
    same = [c for c in columns if c.lower() == name.lower()]
    close = same or difflib.get_close_matches(name, columns, n=1)
    return close[0] if close else None


def _near(name: str, columns: list[str]) -> str:
    """A hint for a column name that is not there: the same name in other letter case,
    or a close one, and the columns (the first 20 of a wide table)."""
    close = near_name(name, columns)
    hint = f"; did you mean {close!r}?" if close else ""
    shown = columns if len(columns) <= 20 else [*columns[:20], f"... ({len(columns)} in all)"]
    return f"{hint} The columns are {shown}" if hint else f"; the columns are {shown}"


def _stored_as_bytes(names: list[str], as_written: dict[str, np.ndarray]) -> list[str]:
    """The categorical columns a Parquet file stores as bytes, not text: a model file
    holds text categories."""
    problems = []
    for name in names:
        found = next((v for v in as_written[name].tolist() if isinstance(v, bytes)), None)
        if found is not None:
            problems.append(
                f"feature column {name!r} is stored as bytes in the Parquet file ({found!r}): "
                "store it as text"
            )
    return problems


def _read_as_text(
    table: Table, names: list[str], as_written: dict[str, np.ndarray]
) -> dict[str, str]:
    """The numeric columns a Pipeline model could not read from pandas' table of the
    file, by name, with why: a cell the table reader takes for a number or a gap but
    pandas for text (``none``, `` NA``), digits a Parquet file stores as text."""
    problems = {}
    csv = table.lines is not None
    for name in names:
        cells = as_written.get(name)
        if cells is None or table[name].dtype == object:  # (text: named as such)
            continue
        typed = pandas_column(table[name], cells, text=False, csv=csv)
        texts = [(i, v) for i, v in enumerate(typed.tolist()) if isinstance(v, str)]
        if not texts:
            continue
        if not csv:
            problems[name] = (
                f"feature column {name!r} is stored as text in the Parquet file "
                f"({texts[0][1]!r} in {_row(texts[0][0], None)}), which pandas reads as "
                "text: store it as numbers"
            )
            continue
        odd = [(i, v) for i, v in texts if v not in PANDAS_MISSING and not _is_number(v)]
        i, value = (odd or texts)[0]
        problems[name] = (
            f"feature column {name!r} must hold numbers, but {_row(i, table.lines)} holds "
            f"{value!r}, which pandas reads as text (it reads a missing value from an "
            "empty cell, NA, NaN or null); write it as a number or an empty cell"
        )
    return problems


#: how ``layerkit train`` fills missing numbers itself
_FILL = '; or set data.impute = "median" (or "mean") to fill them'


def feature_problems(
    table: Table, names: list[str], *, imputed: bool = False, hint: str = "", fill: str = ""
) -> list[str]:
    """What is wrong with each feature column (text, missing or infinite values), so
    that one run names every column to fix, not one column per run; ``imputed``: the
    model fills missing values (NaN) itself; ``hint`` ends a message about text,
    ``fill`` one about missing values."""
    problems = []
    for name in names:
        try:
            column = table[name]
            if imputed and column.dtype != object:
                column = np.where(np.isnan(column), 0.0, column)  # (the model fills them)
            check_numbers(column, f"feature column {name!r}", hint, table.lines, fill)
        except CLIError as err:
            problems.append(str(err))
    return problems


def refuse(problems: list[str], path: Path) -> None:
    """Raise one CLIError naming every problem found in the columns of ``path``."""
    if len(problems) == 1:
        raise CLIError(f"{path}: {problems[0]}")
    if problems:
        listed = "".join(f"\n  - {problem}" for problem in problems)
        raise CLIError(f"{path}: {len(problems)} columns cannot be used as they are:{listed}")


#: a value that starts like a date or a timestamp (2021-02-03, 2021/2/3)
_DATE = re.compile(r"(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/]\d{1,2}[-/]\d{4})(?:$|[ T])")


def _row(i: int, lines: Sequence[int] | None, *, within: bool = False) -> str:
    """Row ``i`` (0-based) as messages name it: 1 = the first data row, and the line of
    the file it ends on, when the rows came from a CSV file (``within`` parentheses:
    "row 7, line 8", else "row 7 (line 8)")."""
    if not lines:
        return f"row {i + 1}"
    return f"row {i + 1}, line {lines[i]}" if within else f"row {i + 1} (line {lines[i]})"


#: a number written with thousands separators (3,366 or 1,234,567.89)
_GROUPED = re.compile(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")
#: a number written with Python's underscores (1_000), which pandas reads as text
_UNDERSCORED = re.compile(r"\s*[-+]?\d+(_\d+)+(\.\d*)?\s*$")


def check_numbers(
    column: np.ndarray,
    what: str,
    hint: str = "",
    lines: Sequence[int] | None = None,
    fill: str = "",
) -> None:
    """Refuse text, missing values and infinities, naming the first row (1 = first data
    row; with ``lines``, also the file's line); ``hint`` ends the message about text,
    ``fill`` the one about missing values."""
    if column.dtype == object:  # (its first text, else its first gap)
        texts = (i for i, v in enumerate(column) if v is not None and not _is_number(v))
        bad = next(texts, None)
        bad = next(i for i, v in enumerate(column) if v is None) if bad is None else bad
        value = "a missing value" if column[bad] is None else repr(column[bad])
        kind = "encode categories as numbers"
        if _DATE.match(str(column[bad])):
            kind = "turn dates into numbers (days since a reference date, say)"
        elif _GROUPED.match(str(column[bad])):
            kind = "write numbers without thousands separators (3366, not 3,366)"
        elif _UNDERSCORED.match(str(column[bad])):
            kind = "write numbers without underscores (1000, not 1_000)"
        raise CLIError(
            f"{what} must hold numbers, but {_row(bad, lines)} holds {value}; {kind}, and fill "
            f"or drop missing values, first{hint}"
        )
    bad_rows = np.flatnonzero(~np.isfinite(column))
    if bad_rows.size:
        first = bad_rows[0]
        missing = bool(np.isnan(column[first]))
        kind = "missing value(s)" if missing else "infinite value(s)"
        raise CLIError(
            f"{what} has {bad_rows.size} {kind} (first in "
            f"{_row(first, lines, within=True)}); fill or drop them first{fill if missing else ''}"
        )


def _is_number(value: Any) -> bool:
    """A number, as the table reader takes one (``1_000`` is text there, as in pandas)."""
    if isinstance(value, str) and "_" in value:
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _target(y: np.ndarray, task: str, what: str, lines: Sequence[int] | None = None) -> np.ndarray:
    if task == "regression" and y.dtype == object:
        labels = {v for v in y if v is not None and not _is_number(v)}
        if labels and len(labels) <= len(y) / 2:  # several rows per text value: labels?
            shown = ", ".join(map(repr, sorted(labels)[:3])) + (", ..." if len(labels) > 3 else "")
            check_numbers(
                y,
                f"{what} (regression)",
                hint=f"; or, if its {len(labels)} text value(s) ({shown}) are class labels, "
                'set task = "classification"',
                lines=lines,
            )
    if task == "regression" or y.dtype != object:
        check_numbers(y, what + (" (regression)" if task == "regression" else ""), lines=lines)
        if task == "regression":
            return y
        if np.all(y == np.round(y)):
            y = y.astype(np.int64)  # class labels 0, 1, 2 rather than 0.0, 1.0, 2.0
    else:
        missing = [i for i, v in enumerate(y) if v is None]
        if missing:
            raise CLIError(
                f"{what} has {len(missing)} missing label(s) (first in "
                f"{_row(missing[0], lines, within=True)}); "
                "drop those rows first"
            )
    classes = np.unique(y)
    if len(classes) < 2:
        raise CLIError(f"{what} holds one class only ({classes[0]!r}): nothing to classify")
    if len(classes) > len(y) / 2:
        raise CLIError(
            f"{what} holds {len(classes)} distinct values in {len(y)} rows: a classifier "
            'needs several rows per class; is this a regression (task = "regression")?'
        )
    return y


def _labels_as_written(y: np.ndarray, written: np.ndarray) -> np.ndarray:
    """Labels read as numbers (``y``), booleans where the file's are (a CSV's
    ``True``/``False``, a Parquet file's booleans), as pandas reads them (else numbers
    stay numbers, as pandas reads ``01`` as 1)."""
    if y.dtype == object:
        return y  # (text labels already)
    values = written.tolist()
    if all(isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=bool)
    if all(isinstance(v, str) and v.strip().lower() in ("true", "false") for v in values):
        return y.astype(bool)  # (read as 1 and 0)
    return y


def split(X: np.ndarray, y: np.ndarray, task: str, fraction: float, seed: Any) -> list[Any]:
    """Training and held-out rows, stratified by class for a classification."""
    if fraction == 0:
        return [X, X[:0], y, y[:0]]
    stratify = None
    if task == "classification":
        classes, counts = np.unique(y, return_counts=True)
        if counts.min() < 2:
            rare = [c.item() if hasattr(c, "item") else c for c in classes[counts < 2]]
            shown = f"{rare[:10]}"[:-1] + (
                f", ... ({len(rare)} in all)]" if len(rare) > 10 else "]"
            )
            hint = ""
            if y.dtype.kind in "iuf" and len(classes) > max(20, len(y) // 10):
                hint = (
                    f" ({len(classes)} classes of {len(y)} rows, read as numbers: a "
                    'continuous target? then set task = "regression")'
                )
            raise CLIError(
                f"class(es) {shown} have a single row, which cannot be both trained on and "
                f"held out; add rows, drop them, or set validation.test_fraction = 0{hint}"
            )
        stratify = y
    try:
        parts: list[Any] = train_test_split(
            X, y, test_size=fraction, random_state=seed, stratify=stratify
        )
    except ValueError as err:
        raise CLIError(f"validation.test_fraction = {fraction}: {err}") from None
    return parts
