"""Reading and writing the CLI's tables: CSV (standard library) and Parquet (pyarrow)."""

from __future__ import annotations

import array
import contextlib
import csv
import math
import os
import re
import shutil
import tempfile
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

import numpy as np

from ._errors import CLIError

#: what pandas reads as missing by default (compared case-insensitively here)
_MISSING = {
    "", "na", "nan", "null", "none", "n/a", "#n/a", "#n/a n/a", "#na", "<na>", "-nan",
    "1.#ind", "1.#qnan", "-1.#ind", "-1.#qnan",
}  # fmt: skip


class Table(dict[str, np.ndarray]):
    """Columns by name, in file order; ``index_names``: the columns pandas wrote from a
    DataFrame's index (a Parquet file's pandas metadata says which), by name; ``lines``:
    for a CSV file, the line each row ends on (blank lines and quoted line breaks make
    them differ from the row numbers), else None."""

    index_names: frozenset[str] = frozenset()
    lines: Sequence[int] | None = None
    #: a Parquet file's column types (pyarrow's), by name, for the columns read as text
    arrow_types: Mapping[str, Any] = MappingProxyType({})


def read_table(path: Path) -> Table:
    """The columns of a CSV (with a header row) or Parquet file, by name, in file order.

    A column whose every value is a number (or missing: empty, NA, NaN) is float64;
    any other column keeps its values as strings.
    """
    return read_table_and_text(path, ())[0]


def read_table_and_text(path: Path, text: Collection[str]) -> tuple[Table, dict[str, np.ndarray]]:
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


#: rows converted at a time: a CSV file is held as its typed columns, not as the
#: strings of its cells (ten times the file's size, as Python lists)
_CHUNK = 4096


def _read_csv(path: Path, text: Collection[str]) -> tuple[Table, dict[str, np.ndarray]]:
    try:
        return _read_csv_columns(path, text)
    except UnicodeDecodeError as err:
        raise CLIError(f"{path}: not a UTF-8 text file ({err.reason})") from None
    except csv.Error as err:
        raise CLIError(f"{path}: not a readable CSV file ({err})") from None


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """The file's rows that are not blank, each with the line it ends on (blank lines
    are skipped, as pandas skips them; quoted line breaks make lines and rows differ)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        for row in reader:
            if not _blank(row):
                yield reader.line_num, row


def _read_csv_columns(path: Path, text: Collection[str]) -> tuple[Table, dict[str, np.ndarray]]:
    rows = _rows(path)
    first = next(rows, None)
    if first is None:
        raise CLIError(f"{path}: empty file; expected a header row of column names")
    header = _without_trailing_comma(first[1], path)
    trim = len(header) < len(first[1])
    separator = _other_separator(header)
    if separator and len(header) == 1:
        shown = header[0] if len(header[0]) <= 60 else header[0][:57] + "..."
        raise CLIError(f"{path}: the header row reads as one column, {shown!r}: {separator}")
    if len(set(header)) != len(header):
        twice = sorted({name for name in header if header.count(name) > 1})
        if twice == [""]:
            unnamed = [str(j + 1) for j, name in enumerate(header) if not name]
            raise CLIError(
                f"{path}: columns {', '.join(unnamed)} have no name (a pandas index written "
                "without index=False?); column names must be unique: drop or name them"
            )
        raise CLIError(f"{path}: column names must be unique; repeated: {twice}")
    width = len(header)
    builders = [_ColumnBuilder() for _ in header]
    kept = {j: name for j, name in enumerate(header) if name in text}
    written: dict[int, list[np.ndarray]] = {j: [] for j in kept}
    lines = array.array("q")
    chunk: list[list[str]] = []
    for line, row in rows:
        if trim and len(row) == width + 1:
            row = row[:width]
        if len(row) != width:
            raise CLIError(
                f"{path}, line {line}: {_wrong_width(path, width, len(row), separator)}"
            )
        lines.append(line)
        chunk.append(row)
        if len(chunk) == _CHUNK:
            _add_chunk(chunk, builders, written)
            chunk = []
    if chunk:
        _add_chunk(chunk, builders, written)
    if not lines:
        raise CLIError(f"{path}: no data rows after the header")
    turned = [j for j, builder in enumerate(builders) if builder.lost]
    again = _text_columns(path, turned, trim) if turned else {}
    columns = Table(
        (name, again[j] if j in again else builders[j].column()) for j, name in enumerate(header)
    )
    columns.lines = lines
    raw = {name: np.concatenate(written[j]) for j, name in kept.items()}
    return columns, raw


def _add_chunk(
    chunk: list[list[str]], builders: list[_ColumnBuilder], written: dict[int, list[np.ndarray]]
) -> None:
    for j, builder in enumerate(builders):
        values = [row[j] for row in chunk]
        builder.add(values)
        if j in written:  # (copied to the output exactly as written)
            written[j].append(object_array(values))


def _without_trailing_comma(header: list[str], path: Path) -> list[str]:
    """A header ending in a comma (as some exports write it) ends in an empty cell that is
    no column when no data line has a value there: dropped (pandas would read an unnamed
    column). (Data lines with one cell more than the header are left to be refused: a
    comma ending each, or a first column of row names, as R writes them, which pandas
    takes for an index; the two cannot be told apart.)"""
    if not header or header[-1].strip():
        return header
    n = len(header) - 1
    rows = _rows(path)
    next(rows)  # (the header)
    seen = False
    for _, row in rows:
        seen = True
        if not (len(row) == n or (len(row) == n + 1 and not row[-1].strip())):
            return header
    return header[:n] if seen else header


def _wrong_width(path: Path, width: int, got: int, separator: str | None) -> str:
    """The message for a data line of ``got`` values under a header of ``width``."""
    hint = f"; {separator}" if separator else ""
    if got == width + 1:
        body = _rows(path)
        next(body)  # (the header)
        if all(len(row) == width + 1 for _, row in body):
            hint += (
                "; every data line has one value more than the header: if each ends "
                "in a comma, remove those; if the first column holds row names (as R's "
                "write.csv writes them), name it in the header or drop it"
            )
    return f"expected {width} values (one per column), got {got}{hint}"


def _text_columns(path: Path, columns: list[int], trim: bool) -> dict[int, np.ndarray]:
    """Columns ``columns`` as text, read again: each was numbers in the rows converted
    before the first text in it, and text makes the whole column text."""
    values: dict[int, list[str]] = {j: [] for j in columns}
    body = _rows(path)
    next(body)  # (the header)
    for _, row in body:
        for j in columns:
            values[j].append(row[j])
    return {j: _as_text(v) for j, v in values.items()}


class _ColumnBuilder:
    """One CSV column, converted a chunk of rows at a time, as ``_column`` converts all
    of it at once: numbers while every value is a number (or all are booleans), text
    from the first value that makes it text; the numbers converted before that are
    ``lost`` (their text is read again)."""

    def __init__(self) -> None:
        self.kinds: set[type] = set()
        self.parts: list[np.ndarray] = []
        self.is_text = self.lost = False

    def add(self, values: list[str]) -> None:
        if not self.is_text:
            numbers = _numbers(values, self.kinds)
            if numbers is not None:
                self.parts.append(numbers)
                return
            self.is_text, self.lost = True, bool(self.parts)
            self.parts = []
        if not self.lost:
            self.parts.append(_as_text(values))

    def column(self) -> np.ndarray:
        return np.concatenate(self.parts)


def _blank(row: list[str]) -> bool:
    """A line with no cells, or one of spaces only: skipped, before the header too."""
    return len(row) <= 1 and not "".join(row).strip()


#: Separators other than the comma that a CSV file may use: (name, Python literal).
_SEPARATORS = {";": ("';'", "';'"), "\t": ("tabs", "'\\t'"), "|": ("'|'", "'|'")}


def _other_separator(header: list[str]) -> str | None:
    """If a header cell holds another separator: the advice to convert the file."""
    for character, (name, literal) in _SEPARATORS.items():
        if any(character in cell for cell in header):
            decimal = ", decimal=','" if character == ";" else ""
            return (
                f"is the file separated by {name}, not commas? layerkit reads "
                "comma-separated files only (it has no option for another separator): "
                f"convert it first, e.g. with pandas: pd.read_csv(path, sep={literal}"
                f"{decimal}).to_csv(new_path, index=False)"
            )
    return None


#: Column names that pandas gives its index: in a Parquet file (``to_parquet``), and
#: when a CSV with an unnamed index column is read and written again.
_PANDAS_INDEX = re.compile(r"__index_level_\d+__|Unnamed: \d+")


def index_column(table: Table, skip: str | Collection[str] | None = None) -> str | None:
    """A message naming the first column (other than those in ``skip``) that is a
    written-out pandas index (no name, a name pandas gives one, or one the file's pandas
    metadata calls the index), or None. Used as a feature, it would be trained on
    silently: row labels, not data."""
    skipped = {skip} if isinstance(skip, str) else set(skip or ())
    for j, name in enumerate(table):
        if name in skipped:
            continue
        if not name.strip():
            return f"column {j + 1} has no name (a pandas index written without index=False?)"
        if _PANDAS_INDEX.fullmatch(name):
            return f"column {j + 1}, {name!r}, is the name pandas gives its index column"
        if name in table.index_names:
            return f"column {j + 1}, {name!r}, is the DataFrame's index, which pandas wrote"
    return None


#: booleans as pandas writes them to CSV: numbers, as a Parquet file's booleans are read
_BOOLEANS = {"true": 1.0, "false": 0.0}


def _column(values: list[str]) -> np.ndarray:
    """float64 if every value is a number or missing (NaN), or every one a boolean
    (True/False: 1/0) or missing; else text, missing as None. (As pandas reads them:
    Python's ``1_000`` is text, and so is a column mixing numbers and booleans.)"""
    numbers = _numbers(values, set())
    return _as_text(values) if numbers is None else numbers


def _numbers(values: list[str], kinds: set[type]) -> np.ndarray | None:
    """``values`` as float64, or None if they make a column text (``_column``); ``kinds``
    (updated): the kinds of value seen in the column so far, numbers and booleans."""
    if "_" not in "".join(values):  # (Python's float, which numpy's cast uses, takes 1_0)
        try:  # every value a number: numpy's cast of them all, in C (5x faster)
            numbers_at_once = np.array(values, dtype=np.float64)
        except ValueError:  # a missing marker, a boolean or text: value by value, below
            pass
        else:  # ("nan" is a missing marker: not a number, as below; "+nan" is a number)
            if not np.isnan(numbers_at_once).all() or any(
                v.strip().lower() not in _MISSING for v in values
            ):
                kinds.add(float)
            return None if len(kinds) > 1 else numbers_at_once
    numbers: list[float] = []
    for text in values:
        text = text.strip()
        folded = text.lower()
        if folded in _MISSING:
            numbers.append(math.nan)
            continue
        if folded in _BOOLEANS:
            numbers.append(_BOOLEANS[folded])
            kinds.add(bool)
        else:
            try:
                if "_" in text:
                    raise ValueError(text)
                numbers.append(float(text))
            except ValueError:
                kinds.add(str)
                return None
            kinds.add(float)
        if len(kinds) > 1:
            return None
    return np.array(numbers, dtype=np.float64)


def _as_text(values: list[str]) -> np.ndarray:
    """A text column's values, stripped, missing ones (NA, empty...) as None."""
    texts = [v.strip() for v in values]
    return np.array([None if t.lower() in _MISSING else t for t in texts], dtype=object)


#: pandas' own missing-value spellings, exactly (a category "none" or "Na" stays one)
PANDAS_MISSING = frozenset(
    {
        "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
        "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
    }
)  # fmt: skip


def as_categories(cells: np.ndarray, missing: Any = math.nan, *, csv: bool = True) -> np.ndarray:
    """A column of categories as pandas reads it: a CSV file's cells as written (not
    stripped), one of pandas' missing-value spellings (exactly) as ``missing``; a Parquet
    file's values as stored, a null as ``missing``."""

    def category(v: Any) -> Any:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return missing
        if csv and isinstance(v, str) and v in PANDAS_MISSING:
            return missing
        return v

    return object_array([category(v) for v in cells.tolist()])


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


def _read_parquet(path: Path, text: Collection[str]) -> tuple[Table, dict[str, np.ndarray]]:
    pa = _pyarrow(path)
    try:
        table = pa.parquet.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise CLIError(f"{path}: not a readable Parquet file ({err})") from None
    columns = Table()
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
    # (a RangeIndex is described, not stored: only the index columns named as strings)
    index = (table.schema.pandas_metadata or {}).get("index_columns", [])
    columns.index_names = frozenset(name for name in index if isinstance(name, str))
    raw = {  # the values as stored (an int64 ID stays exact, "007" stays text)
        name: object_array(table.column(name).to_pylist())
        for name in table.column_names
        if name in text
    }
    columns.arrow_types = {name: table.schema.field(name).type for name in raw}
    return columns, raw


def object_array(values: list[Any]) -> np.ndarray:
    """A 1-d object array of ``values`` (a list value stays one element, not a row)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def typed_text(values: np.ndarray) -> np.ndarray:
    """CSV cells (strings) as numbers when every one is written the way its number is
    written back: integers if all are whole (``0``, ``-3``), else floats (``17.99``,
    ``2``); an empty cell is missing (None). Any other spelling (``007``, ``1e3``,
    ``2.50``, `` 5``, ``NA``), or no number at all: the strings, unchanged."""
    numbers: list[Any] = []
    for text in values:
        number = _number_as_written(text) if text else None
        if number is None and text:
            return values
        numbers.append(number)
    present = [n for n in numbers if n is not None]
    if not present:
        return values
    if any(isinstance(n, float) for n in present):
        if any(isinstance(n, int) and float(n) != n for n in present):
            return values  # an integer a float64 cannot hold exactly
        numbers = [None if n is None else float(n) for n in numbers]
    elif any(not -(2**63) <= n < 2**63 for n in present):
        return values  # beyond int64
    return np.array(numbers, dtype=object)


def _number_as_written(text: str) -> int | float | None:
    """The number that ``text`` is the canonical spelling of, or None."""
    try:
        if str(int(text)) == text:
            return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) and repr(number) == text else None


def check_output(path: Path, what: str) -> None:
    """Refuse, before any work, an output path that cannot be written."""
    if path.is_dir():
        raise CLIError(f"{what} {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise CLIError(f"{what} {path}: the directory {path.parent} does not exist")
    check_replaceable(path, what)


def check_replaceable(path: Path, what: str) -> None:
    """Refuse an existing output file that is read-only (it would be replaced all the
    same: outputs are written to a temporary file, then renamed over the old one)."""
    if path.is_file() and not os.access(path, os.W_OK):
        raise CLIError(f"{what} {path} exists and is read-only; give another file name")


@contextlib.contextmanager
def written_whole(path: Path) -> Iterator[Path]:
    """A path to write ``path``'s new content to: a temporary file beside it (beside
    its real file, through a symbolic link), given the old file's mode and renamed over
    it when the block ends without error, so a run that fails or is interrupted leaves
    the old file whole; removed otherwise. Where that cannot be done (a folder not
    writable, a file with other hard links, one mounted on its own, a device or a
    pipe), ``path`` itself, written in place as before."""
    from ..io._save import _file_mode

    target = Path(os.path.realpath(path))
    temporary = None
    linked = os.path.islink(path)
    regular_or_new = not target.exists() or (target.is_file() and target.stat().st_nlink == 1)
    if linked and (not os.path.exists(path) or _through_special_files(path)):
        regular_or_new = False  # (a link to stdout, /dev/stdout, may end at the log it
        # appends to, which must not be replaced; a dangling link or a loop: as before)
    if regular_or_new:  # (not /dev/null, a FIFO, or a file with other hard links)
        try:
            handle, name = tempfile.mkstemp(prefix=".layerkit-", suffix=".tmp", dir=target.parent)
            os.close(handle)
            temporary = Path(name)
        except OSError:  # a folder that takes no new file (the file itself may be writable)
            pass
    if temporary is None:
        yield Path(path) if linked else target  # (through the link: /proc/.../pipe:[n] is no path)
        return
    try:
        yield temporary
        os.chmod(temporary, _file_mode(target))
        try:
            os.replace(temporary, target)
        except OSError:  # (a file mounted on its own cannot be renamed over: EBUSY)
            shutil.copyfile(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _through_special_files(path: Path) -> bool:
    """Whether following the link ``path`` passes through /dev or /proc (``/dev/stdout``
    is a link to ``/proc/self/fd/1``, a link to whatever stdout is)."""
    current = os.path.abspath(path)
    for _ in range(40):  # (the kernel's own limit on a chain of links)
        if current.startswith(("/dev/", "/proc/")):
            return True
        if not os.path.islink(current):
            return False
        current = os.path.abspath(os.path.join(os.path.dirname(current), os.readlink(current)))
    return True


def check_not_an_input(path: Path, what: str, inputs: dict[str, Path]) -> None:
    """Refuse, before any work, an output that is one of the command's inputs (also
    through a symbolic or hard link): writing it would destroy that input.

    ``inputs`` maps each input's description (``"DATA"``, ``"data.path"``) to its path.
    """
    if not path.exists():
        return
    for name, source in inputs.items():
        if source.exists() and path.samefile(source):
            shown = name if str(source) == str(path) else f"{name}: {source}, the same file"
            raise CLIError(
                f"{what} {path} is an input of this command ({shown}); it would be "
                "overwritten: give another file name"
            )


def write_table(
    path: Path, columns: dict[str, np.ndarray], types: Mapping[str, Any] = MappingProxyType({})
) -> None:
    """Write columns to CSV, or to Parquet if ``path`` ends in .parquet, where a column
    named in ``types`` gets that pyarrow type (a kept Parquet column keeps its own)."""
    if path.suffix.lower() in (".parquet", ".pq"):
        pa = _pyarrow(path)
        arrays = {
            k: pa.array(v.tolist() if v.dtype == object else v, type=types.get(k))
            for k, v in columns.items()
        }
        with written_whole(path) as temporary:
            pa.parquet.write_table(pa.table(arrays), temporary)
        return
    with (
        written_whole(path) as temporary,
        open(temporary, "w", newline="", encoding="utf-8") as handle,
    ):
        write_csv(handle, columns)


def write_csv(handle: IO[str], columns: dict[str, np.ndarray], line_end: str = "\r\n") -> None:
    """Write columns to an open text stream as CSV: a header, then one line per row."""
    writer = csv.writer(handle, lineterminator=line_end)
    writer.writerow(columns)
    for row in zip(*columns.values(), strict=True):
        writer.writerow([_text(v) for v in row])


def _text(value: Any) -> str:
    if value is None:  # (a Parquet null: an empty cell, as pandas writes it)
        return ""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)
