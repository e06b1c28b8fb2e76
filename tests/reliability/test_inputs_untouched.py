"""Nothing of the caller's is mutated; read-only and memory-mapped inputs work."""

import warnings

import numpy as np
import pytest
from _same import assert_same, snapshot

from layerkit import MLPClassifier, MLPRegressor
from layerkit.layers import Dense, Dropout, ReLU
from layerkit.losses import SquaredError
from layerkit.optim import SGD, Adam

rng = np.random.default_rng(0)


SOLVERS = {
    "adam": lambda: Adam(0.01),
    "sgd": lambda: SGD(0.01),  # plain: the training plan steps with it itself
    "momentum": lambda: SGD(0.01, momentum=0.9, nesterov=True),
    "lbfgs": lambda: "lbfgs",
}


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_fit_and_predict_mutate_nothing(Est, solver):
    X = rng.normal(size=(50, 4))
    y = rng.integers(0, 3, 50) if Est is MLPClassifier else rng.normal(size=50)
    sw = rng.uniform(0.5, 2, 50)
    layers = [Dense(6), ReLU(), Dropout(0.1)]
    loss = SquaredError() if Est is MLPRegressor else None
    optimizer = SOLVERS[solver]()
    originals = [a.copy() for a in (X, y, sw)]
    objects = snapshot((layers, loss, optimizer))
    kwargs = {"loss": loss} if loss is not None else {}
    est = Est(layers=layers, solver=optimizer, max_iter=5, random_state=0, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y, sample_weight=sw)
        if solver != "lbfgs":  # and a continued fit, which carries the state on
            est.partial_fit(X, y, sample_weight=sw)
    est.predict(X)
    for a, b in zip((X, y, sw), originals, strict=True):
        np.testing.assert_array_equal(a, b)
    # every attribute of every object passed, recursively (an optimizer's state too)
    assert_same((layers, loss, optimizer), objects, "(layers, loss, solver)")
    assert all(not layer.params for layer in layers)
    if solver in ("adam", "momentum"):  # (the estimator's own copy did train)
        assert est._optimizer is not optimizer and est._optimizer.state


def test_read_only_and_memory_mapped_inputs(tmp_path):
    X = rng.normal(size=(60, 3))
    y = rng.integers(0, 2, 60)
    path = tmp_path / "X.npy"
    np.save(path, X)
    X_mm = np.load(path, mmap_mode="r")
    y_ro = y.copy()
    y_ro.flags.writeable = False
    sw = np.ones(60)
    sw.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = MLPClassifier((5,), max_iter=5, random_state=0).fit(X_mm, y_ro, sample_weight=sw)
        b = MLPClassifier((5,), max_iter=5, random_state=0).fit(X, y, sample_weight=np.ones(60))
    np.testing.assert_array_equal(a.predict_proba(X_mm), b.predict_proba(X))


class ClipsInPlace(ReLU, register=False):
    """A user's first layer that breaks the contract: it clips its input in place."""

    def forward(self, x, training=False):
        self.mask = np.abs(x) <= 0.5
        return np.clip(x, -0.5, 0.5, out=x)

    def backward(self, delta):
        return delta * self.mask


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
@pytest.mark.parametrize("shuffle", [True, False])
def test_a_users_layer_that_changes_its_input_cannot_change_yours(solver, shuffle):
    # before: predict (and fit with lbfgs) passed views of X to the first layer
    X = rng.normal(size=(60, 4))
    y = np.arange(60) % 3
    given = X.copy()
    clf = MLPClassifier(
        layers=[ClipsInPlace(), Dense(5)], solver=solver, shuffle=shuffle, max_iter=3
    )
    clf.fit(X, y)
    clf.predict(X)
    clf.predict_proba(X)
    np.testing.assert_array_equal(X, given)
