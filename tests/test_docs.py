"""Every code example in docs/ and README.md runs, in order, per file.

```python blocks are executed; in ```bash blocks, every line that starts with
``layerkit `` is run through the command's entry point and must succeed (other shell
lines are not run: install lines are checked against the package's extras, and
``python benchmarks/...`` lines against the benchmarks folder); a ```toml block whose first line is
``# file: NAME`` is written to NAME. A python block whose first line is
``# requires: MODULE`` is skipped where MODULE cannot be imported (scikit-learn's
callbacks need scikit-learn >= 1.9, hence Python >= 3.11). Each file runs in a fresh
temporary directory.
"""

import importlib.util
import re
import shlex
import sys
import types
from pathlib import Path

import pytest

from layerkit.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
FENCE = re.compile(r"^```(python|bash|toml)\n(.*?)^```", re.DOTALL | re.MULTILINE)
FILE = re.compile(r"^# file: (\S+)\n")
REQUIRES = re.compile(r"^# requires: (\S+)\n")


def blocks(path):
    return FENCE.findall(path.read_text(encoding="utf-8"))


def python_blocks(path):
    return [code for language, code in blocks(path) if language == "python"]


def commands(code):
    """The ``layerkit ...`` lines of a shell block (line continuations joined; what a
    pipe, ``| head``, does with the output is not run)."""
    joined = code.replace("\\\n", " ")
    lines = [line for line in joined.splitlines() if line.startswith("layerkit ")]
    words = [shlex.split(line, comments=True) for line in lines]
    return [w[1 : w.index("|") if "|" in w else None] for w in words]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_code_blocks_run(path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    # the blocks run as a real module, so classes they define can be pickled
    module = types.ModuleType(f"docs_{path.stem}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for i, (language, code) in enumerate(blocks(path)):
        where = f"{path.name}[block {i + 1}]"
        if language == "python":
            needs = REQUIRES.match(code)
            if needs and importlib.util.find_spec(needs.group(1)) is None:
                continue
            exec(compile(code, where, "exec"), module.__dict__)
            continue
        if language == "toml":
            named = FILE.match(code)
            if named:
                Path(named.group(1)).write_text(code, encoding="utf-8")
            continue
        for argv in commands(code):
            status = main(argv)
            assert status == 0, f"{where}: `layerkit {shlex.join(argv)}` exited {status}: " + (
                capsys.readouterr().err
            )


def test_docs_have_code():
    assert python_blocks(ROOT / "docs" / "math.md")
    assert any(commands(code) for language, code in blocks(ROOT / "docs" / "cli.md"))


def test_the_guide_links_every_page():
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name != "README.md":
            assert f"({page.name})" in index, f"docs/README.md does not link {page.name}"


def declared_extras():
    """The optional-dependency groups in pyproject.toml (read without a TOML parser,
    which Python 3.10 lacks)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    return set(re.findall(r"^([\w-]+) = ", section, re.MULTILINE))


def install_commands(path):
    """Every ``pip install ...`` in the file: lines of shell blocks and inline code."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    spans = [line for lang, code in blocks(path) if lang == "bash" for line in code.splitlines()]
    spans += re.findall(r"`([^`]*pip install[^`]*)`", text.replace("\n", " "))
    return [span for span in spans if "pip install" in span]


def test_the_extras_are_read():
    assert {"plot", "test", "dask", "progress"} <= declared_extras()


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_install_and_benchmark_lines_name_what_exists(path):
    """layerkit is installed from a clone (it is not on PyPI), with extras it declares;
    the benchmark scripts named exist."""
    extras = declared_extras()
    for command in install_commands(path):
        for arguments in re.findall(r"pip install((?:\s+[^\s&;|#]+)*)", command):
            names = [a.strip("\"'") for a in arguments.split() if not a.startswith("-")]
            assert not any(re.match(r"layerkit\b", name) for name in names), (
                f"{path.name}: {command!r} installs layerkit from PyPI, where it is not"
            )
        for group in re.findall(r"\.\[([\w,-]+)\]", command):
            unknown = set(group.split(",")) - extras
            assert not unknown, f"{path.name}: {command!r} names unknown extras {unknown}"
    for script in re.findall(r"(benchmarks/\w+\.py)", path.read_text(encoding="utf-8")):
        assert (ROOT / script).is_file(), f"{path.name}: no {script}"
