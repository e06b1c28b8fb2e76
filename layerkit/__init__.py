"""layerkit: neural networks as pluggable, gradient-checked layers for scikit-learn.

The names below are imported on first use (PEP 562), so that ``import layerkit`` and the
``layerkit`` command's ``--help`` do not pay for importing scikit-learn and SciPy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

#: public name -> (module, attribute)
_WHERE = {
    "DivergenceError": (".exceptions", "DivergenceError"),
    "GradientCheckError": (".gradcheck", "GradientCheckError"),
    "InvalidParameterError": (".estimators", "InvalidParameterError"),
    "LayerContractError": (".exceptions", "LayerContractError"),
    "LossCurveDisplay": (".plotting", "LossCurveDisplay"),
    "MLPClassifier": (".estimators", "MLPClassifier"),
    "MLPRegressor": (".estimators", "MLPRegressor"),
    "ModelFileError": (".exceptions", "ModelFileError"),
    "RegistryError": ("._configurable", "RegistryError"),
    "Sequential": (".network", "Sequential"),
    "TrainingInterrupted": (".exceptions", "TrainingInterrupted"),
    "check_layer": (".gradcheck", "check_layer"),
    "check_loss": (".gradcheck", "check_loss"),
    "check_network": (".gradcheck", "check_network"),
    "check_optimizer": (".gradcheck", "check_optimizer"),
    "load": (".io", "load"),
    "register": ("._configurable", "register_class"),
    "save": (".io", "save"),
}

#: the public subpackages and modules, imported on first use as attributes too
_SUBPACKAGES = frozenset(
    {"estimators", "gradcheck", "io", "layers", "losses", "network", "optim", "plotting"}
    | {"testing", "training", "exceptions"}
)

__all__ = [
    "DivergenceError",
    "GradientCheckError",
    "InvalidParameterError",
    "LayerContractError",
    "LossCurveDisplay",
    "MLPClassifier",
    "MLPRegressor",
    "ModelFileError",
    "RegistryError",
    "Sequential",
    "TrainingInterrupted",
    "__version__",
    "check_layer",
    "check_loss",
    "check_network",
    "check_optimizer",
    "load",
    "register",
    "save",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is not None:
        value = getattr(import_module(where[0], __name__), where[1])
    elif name in _SUBPACKAGES:  # ``import layerkit; layerkit.layers.Dense`` as before
        value = import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'layerkit' has no attribute {name!r}")
    globals()[name] = value  # imported once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE) | _SUBPACKAGES)


if TYPE_CHECKING:  # what type checkers and editors see
    from ._configurable import RegistryError
    from ._configurable import register_class as register
    from .estimators import InvalidParameterError, MLPClassifier, MLPRegressor
    from .exceptions import (
        DivergenceError,
        LayerContractError,
        ModelFileError,
        TrainingInterrupted,
    )
    from .gradcheck import (
        GradientCheckError,
        check_layer,
        check_loss,
        check_network,
        check_optimizer,
    )
    from .io import load, save
    from .network import Sequential
    from .plotting import LossCurveDisplay
