"""scikit-learn estimators: MLPClassifier and MLPRegressor."""

from ._classifier import MLPClassifier
from ._regressor import MLPRegressor
from ._validation import InvalidParameterError

__all__ = ["InvalidParameterError", "MLPClassifier", "MLPRegressor"]
