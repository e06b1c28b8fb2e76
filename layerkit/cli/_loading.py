"""Loading a model file for the CLI: plugins first, every problem as a CLIError."""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ..exceptions import ModelFileError
from ..io import load
from ..network import Sequential
from ._errors import CLIError


def import_plugins(
    modules: list[str], directories: list[str], where: Callable[[int, str], str]
) -> None:
    """Import each module, looking in ``directories`` first; ``where(i, name)`` names it.
    (Folders first, for `train` and `predict` alike: a plugin named as an installed or
    standard module, `mailbox.py`, is the user's in both.)"""
    for i, name in enumerate(modules):
        if name.endswith(".py") or "/" in name or "\\" in name:
            raise CLIError(f"{where(i, name)}: {name!r} is a file name; {_module_advice(name)}")
    sys.path[:0] = directories
    try:
        for i, name in enumerate(modules):
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as err:
                if err.name != name.split(".")[0]:
                    raise CLIError(f"{where(i, name)}: cannot import {name!r}: {err}") from None
                folders = ", ".join(directories)
                raise CLIError(
                    f"{where(i, name)}: no module {name!r} (looked in {folders}, then the "
                    "installed packages); run the command from the folder that holds "
                    f"{name.split('.')[0]}.py, or add that folder to PYTHONPATH"
                ) from None
            except Exception as err:
                raise CLIError(
                    f"{where(i, name)}: cannot import {name!r}: {type(err).__name__}: {err}"
                ) from None
    finally:  # what was added, wherever it is now (a plugin may add entries of its own)
        for directory in directories:
            if directory in sys.path:
                sys.path.remove(directory)


def _module_advice(file_name: str) -> str:
    """How to name the module in ``file_name`` instead: a dotted name when the file lies
    under the searched folder, else its stem and the folder to search."""
    path = Path(file_name.replace("\\", "/"))
    parts = (path.with_suffix("") if path.suffix == ".py" else path).parts
    if not path.is_absolute() and parts and all(part.isidentifier() for part in parts):
        return (
            f"give the module's name, {'.'.join(parts)!r} (the current folder is searched, "
            "or the experiment file's)"
        )
    if not path.stem.isidentifier():
        fixed = re.sub(r"\W", "_", path.stem)
        fixed = fixed if fixed.isidentifier() else f"_{fixed}"
        return (
            f"a module's name must be a Python identifier, which {path.stem!r} is not: "
            f"rename the file {fixed}.py and give {fixed!r}"
        )
    folder = str(path.parent) or "."
    return (
        f"give the module's name, {path.stem!r}, and run the command from {folder!r} "
        "(or add that folder to PYTHONPATH)"
    )


#: what each command takes, for a data file given where the model goes
_USAGE = {
    "predict": "predict takes the model first: layerkit predict MODEL DATA -o OUT",
    "inspect": "inspect shows a model file: layerkit inspect MODEL",
}


def import_model_plugins(path: Path, plugins: list[str]) -> None:
    """Import ``plugins`` for the model in ``path``: from the current directory, the
    model file's folder and the folder above it, then the installed packages."""
    folder = path.resolve().parent
    where = list(dict.fromkeys([os.getcwd(), str(folder), str(folder.parent)]))
    import_plugins(plugins, where, lambda i, name: "--plugin")


def load_model(
    path: Path, plugins: list[str], *, fitted: bool = True, command: str = "predict"
) -> Any:
    """The model in ``path``; plugins are looked for in the current directory (as
    ``python -m`` would), next to the model file, and in the folder above it (where
    ``train`` found them: the experiment file's, whose output folder holds the model).
    ``fitted``: refuse an unfitted one."""
    import_model_plugins(path, plugins)
    if path.is_dir():
        inside = sorted(str(p) for p in path.glob("*.lkm") if p.is_file())
        which = "that file" if len(inside) == 1 else "one of those"
        shown = ", ".join(inside[:3]) + (", ..." if len(inside) > 3 else "")
        hint = f"; it holds {shown}: give {which}" if inside else ""
        raise CLIError(
            f"model {path}: expected a model file (written by `layerkit train` or "
            f"layerkit.save), got a directory{hint}"
        )
    if not path.is_file():
        raise CLIError(f"no model file at {path}")
    try:
        model = load(path)
    except ModelFileError as err:
        if path.suffix.lower() in (".csv", ".txt", ".parquet", ".pq"):
            raise CLIError(
                f"model {path}: a data file, not a model file (written by `layerkit train` "
                f"or layerkit.save); {_USAGE[command]}"
            ) from None
        hint = ""
        if "not registered" in str(err):
            hint = " (a model with your own layers needs --plugin MODULE to define them)"
        raise CLIError(f"{err}{hint}") from None
    if fitted and not isinstance(model, Sequential):
        try:
            check_is_fitted(model)
        except NotFittedError:
            raise CLIError(
                f"{path} holds an unfitted {type(model).__name__} (saved before fit): it "
                "cannot predict"
            ) from None
    return model
