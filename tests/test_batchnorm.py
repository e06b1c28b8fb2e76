"""BatchNorm: batch statistics in training, running statistics in prediction, saved with
the model; its gradients are proven by the conformance checks (both modes)."""

import warnings

import numpy as np
import pytest
from helpers import Block
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import layerkit
from layerkit import MLPClassifier, Sequential
from layerkit.gradcheck import check_network
from layerkit.layers import BatchNorm, Dense, ReLU, Softmax
from layerkit.losses import CategoricalCrossEntropy


def _built(n=3, **kw):
    layer = BatchNorm(**kw)
    layer.build(n, np.random.default_rng(0), np.float64)
    return layer


def test_training_standardizes_each_feature_over_the_batch_then_scales_and_shifts():
    layer = _built(2, epsilon=1e-12)
    layer.params["gamma"][...] = [2.0, 0.5]
    layer.params["beta"][...] = [1.0, -1.0]
    x = np.array([[0.0, 10.0], [2.0, 20.0], [4.0, 60.0]])
    a = layer.forward(x, training=True)
    xhat = (x - x.mean(axis=0)) / x.std(axis=0)  # the biased standard deviation
    np.testing.assert_allclose(a, xhat * [2.0, 0.5] + [1.0, -1.0], rtol=1e-12)


def test_each_training_batch_moves_the_running_statistics_by_momentum():
    layer = _built(2, momentum=0.25)
    x = np.array([[1.0, 4.0], [3.0, 8.0], [8.0, 0.0]])
    layer.forward(x, training=True)
    np.testing.assert_allclose(layer.running_mean, 0.25 * x.mean(axis=0))
    np.testing.assert_allclose(layer.running_var, 0.75 + 0.25 * x.var(axis=0, ddof=1))


def test_prediction_uses_the_running_statistics_row_by_row():
    layer = _built(2)
    layer.running_mean[...] = [1.0, -2.0]
    layer.running_var[...] = [4.0, 0.25]
    x = np.array([[3.0, -1.0], [1.0, -2.0]])
    expected = (x - [1.0, -2.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5)
    np.testing.assert_allclose(layer.forward(x), expected)
    np.testing.assert_allclose(layer.forward(x[:1]), expected[:1])  # alone as in a batch


def test_a_batch_of_one_row_is_normalized_with_the_running_statistics():
    """One row has no variance: with its own statistics x̂ = 0, the output is beta and no
    gradient reaches the layers before (a fit with batch_size=1 learned nothing)."""
    layer = _built(2)
    layer.running_mean[...] = [1.0, 2.0]
    x = np.array([[5.0, 7.0]])
    a = layer.forward(x, training=True)
    np.testing.assert_allclose(a, (x - [1.0, 2.0]) / np.sqrt(1.0 + 1e-5))
    np.testing.assert_allclose(layer.backward(np.ones((1, 2))), [[1 / np.sqrt(1.0 + 1e-5)] * 2])
    np.testing.assert_array_equal(layer.running_mean, [1.0, 2.0])  # left as they are
    np.testing.assert_array_equal(layer.running_var, [1.0, 1.0])


def test_training_row_by_row_trains_the_layers_before():
    X, y = load_digits(return_X_y=True)
    clf = MLPClassifier(
        layers=[Dense(16), BatchNorm(), ReLU()],
        solver="sgd",
        batch_size=1,
        learning_rate_init=0.01,
        max_iter=2,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning):
        clf.fit(X[:300] / 16, y[:300])
    assert clf.score(X[300:600] / 16, y[300:600]) > 0.5  # (0.04 when nothing trained)


def test_a_networks_gradients_through_batchnorm_in_training_mode():
    rng = np.random.default_rng(0)
    net = Sequential([Dense(6), BatchNorm(), ReLU(), Dense(3), Softmax()])
    net.build(4, random_state=0)
    x, y = rng.normal(size=(10, 4)), np.eye(3)[rng.integers(0, 3, 10)]
    report = check_network(net, x, y, CategoricalCrossEntropy(), training=True)
    assert report.worst_error < 1e-5 and set(report.errors) >= {"1.gamma", "1.beta"}


@pytest.mark.parametrize(("solver", "rate"), [("adam", 0.001), ("sgd", 0.05)])
def test_an_estimator_with_batchnorm_trains_saves_and_loads(solver, rate, tmp_path):
    X, y = load_digits(return_X_y=True)  # unscaled pixels, 0 to 16
    clf = MLPClassifier(
        layers=[Dense(32), BatchNorm(), ReLU()],
        solver=solver,
        learning_rate_init=rate,
        max_iter=15,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=Warning)  # (not converged in 15 epochs)
        clf.fit(X[:1200], y[:1200])
    assert clf.score(X[1200:], y[1200:]) > 0.75
    layer = clf.network_.layers[1]
    assert np.abs(layer.running_mean).max() > 1.0  # moved from zeros during training
    loaded = layerkit.load(layerkit.save(clf, tmp_path / "bn.lkm"))
    np.testing.assert_array_equal(loaded.network_.layers[1].running_var, layer.running_var)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_float32_stays_float32():
    net = Sequential([Dense(4), BatchNorm()]).build(3, random_state=0, dtype=np.float32)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    out = net.forward(x, training=True)
    assert out.dtype == np.float32 and net.layers[1].running_var.dtype == np.float32
    assert net.backward(np.ones_like(out)).dtype == np.float32


def test_lbfgs_warns_that_the_running_statistics_never_move():
    X, y = load_digits(return_X_y=True)
    clf = MLPClassifier(layers=[Dense(8), BatchNorm(), ReLU()], solver="lbfgs", max_iter=5)
    running = pytest.warns(UserWarning, match="BatchNorm layers normalize with their running")
    with running, pytest.warns(ConvergenceWarning):
        clf.fit(X[:200], y[:200])
    np.testing.assert_array_equal(clf.network_.layers[1].running_mean, np.zeros(8))


@pytest.mark.parametrize("inner", [BatchNorm(), layerkit.layers.Dropout(0.5)])
def test_lbfgs_warns_of_a_batchnorm_or_dropout_inside_a_users_block(inner):
    X, y = load_digits(return_X_y=True)
    block = Block([Dense(8), inner, ReLU()])
    clf = MLPClassifier(layers=[block], solver="lbfgs", max_iter=5)
    named = "BatchNorm layers normalize" if isinstance(inner, BatchNorm) else "Dropout layers"
    with pytest.warns(UserWarning, match=named), pytest.warns(ConvergenceWarning):
        clf.fit(X[:200], y[:200])


def test_lbfgs_does_not_warn_for_a_block_without_them():
    X, y = load_digits(return_X_y=True)
    clf = MLPClassifier(layers=[Block([Dense(8), ReLU()])], solver="lbfgs", max_iter=5)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        clf.fit(X[:200], y[:200])  # (filterwarnings=error: any UserWarning fails)
