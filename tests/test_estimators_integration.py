"""Pipelines, ColumnTransformer, grid and randomized search, clone, pickle and joblib."""

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy.stats import loguniform
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris, make_regression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from layerkit import MLPClassifier, MLPRegressor
from layerkit.layers import Dense, Dropout, LeakyReLU, ReLU, Tanh
from layerkit.optim import SGD, Optimizer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def test_pipeline_with_a_scaler(iris):
    X, y = iris
    clf = MLPClassifier((10,), learning_rate_init=0.01, max_iter=300, random_state=0)
    pipe = make_pipeline(StandardScaler(), clf)
    assert pipe.fit(X, y).score(X, y) > 0.95


def test_column_transformer_on_a_dataframe():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=300),
            "weight": rng.normal(size=300),
            "colour": rng.choice(["red", "green", "blue"], 300),
        }
    )
    y = (frame["size"] + (frame["colour"] == "red") > 0.5).astype(int)
    pre = ColumnTransformer(
        [("num", StandardScaler(), ["size", "weight"]), ("cat", OneHotEncoder(), ["colour"])]
    )
    pipe = make_pipeline(pre, MLPClassifier((16,), solver="lbfgs", random_state=0))
    assert pipe.fit(frame, y).score(frame, y) > 0.95


GRID = {
    "hidden_layer_sizes": [(5,), (10,)],
    "alpha": [1e-4, 1e-2],
    "learning_rate_init": [1e-3, 1e-2],
}


def _grid_search(n_jobs, iris):
    X, y = iris
    search = GridSearchCV(MLPClassifier(max_iter=50, random_state=0), GRID, cv=3, n_jobs=n_jobs)
    return search.fit(X, y)


def test_grid_search_over_scikit_learn_parameters_is_the_same_with_two_jobs(iris):
    one = _grid_search(1, iris)
    two = _grid_search(2, iris)
    assert len(one.cv_results_["params"]) == 8
    np.testing.assert_array_equal(
        one.cv_results_["mean_test_score"], two.cv_results_["mean_test_score"]
    )
    assert one.best_params_ == two.best_params_


def test_grid_search_over_layer_lists(iris):
    X, y = iris
    candidates = [
        [Dense(8), ReLU()],
        [Dense(8), Tanh(), Dense(4), Tanh()],
        [Dense(16), LeakyReLU(0.1), Dense(8), ReLU()],
    ]
    search = GridSearchCV(
        MLPClassifier(solver="lbfgs", random_state=0), {"layers": candidates}, cv=3, n_jobs=2
    )
    search.fit(X, y)
    assert search.best_score_ > 0.9
    assert all(not layer.params for cand in candidates for layer in cand)  # untouched
    assert repr(search.best_estimator_.layers) in [repr(c) for c in candidates]
    assert repr(search.best_params_["layers"]) == repr(search.best_estimator_.layers)


class _Clipped(Optimizer, register=False):
    """Clips the gradients, then steps with ``inner``: a wrapper optimizer."""

    def __init__(self, inner: Optimizer | None = None, clip: float = 1.0):
        self.inner = inner if inner is not None else SGD(0.1)
        self.clip = clip

    @property
    def current_learning_rate(self):
        return self.inner.current_learning_rate

    @current_learning_rate.setter
    def current_learning_rate(self, value):
        self.inner.current_learning_rate = value

    def step(self, params, grads):
        self.inner.step(params, {k: np.clip(g, -self.clip, self.clip) for k, g in grads.items()})


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_reaches_the_arguments_of_an_optimizers_argument(iris):
    """(`solver__inner__learning_rate` was refused: the optimizer has no parameter
    'inner__learning_rate')"""
    X, y = iris
    mine = _Clipped(SGD(0.1))
    grid = {"solver__inner__learning_rate": [0.001, 0.1]}
    search = GridSearchCV(
        MLPClassifier((5,), solver=mine, max_iter=20, random_state=0), grid, cv=2
    )
    search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] != scores[1]
    assert (
        search.best_estimator_.solver.inner.learning_rate
        == search.best_params_["solver__inner__learning_rate"]
    )
    assert mine.inner.learning_rate == 0.1  # (searches clone: the user's object is left alone)
    with pytest.raises(
        ValueError, match=r"_Clipped has no parameter 'clip__x': its argument 'clip' is 1.0"
    ):
        mine.set_params(clip__x=1)
    for bad in (
        {"inner__learning_rate": 0.5, "clip": "bad"},
        {"inner__momentum": 0.5, "inner__learning_rate": -1},
    ):
        with pytest.raises(ValueError):
            mine.set_params(**bad)
        assert (mine.inner.learning_rate, mine.inner.momentum, mine.clip) == (0.1, 0.0, 1.0)


def test_randomized_search(iris):
    X, y = iris
    search = RandomizedSearchCV(
        MLPClassifier(max_iter=50, random_state=0),
        {
            "alpha": loguniform(1e-5, 1e-1),
            "learning_rate_init": loguniform(1e-3, 1e-1),
            "hidden_layer_sizes": [(5,), (10,), (10, 5)],
        },
        n_iter=4,
        cv=3,
        random_state=0,
    )
    assert search.fit(X, y).best_score_ > 0.8


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_clone_pickle_and_joblib_round_trip(Est, tmp_path, iris):
    X, y = iris
    if Est is MLPRegressor:
        X, y = make_regression(100, 4, random_state=0)
        y = y / y.std()
    est = Est(layers=[Dense(6), Tanh(), Dropout(0.1)], max_iter=20, random_state=0).fit(X, y)
    predict = est.predict_proba if Est is MLPClassifier else est.predict
    expected = predict(X)
    unfitted = clone(est)
    assert not hasattr(unfitted, "network_")
    assert unfitted.get_params()["random_state"] == 0
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(
        (restored.predict_proba if Est is MLPClassifier else restored.predict)(X), expected
    )
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    again = joblib.load(path)
    np.testing.assert_array_equal(
        (again.predict_proba if Est is MLPClassifier else again.predict)(X), expected
    )
    assert again.coefs_[0] is again.network_.layers[0].params["W"]  # still live
    refit = clone(est).fit(X, y)  # a clone refits to the same model
    np.testing.assert_array_equal(refit.coefs_[0], est.coefs_[0])


def test_pickle_does_not_carry_the_last_batch(iris):
    X, y = iris
    est = MLPClassifier((5,), max_iter=5, random_state=0).fit(X, y)
    est.predict(np.repeat(X, 50, axis=0))
    small = len(pickle.dumps(est))
    assert small < 20_000, small


def _scale_class_of_a_script(**registration):
    """A layer class made in a function: cloudpickle sends it by value, as one of a
    script or notebook."""
    from layerkit.layers import Layer

    class Scale(Layer, **registration):
        def __init__(self, k: float = 1.0):
            self.k = k

        def forward(self, x, training=False):
            return x * self.k

        def backward(self, delta):
            return delta * self.k

    return Scale


def test_classes_of_a_script_with_their_own_init_reach_joblibs_workers():
    """(a trial: a layer defined in a script or notebook, with an __init__ of its own,
    failed cross_val_score(n_jobs=2) with "cannot pickle '_contextvars.ContextVar'": the
    class goes to the workers by value (cloudpickle), with the wrapper layerkit puts
    around its __init__ and what that reads). Classes defined here, in a function, are
    sent by value too."""
    cloudpickle = pytest.importorskip("cloudpickle")
    from sklearn.model_selection import cross_val_score

    from layerkit.losses import SquaredError

    Scale = _scale_class_of_a_script(register=False)

    class Halved(SquaredError, register=False):
        def __init__(self, factor: float = 0.5):
            self.factor = factor

    class Slow(SGD, register=False):
        def __init__(self, learning_rate: float = 0.01, slowdown: float = 2.0):
            super().__init__(learning_rate)
            self.slowdown = slowdown

    for obj in (Scale(2.0), Halved(0.25), Slow(0.1, 3.0)):
        again = cloudpickle.loads(cloudpickle.dumps(obj))
        assert again.get_params() == obj.get_params()
    X, y = load_iris(return_X_y=True)
    mlp = MLPClassifier(layers=[Dense(8), Scale(2.0)], max_iter=20, random_state=0)
    serial = cross_val_score(mlp, X, y, cv=3, n_jobs=1)
    np.testing.assert_array_equal(cross_val_score(mlp, X, y, cv=3, n_jobs=2), serial)


def test_a_model_back_from_a_worker_leaves_its_classes_registry_entry_alone(tmp_path):
    """(a review: cloudpickle rebuilds a script's class by first making an empty shell of
    it, which replaced the class in the registry, as a notebook cell run again does; it
    then keeps this process's class, so saving the model, or loading any file naming
    the class, failed for the rest of the session)"""
    cloudpickle = pytest.importorskip("cloudpickle")
    import layerkit
    from layerkit._configurable import _REGISTRY

    ShellScale = _scale_class_of_a_script(register=True, name="ShellScale")
    try:
        X, y = load_iris(return_X_y=True)
        mlp = MLPClassifier(layers=[Dense(8), ShellScale(2.0)], max_iter=5, random_state=0)
        with pytest.warns(Warning):  # (ConvergenceWarning)
            mlp.fit(X, y)
        before = dict(_REGISTRY["layer"])
        back = cloudpickle.loads(cloudpickle.dumps(mlp))  # as cross_validate's estimators
        assert _REGISTRY["layer"] == before  # (no shell in it, under any name)
        assert type(back.network_.layers[1]) is ShellScale
        loaded = layerkit.load(layerkit.save(back, tmp_path / "back.lkm"))
        np.testing.assert_array_equal(loaded.predict_proba(X), mlp.predict_proba(X))
    finally:
        _REGISTRY["layer"].pop("ShellScale", None)
