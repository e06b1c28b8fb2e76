"""The CLI's CSV reader converts a chunk of rows at a time, and gives what converting
each whole column at once gives (``_column``, the reader's rule), across chunks."""

import csv
import tracemalloc

import numpy as np
import pytest

from layerkit.cli import _tables
from layerkit.cli._errors import CLIError

#: files whose columns change kind after the first rows (2 rows a chunk below)
FILES = {
    "numbers": "a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n",
    "text after numbers": "a,b\n1,x1\n2,2\n3,3\n4,4\n5,hello\n6,6\n",
    "booleans after numbers": "a,b\n1,2\n3,4\n5,True\n7,False\n",
    "numbers after booleans": "a,b\nTrue,1\nFalse,2\ntrue,3\n1.5,4\n",
    "missing values": "a,b\nNA,\n,3\nnan,4\n,5\n7,\n",
    "only booleans": "a,b\nTrue,1\nfalse,2\nTRUE,3\n,4\nFalse,5\n",
    "ids kept as written": "id,x\n007,1\n 8 ,2\n1e3,3\nabc,4\n010,5\n",
    "blank and quoted lines": 'a,b\n\n1,"x\ny"\n\n2,3\n   \n4,5\n6,"7"\n',
    "trailing commas": "a,b,\n1,2,\n3,4\n5,6,\n7,8,\n",
    "utf-8 with a byte-order mark": "\ufeffa,b\n1,2\n3,4\n5,6\n",
    "an underscore late": "a,b\n1,2\n3,4\n5,1_000\n",
    "+nan (a number), then booleans": "a,b\n+nan,1\n+NaN,2\nTrue,3\nFalse,4\n",
    "booleans, then nan only": "a,b\nTrue,1\nFalse,2\nnan,3\nNaN,4\nTrue,5\n",
    "nan only, then booleans": "a,b\nnan,1\nNaN,2\nTrue,3\nFalse,4\n",
    "numbers, then nan only, then booleans": "a,b\n1.5,1\n2,2\nnan,3\nnan,4\nTrue,5\n",
    "numbers spelled every way": "a,b\n 1.5 ,1\n-0,2\n+3,3\n.5,4\n5.,5\n1e400,6\n-inf,7\n",
    "text in the last row only": "a,b\n1,2\n3,4\n5,6\n7,8\n9,x\n",
}


def _reference_column(values):
    """The typing rule restated on its own (not the reader's code, which the test
    checks): numbers (or booleans, as 1/0) with missing values as NaN, unless a value is
    text or numbers and booleans mix: then the stripped strings, missing as None."""
    missing = _tables._MISSING  # (pandas' default missing markers: data, not logic)
    kinds, numbers = set(), []
    for value in values:
        text = value.strip()
        if text.lower() in missing:
            numbers.append(float("nan"))
        elif text.lower() in ("true", "false"):
            kinds.add("boolean")
            numbers.append(1.0 if text.lower() == "true" else 0.0)
        else:
            try:
                number = float(text.replace("_", "x"))  # (Python's 1_000 is text here)
            except ValueError:
                kinds.add("text")
            else:
                kinds.add("number")
                numbers.append(number)
    if "text" in kinds or len(kinds) > 1:
        texts = [v.strip() for v in values]
        return np.array([None if t.lower() in missing else t for t in texts], dtype=object)
    return np.array(numbers, dtype=np.float64)


def _by_whole_columns(path):
    """The rule, applied to whole columns: rows that are not blank, each column at once."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        rows = [(reader.line_num, row) for row in reader if not _tables._blank(row)]
    header = rows[0][1]
    width = len(header) - (header[-1] == "" and all(len(r) <= len(header) for _, r in rows))
    header = header[:width]
    body = [(line, row[:width]) for line, row in rows[1:]]
    columns = {
        name: _reference_column([row[j] for _, row in body]) for j, name in enumerate(header)
    }
    return columns, [line for line, _ in body], [row for _, row in body]


def _same(got, expected):
    assert got.dtype == expected.dtype
    if got.dtype == object:
        assert got.tolist() == expected.tolist()
    else:
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("chunk", [1, 2, 3, 4096])
def test_chunks_give_what_whole_columns_give(tmp_path, monkeypatch, name, chunk):
    path = tmp_path / "data.csv"
    path.write_text(FILES[name], encoding="utf-8")
    monkeypatch.setattr(_tables, "_CHUNK", chunk)
    table, raw = _tables.read_table_and_text(path, ["a", "id"])
    expected, lines, cells = _by_whole_columns(path)
    assert list(table) == list(expected)
    for column in expected:
        _same(table[column], expected[column])
    assert list(table.lines) == lines
    kept = [c for c in ("a", "id") if c in expected]
    assert list(raw) == kept
    for column in kept:
        j = list(expected).index(column)
        _same(raw[column], np.array([row[j] for row in cells], dtype=object))


def test_the_kinds_seen_decide_a_column_as_before():
    """(whole columns at once, as the reader types the columns of a Parquet file)"""
    assert _tables._column(["1", "True"]).dtype == object
    assert _tables._column(["1", "", "2.5"]).tolist()[::2] == [1.0, 2.5]
    assert _tables._column(["True", "false", "NA"])[:2].tolist() == [1.0, 0.0]
    assert _tables._column(["1_000", "2"]).tolist() == ["1_000", "2"]
    assert _tables._column([" x ", "NA"]).tolist() == ["x", None]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a,b\n1,2\n3,4\n5,6,7\n", r"line 4: expected 2 values \(one per column\), got 3$"),
        ("a,b\n1,2,3\n4,5,6\n7,8,9\n", r"line 2: .*every data line has one value more"),
        ("a,b\n1,2,3\n4,5\n", r"line 2: expected 2 values \(one per column\), got 3$"),
        ("a,b\n\n", "no data rows after the header"),
        ("\n \n", "empty file"),
        ("a;b\n1;2\n", "the header row reads as one column"),
        ("a,a\n1,2\n", r"repeated: \['a'\]"),
    ],
)
def test_a_malformed_file_is_refused_at_its_line(tmp_path, monkeypatch, text, match):
    monkeypatch.setattr(_tables, "_CHUNK", 1)
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CLIError, match=match):
        _tables.read_table(path)


def test_a_file_that_is_not_utf8_past_the_first_chunk_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(_tables, "_CHUNK", 1)
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * 5000 + "3,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(CLIError, match="not a UTF-8 text file"):
        _tables.read_table(path)


def test_a_large_file_is_held_as_its_columns_not_as_its_cells(tmp_path):
    """(the reader held every cell as a Python string: 1.5 GB for a 141 MB file of
    500,000 rows of 30 numbers, 10.5 times the file's size here; now the float64
    columns, twice while they are joined, and one chunk's strings: 2.2 times)"""
    rng = np.random.default_rng(0)
    path = tmp_path / "big.csv"
    values = rng.normal(size=(60_000, 10)).round(6)
    np.savetxt(path, values, delimiter=",", header=",".join("abcdefghij"), comments="", fmt="%s")
    size = path.stat().st_size
    tracemalloc.start()
    try:
        table = _tables.read_table(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(np.column_stack(list(table.values())), values)
    assert peak < 4 * size, f"peak {peak:,} bytes for a file of {size:,}"
