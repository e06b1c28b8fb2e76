"""layerkit: neural networks as pluggable, gradient-checked layers for scikit-learn."""

__version__ = "0.1.0"

from ._configurable import RegistryError
from ._configurable import register_class as register
from .estimators import InvalidParameterError, MLPClassifier, MLPRegressor
from .exceptions import ModelFileError
from .io import load, save
from .network import Sequential

__all__ = [
    "InvalidParameterError",
    "MLPClassifier",
    "MLPRegressor",
    "ModelFileError",
    "RegistryError",
    "Sequential",
    "__version__",
    "load",
    "register",
    "save",
]
