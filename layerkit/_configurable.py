"""What layers, losses and optimizers share: they are described by their arguments."""

from __future__ import annotations

import inspect
from typing import Any


class Configurable:
    """Base of objects whose constructor arguments are stored as same-named attributes.

    The arguments read back this way describe the object: its ``repr`` shows those
    that differ from their defaults, as scikit-learn's estimators do.
    """

    def _init_arguments(self) -> dict[str, Any]:
        """The constructor arguments, read back from the attributes of the same name."""
        args: dict[str, Any] = {}
        for name, p in _signature(type(self)).items():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if name in self.__dict__:
                args[name] = self.__dict__[name]
        return args

    def __repr__(self) -> str:
        sig = _signature(type(self))
        shown = []
        for name, value in self._init_arguments().items():
            default = sig[name].default
            if default is inspect.Parameter.empty or not _same(value, default):
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


def _signature(cls: type) -> dict[str, inspect.Parameter]:
    params = dict(inspect.signature(vars(cls).get("__init__") or cls).parameters)
    params.pop("self", None)
    return params


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # arrays and other objects without a plain truth value
        return a is b
