"""Loading a model file for the CLI: plugins first, every problem as a CLIError."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..exceptions import ModelFileError
from ..io import load
from ._errors import CLIError


def import_plugins(modules: list[str], directory: str, where: Callable[[int, str], str]) -> None:
    """Import each module, looking in ``directory`` first; ``where(i, name)`` names it."""
    sys.path.insert(0, directory)
    try:
        for i, name in enumerate(modules):
            try:
                importlib.import_module(name)
            except Exception as err:
                raise CLIError(f"{where(i, name)}: cannot import {name!r}: {err}") from None
    finally:
        sys.path.remove(directory)


def load_model(path: Path, plugins: list[str]) -> Any:
    # from the current directory too, as `python -m` would
    import_plugins(plugins, os.getcwd(), lambda i, name: "--plugin")
    if not path.is_file():
        raise CLIError(f"no model file at {path}")
    try:
        return load(path)
    except ModelFileError as err:
        hint = ""
        if "not registered" in str(err):
            hint = " (a model with your own layers needs --plugin MODULE to define them)"
        raise CLIError(f"{err}{hint}") from None
