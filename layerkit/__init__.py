"""layerkit: neural networks as pluggable, gradient-checked layers for scikit-learn."""

__version__ = "0.2.0"

from ._configurable import RegistryError
from ._configurable import register_class as register
from .estimators import InvalidParameterError, MLPClassifier, MLPRegressor
from .exceptions import DivergenceError, LayerContractError, ModelFileError, TrainingInterrupted
from .gradcheck import GradientCheckError, check_layer, check_loss, check_network, check_optimizer
from .io import load, save
from .network import Sequential
from .plotting import LossCurveDisplay

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
