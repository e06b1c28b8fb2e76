"""Argument checks shared by the public entry points."""

from __future__ import annotations

from typing import Any

import numpy as np


def require_instance(obj: Any, base: type, what: str) -> None:
    """A clear TypeError unless ``obj`` is an instance of ``base``; ``what`` names the
    argument ("loss", "the layer given to check_layer"). A class given instead of an
    instance, the usual slip, is named as such."""
    if isinstance(obj, base):
        return
    if isinstance(obj, type) and issubclass(obj, base):
        raise TypeError(
            f"expected {what} to be a {base.__name__} instance, got the class "
            f"{obj.__name__}; did you mean {obj.__name__}()?"
        )
    raise TypeError(
        f"expected {what} to be a layerkit {base.__name__} instance, got "
        f"{type(obj).__name__}: {obj!r}"
    )


def first_repeat(items: Any) -> tuple[int, int] | None:
    """The positions ``(j, i)``, j < i, of the first object found twice (the same
    object, not an equal one), or None."""
    first_seen: dict[int, int] = {}
    for i, item in enumerate(items):
        j = first_seen.setdefault(id(item), i)
        if j != i:
            return j, i
    return None


def require_count(value: Any, name: str) -> None:
    """A clear ValueError unless ``value`` is an integer >= 1 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"expected {name} to be an integer >= 1, got {value!r}")


def target_shape_problem(given: np.ndarray, rows: int, n_out: int, x_name: str) -> str:
    """What is wrong with the shape of the targets ``given`` for ``rows`` rows of input
    and a network of ``n_out`` outputs ("" when nothing is): labels in place of one-hot
    rows get the fix."""
    Y = given.reshape(-1, 1) if given.ndim == 1 else given
    if Y.ndim == 2 and Y.shape == (rows, n_out):
        return ""
    hint = ""
    labels = given.dtype.kind in "iub" or (
        given.dtype.kind == "f" and bool(np.all(given == np.round(given)))
    )
    if given.ndim == 1 and n_out > 1 and labels:
        hint = (
            f"; for class labels give one-hot targets, e.g. np.eye({n_out})[y]"
            " (or use layerkit.MLPClassifier, which encodes labels itself)"
        )
    return (
        f"expected y of shape ({rows}, {n_out}) (one row per row of {x_name}, one column "
        f"per network output), got an array of shape {given.shape}{hint}"
    )
