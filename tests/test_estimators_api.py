"""The drop-in promise: same parameters, defaults, attributes and methods as scikit-learn."""

import inspect
import re

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_regression
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor

from layerkit import InvalidParameterError, MLPClassifier, MLPRegressor, Sequential
from layerkit.layers import Dense, Dropout, ReLU
from layerkit.optim import SGD, Adam

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
# (scikit-learn 1.6's own lbfgs passes scipy options newer scipys deprecate)
@pytest.mark.filterwarnings("ignore:scipy.optimize.*iprint:DeprecationWarning")
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
        ({"activation": "Gelu"}, r"Did you mean 'gelu'\?"),  # (not 'elu', the closest)
        ({"activation": "swish"}, r"Did you mean 'silu'\?"),  # another library's name
        ({"activation": "sigmoid"}, r"Did you mean 'logistic'\?"),
    ],
)
def test_bad_hyperparameters_are_refused_in_fit_with_a_suggestion(params, pattern):
    X, y = load_iris(return_X_y=True)
    est = MLPClassifier(**params)
    with pytest.raises(InvalidParameterError, match=pattern):
        est.fit(X, y)
    assert not hasattr(est, "network_")


def _float_parameters(Estimator):
    """The estimator's float hyperparameters: those whose default is a float."""
    return [
        name
        for name, param in inspect.signature(Estimator).parameters.items()
        if isinstance(param.default, float)
    ]


FLOAT_PARAMETERS = sorted(set(_float_parameters(MLPClassifier) + _float_parameters(MLPRegressor)))


def test_the_float_parameters_are_the_expected_ones():
    expected = ["alpha", "beta_1", "beta_2", "epsilon", "learning_rate_init", "momentum"]
    expected += ["power_t", "tol", "validation_fraction"]
    assert sorted(expected) == FLOAT_PARAMETERS


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), np.float32("nan")])
@pytest.mark.parametrize("name", FLOAT_PARAMETERS)
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_nan_and_infinite_float_parameters_are_refused_before_training(Estimator, name, value):
    # NaN passes every comparison an interval makes; scikit-learn refuses it, and inf
    X, y = load_iris(return_X_y=True)
    est = Estimator((4,), max_iter=2, early_stopping=True, **{name: value})
    est._fit_unchecked = None  # (training would call it: it must not be reached)
    allowed = r"a float in [\[(]\S+, \S+[\])]"  # (the range, e.g. [0, inf))
    pattern = rf"{Estimator.__name__}: the '{name}' parameter must be {allowed}; got "
    pattern += re.escape(f"{value!r}.")
    with pytest.raises(InvalidParameterError, match=pattern):
        est.fit(X, y)
    assert not hasattr(est, "network_")


def _changed(obj, **attributes):
    """``obj`` with attributes set after construction, bypassing its checks."""
    obj.__dict__.update(attributes)
    return obj


@pytest.mark.parametrize(
    "params, pattern",
    [
        (
            lambda: {"solver": _changed(Adam(), learning_rate=-1.0)},
            r"solver has an invalid argument .*Adam: learning_rate must be greater than 0",
        ),
        (
            lambda: {"layers": [Dense(8), ReLU(), _changed(Dropout(0.1), rate=1.5)]},
            r"layers\[2\] has an invalid argument .*Dropout: rate must be less than 1, got 1.5",
        ),
        (lambda: {"layers": [_changed(Dense(8), units=-5)]}, r"layers\[0\].*units must be"),
        (lambda: {"layers": [_changed(Dense(8), units=2.5)]}, r"layers\[0\].*valid integer"),
        (lambda: {"layers": [_changed(Dense(8), init="bogus")]}, r"init must be 'glorot_uniform'"),
        (lambda: {"solver": _changed(SGD(), learning_rate="0.1")}, r"SGD: learning_rate must be"),
    ],
)
def test_an_object_changed_after_construction_is_checked_at_fit(params, pattern):
    X, y = load_iris(return_X_y=True)
    est = MLPClassifier(max_iter=2, **params())
    with pytest.raises(InvalidParameterError, match=pattern):
        est.fit(X, y)
    assert not hasattr(est, "network_")


def test_a_layer_changed_after_construction_is_checked_at_build():
    with pytest.raises(ValueError, match=r"position 1: Dense: units must be greater than"):
        Sequential([Dense(3), _changed(Dense(2), units=0)]).build(4)


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


@pytest.mark.parametrize("n_classes", [3, 80])  # short rows (max by columns) and long ones
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_proba_is_the_log_softmax_of_the_logits(n_classes, dtype):
    from scipy.special import log_softmax

    from layerkit.estimators._classifier import _log_softmax_in_place

    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, n_classes)).astype(dtype)
    z[:2] *= 1e4  # rows far from zero: the max must come out first
    z[2, 1] = np.nan  # a NaN row stays NaN
    got = _log_softmax_in_place(z.copy())
    expected = log_softmax(z.astype(np.float64), axis=1)
    assert np.isnan(got[2]).all()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4 * (dtype == np.float32))
    X = rng.normal(size=(40 * n_classes, 6)).astype(dtype)
    y = np.arange(len(X)) % n_classes
    est = MLPClassifier((8,), max_iter=200, tol=0.1, random_state=0).fit(X, y)
    logits = est.network_.predict(X, logits=True).astype(np.float64)
    np.testing.assert_allclose(est.predict_log_proba(X), log_softmax(logits, axis=1), rtol=1e-5)
    np.testing.assert_allclose(est.predict_proba(X).sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    "name, kind",
    [
        ("leaky_relu", "LeakyReLU"),
        ("elu", "ELU"),
        ("gelu", "GELU"),
        ("silu", "SiLU"),
        ("softplus", "Softplus"),
    ],
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_layerkit_activations_by_name(name, kind):
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier((6, 5), activation=name, solver="lbfgs", max_iter=200, random_state=0)
    clf.fit(X, y)
    names = [type(layer).__name__ for layer in clf.network_.layers]
    assert names == ["Dense", kind, "Dense", kind, "Dense", "Softmax"]
    assert clf.score(X, y) > 0.9


def test_the_notebook_display_marks_only_the_parameters_set():
    import re

    from layerkit import MLPClassifier
    from layerkit.layers import Dense, ReLU
    from layerkit.optim import Adam

    html = MLPClassifier(layers=[Dense(4), ReLU()], solver=Adam(0.1), max_iter=5)._repr_html_()
    rows = re.findall(
        r'<tr class="(user-set|default)">.*?<td class="param">(.*?)</td>', html, re.S
    )
    if not rows and "user-set" not in html:
        pytest.skip("this scikit-learn's display has no table of parameters (1.7 added it)")
    names = {re.sub(r"<[^>]+>|&nbsp;", " ", cell).split()[0]: kind for kind, cell in rows}
    assert {n for n, kind in names.items() if kind == "user-set"} == {
        "layers",
        "solver",
        "max_iter",
    }
    assert not [n for n in names if "__" in n]  # (solver__beta_1 was marked as set)


@pytest.mark.parametrize(
    ("params", "hint"),
    [
        ({"solver": "adamw"}, r"AdamW is an optimizer class: pass an instance, solver=AdamW"),
        ({"solver": "ADAMW"}, r"solver=AdamW\(\.\.\.\)"),
        ({"learning_rate": 0.01}, r"The step size is learning_rate_init"),
        ({"solver": "adma"}, r"Did you mean 'adam'\?"),
        ({"layers": "classes"}, r"Dense, ReLU are classes: pass layer objects, as in layers="),
        ({"layers": "class"}, r"Dense is a class: pass layer objects, in a list, as in layers"),
        ({"loss": "class"}, r"CategoricalCrossEntropy is a class: pass an instance, loss="),
        ({"solver": "class"}, r"Adam is a class: pass an instance, solver=Adam\(\.\.\.\)\."),
        ({"layers": "int"}, r"objects; got \[<class 'int'>\]\.$"),  # (no hint for int)
    ],
)
def test_a_refused_value_says_what_was_likely_meant(params, hint):
    from layerkit import MLPClassifier
    from layerkit.layers import Dense, ReLU
    from layerkit.losses import CategoricalCrossEntropy
    from layerkit.optim import Adam

    stand_ins = {  # (a trial: classes where their objects go)
        ("layers", "classes"): [Dense, ReLU],
        ("layers", "class"): Dense,
        ("loss", "class"): CategoricalCrossEntropy,
        ("solver", "class"): Adam,
        ("layers", "int"): [int],
    }
    params = {k: stand_ins.get((k, v), v) for k, v in params.items()}

    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20) % 2
    with pytest.raises(ValueError, match=hint):
        MLPClassifier(**params).fit(X, y)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_partial_fit_with_lbfgs_is_absent_and_the_error_says_why(Estimator):
    est = Estimator(solver="lbfgs")
    assert not hasattr(est, "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as caught:
        est.partial_fit  # noqa: B018
    assert "solver='lbfgs' minimizes the full-batch loss: call fit" in str(caught.value.__cause__)
    assert hasattr(Estimator(solver="adam"), "partial_fit")


@pytest.mark.parametrize("loss", ["absolute_error", "huber", "Quantile"])
def test_a_loss_layerkit_does_not_build_in_points_at_writing_one(loss):
    """'absolute_error' was answered 'Did you mean squared_error?': another loss."""
    X, y = load_iris(return_X_y=True)
    with pytest.raises(InvalidParameterError) as caught:
        MLPRegressor(loss=loss).fit(X, y)
    message = str(caught.value)
    assert f"layerkit has no built-in {loss!r} loss: write it as a Loss subclass" in message
    assert "Did you mean" not in message


def test_one_layer_object_with_weights_at_two_positions_is_warned_of():
    """(a trial: meant as shared weights, it trained as two layers, silently; Sequential
    refuses it, and a parameter-free layer twice is two of them, rightly silent)"""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from layerkit.layers import Dense, ReLU, Tanh

    X = np.random.default_rng(0).random((50, 4))
    y = (X[:, 0] > 0.5).astype(int)
    relu, dense = ReLU(), Dense(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)  # (a UserWarning: after)
        MLPClassifier(layers=[Dense(4), relu, Dense(4), relu], max_iter=3).fit(X, y)
    layers = [Dense(4), relu, Dense(3), relu, dense, Tanh(), dense]
    match = r"the same Dense\(units=4\) object is at positions 4 and 6"
    with pytest.warns(UserWarning, match=match) as got, warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(layers=layers, max_iter=3).fit(X, y)
    assert [w.filename for w in got] == [__file__]  # (the user's call of fit)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_layers_of_a_fitted_network_are_said_to_start_afresh():
    """(a user's trial: layers taken from a fitted network, expecting transfer learning,
    were re-initialised silently)"""
    X, y = load_iris(return_X_y=True)
    fitted = MLPClassifier((8,), max_iter=20, random_state=0).fit(X, y)
    taken = fitted.network_.layers[:2]
    before = taken[0].params["W"].copy()
    with pytest.warns(
        UserWarning, match=r"layers\[0\] \(Dense\(units=8.*holds weights already"
    ) as got:
        again = MLPClassifier(layers=taken, max_iter=20, random_state=1).fit(X, y)
    said = [w.filename for w in got if "holds weights" in str(w.message)]
    assert said == [__file__]  # (once, at the user's call of fit)
    assert not np.array_equal(again.network_.layers[0].params["W"], before)
    np.testing.assert_array_equal(taken[0].params["W"], before)  # (theirs left as it was)
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # (unbuilt layers: no warning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(layers=[Dense(8), ReLU()], max_iter=2).fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_random_state_none_follows_numpys_global_seed(cls):
    """(a review: None drew fresh entropy, so np.random.seed did not make a script's runs
    repeat, as it does scikit-learn's: None means numpy's global RandomState there)"""
    X, y = load_iris(return_X_y=True)
    y = y if cls is MLPClassifier else y.astype(float)

    def fit():
        layers = [Dense(5), Dropout(0.2), ReLU()]
        est = cls(layers=layers, early_stopping=True, max_iter=5, n_iter_no_change=2)
        return est.fit(X, y).predict(X)

    np.random.seed(0)  # noqa: NPY002 (what a user of the global state writes)
    first, other = fit(), fit()
    np.random.seed(0)  # noqa: NPY002 (what a user of the global state writes)
    np.testing.assert_array_equal(fit(), first)  # initialization, shuffling, dropout, split
    assert not np.array_equal(other, first)  # the global state moved on
