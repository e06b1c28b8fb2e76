"""scikit-learn estimators: the only part of layerkit that imports scikit-learn."""

from ._classifier import MLPClassifier
from ._regressor import MLPRegressor
from ._validation import InvalidParameterError

__all__ = ["InvalidParameterError", "MLPClassifier", "MLPRegressor"]
