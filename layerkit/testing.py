"""pytest integration: run the conformance checks of your extensions as separate tests."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from .gradcheck import check_layer, check_loss, check_optimizer
from .layers.base import Layer
from .losses.base import Loss
from .optim.base import Optimizer

LAYER_CHECKS = (
    "build",
    "shapes",
    "float32",
    "deterministic",
    "rows_independent",
    "input_not_mutated",
    "gradient",
    "grads_overwritten",
    "copies",
    "config",
    "save_load",
)
LOSS_CHECKS = ("value", "weights", "input_not_mutated", "gradient", "copies", "config")
OPTIMIZER_CHECKS = (
    "in_place",
    "float32",
    "state_keys",
    "descent",
    "schedule",
    "deterministic",
    "reused_gradients",
    "flat_path",
    "state_round_trip",
    "copies",
    "config",
)


def named_checks(obj: Any, **kwargs: Any) -> list[tuple[str, Any]]:
    """``(name, check)`` pairs for ``obj``; ``check(obj)`` runs that one check.

    ``kwargs`` go to the checker (e.g. ``x=`` for layers, ``a=``/``y=`` for losses).
    """
    checker: Callable[..., Any]
    names: tuple[str, ...]
    if isinstance(obj, Layer):
        checker, names = check_layer, LAYER_CHECKS
    elif isinstance(obj, Loss):
        checker, names = check_loss, LOSS_CHECKS
    elif isinstance(obj, Optimizer):
        checker, names = check_optimizer, OPTIMIZER_CHECKS
    else:
        raise TypeError(f"expected a layerkit Layer, Loss or Optimizer, got {type(obj).__name__}")
    return [(name, functools.partial(_run, checker, name, kwargs)) for name in names]


def _run(checker: Any, name: str, kwargs: dict[str, Any], obj: Any) -> None:
    checker(obj, checks=[name], **kwargs)


def parametrize_checks(objects: Iterable[Any], **kwargs: Any) -> Any:
    """A ``pytest.mark.parametrize`` over every check of every object.

    The decorated test takes ``obj`` and ``check`` and calls ``check(obj)``; each check
    is its own test, named ``<object>-<check>``, like scikit-learn's
    ``parametrize_with_checks``. ``kwargs`` go to every checker call (``x=`` an input
    of your own for ``check_layer``, ``random_state=``, ``tol=``...).

    Examples
    --------
    >>> from layerkit.layers import Dense
    >>> from layerkit.testing import parametrize_checks
    >>> @parametrize_checks([Dense(3)])
    ... def test_my_layer(obj, check):
    ...     check(obj)
    """
    import pytest

    params = [
        pytest.param(obj, check, id=f"{obj!r}-{name}")
        for obj in objects
        for name, check in named_checks(obj, **kwargs)
    ]
    return pytest.mark.parametrize(("obj", "check"), params)
