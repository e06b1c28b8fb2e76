"""Reading and writing the CLI's tables: CSV (standard library) and Parquet (pyarrow)."""

from __future__ import annotations

import csv
import math
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import CLIError

_MISSING = {"", "na", "nan", "null", "none"}


def read_table(path: Path) -> dict[str, np.ndarray]:
    """The columns of a CSV (with a header row) or Parquet file, by name, in file order.

    A column whose every value is a number (or missing: empty, NA, NaN) is float64;
    any other column keeps its values as strings.
    """
    return read_table_and_text(path, ())[0]


def read_table_and_text(
    path: Path, text: Collection[str]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``read_table``'s columns, and the columns named in ``text`` exactly as written
    (a CSV's cells as strings: an ID such as 007 stays 007; Parquet's as stored)."""
    if not path.is_file():
        raise CLIError(f"no data file at {path}")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return _read_parquet(path, text)
    if suffix not in (".csv", ".txt"):
        raise CLIError(f"{path}: expected a .csv or .parquet file, got {suffix or 'no suffix'!r}")
    return _read_csv(path, text)


def _read_csv(
    path: Path, text: Collection[str]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            rows = [(reader.line_num, row) for row in reader]  # (the line a row ends on)
    except UnicodeDecodeError as err:
        raise CLIError(f"{path}: not a UTF-8 text file ({err.reason})") from None
    except csv.Error as err:
        raise CLIError(f"{path}: not a readable CSV file ({err})") from None
    if not rows or not any(rows[0][1]):
        raise CLIError(f"{path}: empty file; expected a header row of column names")
    header, body = rows[0][1], [row for row in rows[1:] if row[1]]  # (blank lines skipped)
    if len(set(header)) != len(header):
        twice = sorted({name for name in header if header.count(name) > 1})
        raise CLIError(f"{path}: column names must be unique; repeated: {twice}")
    for line, row in body:
        if len(row) != len(header):
            raise CLIError(
                f"{path}, line {line}: expected {len(header)} values (one per column), "
                f"got {len(row)}"
            )
    if not body:
        raise CLIError(f"{path}: no data rows after the header")
    cells = [row for _, row in body]
    columns = {name: _column([row[j] for row in cells]) for j, name in enumerate(header)}
    raw = {
        name: np.array([row[j] for row in cells], dtype=object)
        for j, name in enumerate(header)
        if name in text
    }
    return columns, raw


def _column(values: list[str]) -> np.ndarray:
    """float64 if every value is a number or missing (NaN); else text, missing as None."""
    numbers = []
    for text in values:
        text = text.strip()
        if text.lower() in _MISSING:
            numbers.append(math.nan)
            continue
        try:
            numbers.append(float(text))
        except ValueError:
            texts = [v.strip() for v in values]
            return np.array([None if t.lower() in _MISSING else t for t in texts], dtype=object)
    return np.array(numbers, dtype=np.float64)


def _pyarrow(path: Path) -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise CLIError(
            f"{path}: reading and writing Parquet needs pyarrow; install it with "
            "`pip install pyarrow` (or use CSV)"
        ) from None
    return pyarrow


def _read_parquet(
    path: Path, text: Collection[str]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    pa = _pyarrow(path)
    try:
        table = pa.parquet.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise CLIError(f"{path}: not a readable Parquet file ({err})") from None
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if (
            pa.types.is_integer(column.type)
            or pa.types.is_floating(column.type)
            or pa.types.is_boolean(column.type)
        ):
            columns[name] = column.to_numpy(zero_copy_only=False).astype(np.float64)
        else:  # text (or dates...): parsed like a CSV column, so "1.5" is a number
            columns[name] = _column(["" if v is None else str(v) for v in column.to_pylist()])
    if not columns or table.num_rows == 0:
        raise CLIError(f"{path}: the table has no rows or no columns")
    raw = {  # the values as stored (an int64 ID stays exact, "007" stays text)
        name: np.array(table.column(name).to_pylist(), dtype=object)
        for name in table.column_names
        if name in text
    }
    return columns, raw


def check_output(path: Path, what: str) -> None:
    """Refuse, before any work, an output path that cannot be written."""
    if path.is_dir():
        raise CLIError(f"{what} {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise CLIError(f"{what} {path}: the directory {path.parent} does not exist")


def write_table(path: Path, columns: dict[str, np.ndarray]) -> None:
    """Write columns to CSV, or to Parquet if ``path`` ends in .parquet."""
    if path.suffix.lower() in (".parquet", ".pq"):
        pa = _pyarrow(path)
        arrays = {k: pa.array(v.tolist() if v.dtype == object else v) for k, v in columns.items()}
        pa.parquet.write_table(pa.table(arrays), path)
        return
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in zip(*columns.values(), strict=True):
            writer.writerow([_text(v) for v in row])


def _text(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)
