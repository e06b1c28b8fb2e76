"""Composite: a layer made of layers, checked, trained, searched, saved and loaded."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

import layerkit
from layerkit import MLPClassifier, MLPRegressor
from layerkit.gradcheck import check_layer
from layerkit.layers import BatchNorm, Composite, Dense, Dropout, Tanh


class CompositeTestResidual(Composite):
    """x + f(x)."""

    def forward(self, x, training=False):
        return x + self.net.forward(x, training)

    def backward(self, delta):
        return delta + self.net.backward(delta)


class CompositeTestGated(Composite):
    """f(x) * s, with an argument of its own."""

    def __init__(self, inner=None, scale=2.0):
        super().__init__(inner)
        self.scale = scale

    def forward(self, x, training=False):
        return self.scale * self.net.forward(x, training)

    def backward(self, delta):
        return self.net.backward(self.scale * delta)


@pytest.mark.parametrize(
    "block",
    [
        CompositeTestResidual([Dense(16), Tanh(), Dense(8)]),
        CompositeTestResidual([Dense(16), BatchNorm(), Tanh(), Dropout(0.2), Dense(8)]),
        CompositeTestGated([Dense(5), Tanh()], scale=0.5),
    ],
    ids=["residual", "residual with state and dropout", "own argument"],
)
def test_a_composite_passes_every_check_of_the_layer_contract(block):
    x = np.random.default_rng(0).normal(size=(6, 8))
    report = check_layer(block, x)
    assert not report.failed
    assert {"0.W", "0.b"} <= set(report.errors)


def test_a_composite_trains_searches_saves_and_resumes_exactly(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    block = CompositeTestResidual([Dense(8), BatchNorm(), Tanh(), Dense(6)])
    clf = MLPClassifier(layers=[Dense(6), block], alpha=0.1, max_iter=5, random_state=0)
    assert "layers__1__inner__0__units" in clf.get_params()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(clf, {"layers__1__inner__0__units": [4, 8]}, cv=2).fit(X, y)
        fitted = clone(clf).fit(X, y)
        loaded = layerkit.load(layerkit.save(fitted, tmp_path / "composite.lkm"))
        np.testing.assert_array_equal(fitted.predict_proba(X), loaded.predict_proba(X))
        inner = loaded.network_.layers[1]
        assert inner.params["0.W"] is inner.net.layers[0].params["W"]
        assert np.any(inner.inner_1_running_mean != 0)  # (the inner state, saved)
        for model in (fitted, loaded):
            model.partial_fit(X, y)
    assert search.best_params_["layers__1__inner__0__units"] in (4, 8)
    np.testing.assert_array_equal(fitted.predict_proba(X), loaded.predict_proba(X))
    assert fitted.network_.layers[1].penalized == ("0.W", "3.W")


def test_alpha_reaches_the_inner_weights():
    """(penalized, prefixed as the params are: the L2 term counts them too)"""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 4))
    losses, nets = [], []
    for alpha in (0.0, 10.0):
        block = CompositeTestResidual([Dense(4)])
        reg = MLPRegressor(
            layers=[block], alpha=alpha, solver="sgd", learning_rate_init=1e-12, max_iter=1
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            reg.set_params(random_state=0).fit(X, X.sum(axis=1))
        losses.append(reg.loss_curve_[0])
        nets.append(reg.network_)
    squares = sum(float(np.sum(nets[1].params[k] ** 2)) for k in ("0.0.W", "1.W"))
    np.testing.assert_allclose(losses[1] - losses[0], 10.0 / (2 * 80) * squares, rtol=1e-6)


def test_a_composite_without_inner_layers_is_refused_with_its_name():
    with pytest.raises(TypeError, match=r"CompositeTestResidual: inner must be a non-empty"):
        CompositeTestResidual().build(3, np.random.default_rng(0), np.float64)


class CompositeTestCenter(layerkit.layers.Layer):
    """x minus a running mean that forward replaces (rebinds) rather than updates."""

    state_attributes = ("running_mean",)

    def build(self, n_in, rng, dtype=np.float64):
        self.running_mean = np.zeros(n_in, dtype)
        return n_in

    def forward(self, x, training=False):
        out = x - self.running_mean
        if training:
            self.running_mean = 0.9 * self.running_mean + 0.1 * x.mean(axis=0)
        return out

    def backward(self, delta):
        return delta


def test_the_inner_state_is_followed_when_an_inner_layer_replaces_its_array(tmp_path):
    """(a review: the block held the arrays of build, and saved a stale running mean
    after the inner layer had put new ones in its place: predictions moved by 1.54)"""
    X = np.random.default_rng(0).normal(size=(100, 4)) + 5
    block = Composite([CompositeTestCenter(), Dense(8), Tanh()])
    reg = MLPRegressor(layers=[block], max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, X.sum(axis=1))
    inner = reg.network_.layers[0]
    assert inner.inner_0_running_mean is inner.net.layers[0].running_mean
    loaded = layerkit.load(layerkit.save(reg, tmp_path / "center.lkm"))
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


def test_one_layer_object_inside_two_blocks_is_refused():
    """(a review: one Dense in two blocks was one set of weights stepped twice, with
    one pass's caches read by the other's backward: 4 of 6 gradient arrays wrong,
    silently; a skip connection referring to another layer of the network stays fine)"""
    from layerkit import Sequential

    shared = Dense(4)
    with pytest.raises(
        ValueError,
        match=r"the same Dense\(units=4\) object is inside the layers at positions 0 and 1",
    ):
        Sequential([Composite([shared, Tanh()]), Composite([shared, Tanh()]), Dense(1)])
    X = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(ValueError, match="inside the layers at positions"):
        MLPRegressor(layers=[Composite([shared]), Composite([shared])]).fit(X, X.sum(axis=1))


@pytest.mark.parametrize(
    ("inner", "error", "match"),
    [
        ("repeat", ValueError, r"^Composite: inner: the same Dense\(units=3\) object is at "),
        ("not a layer", TypeError, r"^Composite: inner: expected Layer objects, got int at"),
    ],
)
def test_a_problem_with_the_inner_layers_is_named_as_the_user_wrote_it(inner, error, match):
    """(the message named a Sequential the user never wrote)"""
    d = Dense(3)
    layers = [d, Tanh(), d] if inner == "repeat" else [Dense(2), 3]
    with pytest.raises(error, match=match):
        Composite(layers).build(3, np.random.default_rng(0), np.float64)


@pytest.mark.parametrize("order", ["block first", "layer first", "nested"])
def test_a_layer_both_in_a_block_and_at_the_top_level_is_refused(order):
    """(an audit: a layer a Composite runs was let through when it was also one of the
    network's own layers, taken for a skip connection's reference: 4 of 4 gradient
    arrays wrong)"""
    from layerkit import Sequential

    d = Dense(3)
    layers = {
        "block first": [Composite([d, Tanh()]), d],
        "layer first": [d, Composite([Tanh(), d])],
        "nested": [d, Composite([Composite([d])])],
    }[order]
    with pytest.raises(
        ValueError,
        match=r"the same Dense\(units=3\) object is at position \d "
        r"and inside the Composite at position \d, which runs it",
    ):
        Sequential(layers)
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="which runs it"):
        MLPRegressor(layers=layers).fit(X, X.sum(axis=1))


def test_an_estimators_layers_problem_is_named_as_its_layers():
    """(a trial: the message began "Sequential:", which the user never wrote)"""
    shared = Dense(4)
    X = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(
        ValueError, match=r"^MLPRegressor: layers: the same Dense\(units=4\) object"
    ):
        MLPRegressor(layers=[Composite([shared]), Composite([shared])]).fit(X, X.sum(axis=1))
