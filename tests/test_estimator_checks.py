"""scikit-learn's own estimator checks (legacy=True) on four configurations of each estimator."""

import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from layerkit import MLPClassifier, MLPRegressor
from layerkit.layers import Dense, Dropout, ReLU

_DROPOUT = "Dropout draws one mask for a row with weight 2 but two masks for the row repeated"
_REASON = (
    "minibatch solver (adam) with Dropout: sample-weight equivalence cannot hold. " + _DROPOUT
)


def _dropout_layers():
    return [Dense(32), ReLU(), Dropout(0.1)]


ESTIMATORS = [
    MLPClassifier(),
    MLPClassifier(solver="sgd"),
    MLPClassifier(solver="lbfgs"),
    MLPClassifier(layers=_dropout_layers(), learning_rate_init=0.01),
    MLPRegressor(),
    MLPRegressor(solver="sgd"),
    MLPRegressor(solver="lbfgs"),
    MLPRegressor(layers=_dropout_layers(), learning_rate_init=0.01),
]


def expected_failures(estimator):
    if estimator.layers is None:
        return {}
    return {
        "check_sample_weight_equivalence_on_dense_data": _REASON,
        "check_sample_weight_equivalence_on_sparse_data": _REASON,
    }


def _checks():
    """scikit-learn's parametrization, as a list (before 1.8 it hands pytest a generator,
    which pytest 9 deprecates)."""
    mark = parametrize_with_checks(
        ESTIMATORS, legacy=True, expected_failed_checks=expected_failures
    )
    names, values = mark.args
    return pytest.mark.parametrize(names, list(values), **mark.kwargs)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@_checks()
def test_sklearn_compatible(estimator, check):
    check(estimator)


assert ConvergenceWarning  # imported for the filter's sake
