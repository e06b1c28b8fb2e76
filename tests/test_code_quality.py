"""ruff (lint and format) and mypy run clean: part of the suite, so CI enforces them."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args):
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


def _tool(name):
    exe = Path(sys.executable).with_name(name)
    return str(exe) if exe.exists() else shutil.which(name)


def _project_files():
    """The Python files git tracks (a user's own scripts in the clone are not the
    project's: a trial's scratch folder failed the suite), or the project's folders
    outside a git checkout."""
    listed = _run("git", "ls-files", "*.py") if shutil.which("git") else None
    if listed is None or listed.returncode or not listed.stdout.strip():
        # (an unpacked sdist has no benchmarks/)
        return [d for d in ("layerkit", "tests", "benchmarks") if (ROOT / d).is_dir()]
    return [f for f in listed.stdout.splitlines() if (ROOT / f).exists()]


@pytest.mark.parametrize(
    "command",
    [("ruff", "check"), ("ruff", "format", "--check"), ("mypy",)],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_tool_runs_clean(command):
    exe = _tool(command[0])
    assert exe, f"{command[0]} is not installed (it is part of the [test] extra)"
    files = _project_files() if command[0] == "ruff" else []
    result = _run(exe, *command[1:], *files)
    assert result.returncode == 0, result.stdout + result.stderr
