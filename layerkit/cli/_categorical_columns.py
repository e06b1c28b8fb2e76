"""Which feature columns ``layerkit train`` takes as categories (``data.categorical``):
the listed ones, or ("auto") the columns holding text, but for text that reads as
dates, as numbers gone wrong, or as names and identifiers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import CLIError
from ._examples import _DATE, _GROUPED, _UNDERSCORED, _is_number, _near, _row, feature_names
from ._tables import Table

#: a text column with more distinct values than this, and than half its rows with a
#: value, holds names or identifiers rather than categories
FEW = 20
#: the share of a column's values that are numbers above which its text cells are
#: taken for markers or slips among numbers ("?" for a missing value), not categories
MOSTLY = 0.9

#: as many distinct text values as markers among numbers take ("?", "n.a.")
MARKERS = 2

LISTING = "to one-hot encode its values as categories, list it under data.categorical"


def read_as_written(table: Table, data: Any) -> list[str]:
    """The feature columns ``examples`` needs as written: every one, where the model
    may be a Pipeline, which reads its columns as pandas reads the file (listed
    categories, text columns for "auto", or ``data.impute``); else none."""
    names = [n for n in feature_names(table, data) if n in table]
    if data.categorical != "auto":
        return names if data.categorical or data.impute is not None else []
    texts = any(table[n].dtype == object for n in names)
    return names if texts or data.impute is not None else []


def choose(
    table: Table, given: Any, target: str, features: list[str], path: Path
) -> tuple[list[str], list[str]]:
    """The categorical features (``data.categorical``), and what is wrong with the
    text columns "auto" does not take; a listed name that is not a feature is refused."""
    if given != "auto":
        if target in given:
            raise CLIError(
                f"{path}: data.categorical names the target {target!r}, which cannot also "
                "be a feature"
            )
        unknown = [name for name in given if name not in features]
        if unknown:
            hint = _near(unknown[0], features).replace("columns are", "features are")
            raise CLIError(
                f"{path}: data.categorical names {unknown}, not among the features{hint}"
            )
        twice = sorted({name for name in given if given.count(name) > 1})
        if twice:
            raise CLIError(f"data.categorical lists {twice} more than once")
        return [name for name in features if name in given], []
    chosen, problems = [], []
    for name in features:
        if table[name].dtype != object:
            continue
        problem = _not_categories(table[name], f"feature column {name!r}", table.lines)
        if problem:
            problems.append(f"{problem}; or, {LISTING} anyway")
        else:
            chosen.append(name)
    return chosen, problems


def _not_categories(column: np.ndarray, what: str, lines: Sequence[int] | None) -> str | None:
    """Why "auto" does not take a text column as categories (None: it does): most of
    its values are dates; it holds names or identifiers (a distinct value in most
    rows); or nearly all of its values are numbers, some written as pandas does not
    read them (3,366 or 1_000) or beside a few text cells; or most of them are numbers,
    beside one or two text values ("?": markers of missing values)."""
    present = [(i, v) for i, v in enumerate(column.tolist()) if v is not None]
    if not present:  # (no value at all: the column is missing values, not text)
        return None
    dates = [(i, v) for i, v in present if _DATE.match(v)]
    if len(dates) >= len(present) / 2:
        i, value = dates[0]
        return (
            f"{what} must hold numbers, but {_row(i, lines)} holds {value!r}; turn dates into "
            "numbers (days since a reference date, say)"
        )
    numbers = sum(_is_number(v) for _, v in present)
    written = [(i, v) for i, v in present if _GROUPED.match(v) or _UNDERSCORED.match(v)]
    others = {v for _, v in present if not _is_number(v)} - {v for _, v in written}
    markers = numbers >= len(present) / 2 and len(others) <= MARKERS  # ("?" among numbers)
    distinct = len({v for _, v in present})
    if not markers and distinct > FEW and distinct > len(present) / 2:
        return (
            f"{what} holds {distinct} distinct values in its {len(present)} rows with a "
            "value, as names or identifiers do: one-hot encoded, each would be an input "
            "learned from a row or two; leave it out (data.exclude)"
        )
    amounts = len({v for _, v in present if _is_number(v)}) > FEW  # (as in a column of ages)
    markers = markers or (numbers >= len(present) / 2 and amounts)
    if numbers + len(written) < MOSTLY * len(present) and not markers:
        return None
    if written:
        i, value = written[0]
        how = (
            "write numbers without thousands separators (3366, not 3,366)"
            if _GROUPED.match(value)
            else "write numbers without underscores (1000, not 1_000)"
        )
        return f"{what} must hold numbers, but {_row(i, lines)} holds {value!r}; {how}"
    i, value = next((i, v) for i, v in present if not _is_number(v))
    return (
        f"{what} must hold numbers, but {_row(i, lines)} holds {value!r} (and numbers in "
        f"{numbers} of its {len(present)} rows with a value); write a missing value as an "
        "empty cell (or NA)"
    )
