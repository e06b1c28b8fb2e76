"""layerkit: neural networks as pluggable, gradient-checked layers for scikit-learn.

The names below are imported on first use (PEP 562), so that ``import layerkit`` and the
``layerkit`` command's ``--help`` do not pay for importing scikit-learn and SciPy.
"""

from __future__ import annotations

import threading as _threading
from importlib import import_module as _import_module
from typing import TYPE_CHECKING

__version__ = "0.3.0.dev0"

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
    {
        "callbacks",
        "estimators",
        "gradcheck",
        "io",
        "layers",
        "losses",
        "network",
        "optim",
        "plotting",
    }
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


#: one first import at a time: two threads importing the estimators and the plotting
#: module at once (they import each other) met a partly initialized module
_IMPORTING = _threading.RLock()

if not TYPE_CHECKING:  # (type checkers see the imports below, and flag a misspelt name)

    def __getattr__(name):
        where = _WHERE.get(name)
        if where is None and name not in _SUBPACKAGES:
            raise AttributeError(f"module 'layerkit' has no attribute {name!r}")
        with _IMPORTING:
            value = globals().get(name)  # (another thread may have imported it meanwhile)
            if value is None:
                if where is not None:
                    value = getattr(_import_module(where[0], __name__), where[1])
                else:  # ``import layerkit; layerkit.layers.Dense`` as before
                    value = _import_module(f".{name}", __name__)
                globals()[name] = value  # imported once: later lookups skip this function
        return value

    def __dir__():
        public = {k for k in globals() if not k.startswith("_")} - {"TYPE_CHECKING"}
        return sorted(public | set(_WHERE) | _SUBPACKAGES | {"__version__"})


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
