"""Hyperparameter validation for the estimators: allowed values listed, typos suggested."""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class InvalidParameterError(ValueError, TypeError):
    """A hyperparameter has a wrong type or value (a ValueError and a TypeError, as in
    scikit-learn, so either ``except`` clause catches it)."""


Rule = Callable[[Any], bool]


def options(*allowed: str, also: tuple[type, ...] = (), also_text: str = "") -> Rule:
    """A string among ``allowed`` (or an instance of one of ``also``)."""

    def rule(value: Any) -> bool:
        return (isinstance(value, str) and value in allowed) or isinstance(value, also)

    rule.allowed = allowed  # type: ignore[attr-defined]
    rule.text = (  # type: ignore[attr-defined]
        "one of " + ", ".join(repr(a) for a in allowed) + (f" or {also_text}" if also_text else "")
    )
    return rule


def interval(
    low: float | None, high: float | None, *, closed: str = "both", integer: bool = False
) -> Rule:
    """A real (or integral) number in the interval; ``closed`` in both/left/right/neither.

    A real number must be finite: NaN (which every comparison would let through) and
    the infinities are refused, as scikit-learn refuses them (a bound of None is open).
    """
    kind = numbers.Integral if integer else numbers.Real

    def rule(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, kind):
            return False
        value = _number(value, integer)
        if value is None:
            return False
        if low is not None and (value < low or (value == low and closed in ("right", "neither"))):
            return False
        return not (
            high is not None
            and (value > high or (value == high and closed in ("left", "neither")))
        )

    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    left = "[" if closed in ("both", "left") and low is not None else "("
    right = "]" if closed in ("both", "right") and high is not None else ")"
    noun = "an int" if integer else "a float"
    rule.text = f"{noun} in {left}{lo}, {hi}{right}"  # type: ignore[attr-defined]
    return rule


def _number(value: Any, integer: bool) -> float | None:
    """An int as it is (exact: a huge int has no float), a real number as a float, or
    None for NaN and the infinities."""
    if integer:
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else None


def boolean(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


boolean.text = "a bool"  # type: ignore[attr-defined]


def any_of(*rules: Rule, text: str | None = None) -> Rule:
    def rule(value: Any) -> bool:
        return any(r(value) for r in rules)

    rule.text = text or " or ".join(r.text for r in rules)  # type: ignore[attr-defined]
    rule.allowed = tuple(  # type: ignore[attr-defined]
        a for r in rules for a in getattr(r, "allowed", ())
    )
    return rule


def constant(expected: Any, text: str) -> Rule:
    def rule(value: Any) -> bool:
        if expected is None:
            return value is None
        return (
            not isinstance(value, bool) and isinstance(value, (int, float)) and value == expected
        )

    rule.text = text  # type: ignore[attr-defined]
    return rule


def hidden_layer_sizes(value: Any) -> bool:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value) >= 1
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        return False
    return all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) >= 1 for v in value
    )


hidden_layer_sizes.text = "a positive int or a sequence of positive ints"  # type: ignore[attr-defined]


def random_state(value: Any) -> bool:
    if value is None or isinstance(value, (np.random.RandomState, np.random.Generator)):
        return True
    return (
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
        and 0 <= int(value) < 2**32
    )


random_state.text = (  # type: ignore[attr-defined]
    "None, an int in [0, 2**32) or a numpy RandomState or Generator"
)


def scoring(value: Any) -> bool:
    if value is None or callable(value):
        return True
    return isinstance(value, str) and value in scoring.allowed  # type: ignore[attr-defined]


def _scorer_names() -> tuple[str, ...]:
    from sklearn.metrics import get_scorer_names

    return ("loss", *get_scorer_names())


scoring.allowed = _scorer_names()  # type: ignore[attr-defined]
scoring.text = (  # type: ignore[attr-defined]
    "None (the estimator's score), 'loss', the name of a scikit-learn scorer "
    "(sklearn.metrics.get_scorer_names()) or a callable scorer(estimator, X, y)"
)


def check_params(owner: str, params: dict[str, Any], rules: dict[str, Rule]) -> None:
    """Raise ``InvalidParameterError`` for the first parameter that breaks its rule."""
    for name, rule in rules.items():
        value = params[name]
        if rule(value):
            continue
        message = f"{owner}: the {name!r} parameter must be {rule.text}; got {value!r}."  # type: ignore[attr-defined]
        if name == "hidden_layer_sizes" and value in ("squared_error", "poisson"):
            message += (
                f" In layerkit, loss is a keyword argument: {owner}(loss={value!r}) (scikit-"
                "learn's MLPRegressor takes it as the first positional argument)."
            )
        raise InvalidParameterError(message + _hint(name, value, getattr(rule, "allowed", ())))


def _class_hint(name: str, value: Any) -> str:
    """A layerkit class where its object goes (``layers=[Dense, ReLU]``, ``loss=
    SquaredError``, ``solver=Adam``): the fix."""
    from ..layers import Layer
    from ..losses import Loss
    from ..optim import Optimizer

    base = {"layers": Layer, "loss": Loss, "solver": Optimizer}[name]
    items = value if name == "layers" and isinstance(value, (list, tuple)) else [value]
    given = [v.__name__ for v in items if isinstance(v, type) and issubclass(v, base)]
    if not given:
        return ""
    if name == "layers":
        listed = "" if isinstance(value, (list, tuple)) else ", in a list"
        return (
            f" {', '.join(given)} {'is a class' if len(given) == 1 else 'are classes'}: "
            f"pass layer objects{listed}, as in layers=[{given[0]}(...)]."
        )
    return f" {given[0]} is a class: pass an instance, {name}={given[0]}(...)."


def _hint(name: str, value: Any, allowed: Sequence[str]) -> str:
    """What the user likely meant by a refused value, or ""."""
    if name == "learning_rate" and isinstance(value, numbers.Real):
        return " The step size is learning_rate_init; learning_rate names its schedule."
    if name in ("layers", "loss", "solver"):
        hint = _class_hint(name, value)
        if hint:
            return hint
    if not isinstance(value, str) or not allowed:
        return ""
    if name == "solver":  # an optimizer class's name: the object is what it takes
        from .._configurable import registered

        classes = {n.lower(): n for n in registered("optimizer")}
        if value.lower() in classes and value.lower() not in allowed:
            cls = classes[value.lower()]
            return f" {cls} is an optimizer class: pass an instance, solver={cls}(...)."
    if name == "loss" and value.lower().replace("-", "_") in _LOSSES_TO_WRITE:
        return (
            f" layerkit has no built-in {value!r} loss: write it as a Loss subclass (the "
            "Huber loss in docs/extending.md shows how, gradient check included) and pass "
            "the object, loss=YourLoss()."
        )
    close = _suggestion(value, allowed)
    return f" Did you mean {close!r}?" if close else ""


#: Losses of scikit-learn and other libraries that layerkit does not build in (a close
#: spelling, 'absolute_error' -> 'squared_error', would suggest another loss).
_LOSSES_TO_WRITE = frozenset(
    {"absolute_error", "mae", "l1", "huber", "smooth_l1", "quantile", "pinball", "gamma"}
    | {"tweedie", "log_cosh", "logcosh", "hinge", "squared_hinge", "epsilon_insensitive"}
)


#: Other names for allowed values (other libraries' spellings).
_ALIASES = {
    "swish": "silu",
    "sigmoid": "logistic",
    "linear": "identity",
    "leakyrelu": "leaky_relu",
    "squared": "squared_error",
    "mse": "squared_error",
}


def _suggestion(value: str, allowed: Any) -> str | None:
    """The allowed value meant: the same but for case, another library's name for it,
    or the closest spelling."""
    folded = {str(a).lower(): a for a in allowed}
    key = value.lower().replace("-", "_")
    for guess in (key, _ALIASES.get(key.replace("_", ""), ""), _ALIASES.get(key, "")):
        if guess in folded:
            return str(folded[guess])
    close = difflib.get_close_matches(value, [str(a) for a in allowed], n=1, cutoff=0.5)
    return close[0] if close else None
