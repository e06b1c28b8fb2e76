"""Checks every extension shares: copies, pickles, configs and the registry."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable
from typing import Any

from .._configurable import Configurable, lookup, registry_name_of
from ._core import GradientCheckError, expect


def check_config_round_trip(obj: Configurable) -> None:
    """``get_config`` is JSON data and ``from_config`` rebuilds an equal object."""
    cls = type(obj)
    try:
        name = registry_name_of(obj)
    except TypeError as err:
        raise GradientCheckError(str(err)) from None
    expect(lookup(obj._kind, name) is cls, f"{cls.__name__} is not registered as {name!r}")
    config = obj.get_config()
    text = json.dumps(config, allow_nan=False)
    rebuilt = cls.from_config(json.loads(text))
    expect(
        rebuilt.get_config() == config,
        f"from_config(get_config()) gives config {rebuilt.get_config()!r}, expected {config!r}",
    )


def check_copies(obj: Any, same: Callable[[Any, Any], str | None]) -> None:
    """A deep copy and a pickle round trip behave like the original (``same`` says
    why not, or returns None)."""
    for how, twin in (
        ("deepcopy", copy.deepcopy(obj)),
        ("pickle", pickle.loads(pickle.dumps(obj))),
    ):
        problem = same(obj, twin)
        expect(problem is None, f"after a {how} round trip: {problem}")


def unchanged(before: Any, after: Any) -> bool:
    import numpy as np

    return bool(
        np.shape(before) == np.shape(after) and np.array_equal(before, after, equal_nan=True)
    )
