"""The drop-in promise: same parameters, defaults, attributes and methods as scikit-learn."""

import inspect

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_regression
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor

from layerkit import InvalidParameterError, MLPClassifier, MLPRegressor, Sequential

PAIRS = [(MLPClassifier, SkClassifier), (MLPRegressor, SkRegressor)]


@pytest.mark.parametrize(("ours", "theirs"), PAIRS)
def test_every_scikit_learn_parameter_with_the_same_default(ours, theirs):
    mine = inspect.signature(ours).parameters
    for name, p in inspect.signature(theirs).parameters.items():
        assert name in mine, name
        assert mine[name].default == p.default, name


def test_regressor_loss_is_keyword_only():
    params = inspect.signature(MLPRegressor).parameters
    assert params["loss"].kind is inspect.Parameter.KEYWORD_ONLY
    assert MLPRegressor((50,)).hidden_layer_sizes == (50,)


def test_pluggable_parameters_exist():
    assert {"layers", "loss", "class_weight"} <= set(inspect.signature(MLPClassifier).parameters)
    assert {"layers", "loss"} <= set(inspect.signature(MLPRegressor).parameters)


def test_init_stores_arguments_untouched():
    layers = [object()]  # even nonsense is stored as is; fit validates
    est = MLPClassifier(hidden_layer_sizes=[3, 4], layers=layers, alpha=-1)
    assert est.layers is layers and est.alpha == -1 and est.hidden_layer_sizes == [3, 4]


SK_ATTRIBUTES = [
    "coefs_",
    "intercepts_",
    "loss_",
    "loss_curve_",
    "best_loss_",
    "n_iter_",
    "t_",
    "n_layers_",
    "n_outputs_",
    "out_activation_",
    "n_features_in_",
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_fitted_attributes_match_scikit_learn(solver):
    X, y = load_iris(return_X_y=True)
    ours = MLPClassifier((7, 5), solver=solver, max_iter=30, random_state=0).fit(X, y)
    theirs = SkClassifier((7, 5), solver=solver, max_iter=30, random_state=0).fit(X, y)
    for name in SK_ATTRIBUTES:
        if hasattr(theirs, name):
            assert hasattr(ours, name), name
    assert [c.shape for c in ours.coefs_] == [c.shape for c in theirs.coefs_]
    assert [b.shape for b in ours.intercepts_] == [b.shape for b in theirs.intercepts_]
    assert (ours.n_layers_, ours.n_outputs_, ours.out_activation_) == (
        theirs.n_layers_,
        theirs.n_outputs_,
        theirs.out_activation_,
    )
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    assert isinstance(ours.network_, Sequential)
    if solver != "lbfgs":
        assert ours.t_ == theirs.t_ == 30 * len(X)
        assert len(ours.loss_curve_) == ours.n_iter_ == 30


def test_coefs_are_the_live_network_arrays():
    X, y = load_iris(return_X_y=True)
    est = MLPClassifier((5,), max_iter=5, random_state=0)
    with pytest.warns(Warning):
        est.fit(X, y)
    dense = est.network_.layers[0]
    assert est.coefs_[0] is dense.params["W"]
    assert est.intercepts_[0] is dense.params["b"]
    before = est.predict_proba(X[:3])
    est.coefs_[-1][...] = 0
    est.intercepts_[-1][...] = 0
    np.testing.assert_allclose(
        est.predict_proba(X[:3]), 1 / 3
    )  # writing into them changes the model
    assert not np.allclose(before, 1 / 3)


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        (
            {"activation": "rleu"},
            r"'activation' parameter must be one of .*got 'rleu'\. Did you mean 'relu'\?",
        ),
        (
            {"solver": "sdg"},
            r"'solver' parameter must be one of 'lbfgs', 'sgd', 'adam' or a layerkit Optimizer; got 'sdg'\. Did you mean 'sgd'\?",
        ),
        ({"learning_rate": "adaptiv"}, r"Did you mean 'adaptive'\?"),
        ({"alpha": -1.0}, r"'alpha' parameter must be a float in \[0, inf\); got -1\.0"),
        (
            {"batch_size": 0},
            r"'batch_size' parameter must be one of 'auto' or an int in \[1, inf\); got 0",
        ),
        (
            {"hidden_layer_sizes": (3, 0)},
            r"'hidden_layer_sizes' parameter must be a positive int or a sequence",
        ),
        ({"momentum": 1.5}, r"'momentum' parameter must be a float in \[0, 1\]; got 1\.5"),
        ({"max_iter": 2.5}, r"'max_iter' parameter must be an int in \[1, inf\); got 2\.5"),
        (
            {"layers": ["Dense"]},
            r"'layers' parameter must be None or a list of layerkit Layer objects",
        ),
        (
            {"loss": "hinge"},
            r"'loss' parameter must be one of 'log_loss' or a layerkit Loss; got 'hinge'",
        ),
        ({"class_weight": "balance"}, r"Did you mean 'balanced'\?"),
    ],
)
def test_bad_hyperparameters_are_refused_in_fit_with_a_suggestion(params, pattern):
    X, y = load_iris(return_X_y=True)
    est = MLPClassifier(**params)
    with pytest.raises(InvalidParameterError, match=pattern):
        est.fit(X, y)
    assert not hasattr(est, "network_")


def test_invalid_parameter_error_is_both_value_and_type_error():
    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(InvalidParameterError, TypeError)


def test_regressor_loss_names_are_validated():
    X, y = make_regression(50, 3, random_state=0)
    with pytest.raises(InvalidParameterError, match=r"Did you mean 'poisson'\?"):
        MLPRegressor(loss="poison").fit(X, y)


def test_partial_fit_is_absent_for_lbfgs():
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    assert hasattr(MLPClassifier(solver="sgd"), "partial_fit")
