"""layerkit: neural networks as pluggable, gradient-checked layers for scikit-learn."""

from .estimators import InvalidParameterError, MLPClassifier, MLPRegressor
from .network import Sequential

__version__ = "0.1.0"

__all__ = ["InvalidParameterError", "MLPClassifier", "MLPRegressor", "Sequential", "__version__"]
