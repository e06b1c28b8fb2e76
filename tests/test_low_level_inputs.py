"""Sequential.fit and predict name bad input as such (not as a divergence or an
IndexError), and warn of a loss that is meaningless on the network's outputs."""

import contextlib
import copy
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits

from layerkit import MLPClassifier, MLPRegressor, Sequential
from layerkit._fit_inputs import checked_inputs
from layerkit.layers import (
    Dense,
    Dropout,
    Exp,
    Identity,
    Layer,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from layerkit.losses import BinaryCrossEntropy, CategoricalCrossEntropy, PoissonLoss, SquaredError
from layerkit.optim import SGD, Adam

rng = np.random.default_rng(0)
X = rng.normal(size=(64, 4))
Y = np.eye(3)[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0)]


def _net(last=None):
    layers = [Dense(8), ReLU(), Dense(3), Softmax() if last is None else last]
    return Sequential(layers).build(4, random_state=0)


def _fit(net=None, X=X, Y=Y, **kw):
    kw.setdefault("loss", CategoricalCrossEntropy())
    kw.setdefault("optimizer", SGD(0.1))
    return (net or _net()).fit(X, Y, max_iter=2, random_state=0, **kw)


def _with(array, index, value):
    changed = array.copy()
    changed[index] = value
    return changed


@pytest.mark.parametrize(
    "kw, pattern",
    [
        (
            {"X": _with(X, (5, 2), np.nan)},
            r"X contains NaN or infinity \(first at \[5, 2\]: nan\)",
        ),
        (
            {"X": _with(X, (0, 1), np.inf)},
            r"X contains NaN or infinity \(first at \[0, 1\]: inf\)",
        ),
        ({"Y": _with(Y, (3, 0), np.nan)}, r"y contains NaN or infinity \(first at \[3, 0\]"),
        ({"X": X[:0], "Y": Y[:0]}, r"X has no rows \(shape \(0, 4\)\)"),
        ({"X": X + 1j}, r"X must hold real numbers, got complex values \(complex128\)"),
        ({"Y": _with(Y.astype(object), (2, 1), None)}, r"y contains NaN .* \[2, 1\]"),
        ({"sample_weight": np.ones(50)}, r"sample_weight of shape \(64,\) .* got shape \(50,\)"),
        ({"sample_weight": np.ones((64, 1))}, r"got shape \(64, 1\)"),
        ({"sample_weight": _with(np.ones(64), 7, np.nan)}, r"sample_weight contains NaN"),
        ({"sample_weight": _with(np.ones(64), 7, -1.0)}, r"non-negative .* minimum of -1.0"),
        # (trained nothing with a loss of 0.0 per epoch, which looked like a perfect fit)
        ({"sample_weight": np.zeros(64)}, r"sample_weight is 0 for every row: no example"),
        # (numpy took dates for day counts and "1.5" for a number)
        ({"X": np.zeros((64, 4), dtype="datetime64[D]")}, r"X must hold numbers, got dates"),
        ({"X": X.astype(str)}, r"X must hold numbers, got text \(dtype <U"),
        # (the cross-entropy fell without bound, below 0, on targets it is not defined on)
        ({"Y": Y - 0.5}, r"CategoricalCrossEntropy\(\) needs targets whose rows are prob"),
        ({"Y": Y * 2}, r"2 columns, non-negative, each row summing to 1\), got 64 row\(s\)"),
    ],
)
def test_bad_data_is_named_before_training(kw, pattern):
    net = _net()
    before = {k: p.copy() for k, p in net.params.items()}
    with pytest.raises(ValueError, match=pattern):
        _fit(net, **kw)
    for k, p in net.params.items():
        np.testing.assert_array_equal(p, before[k])  # nothing trained


@pytest.mark.parametrize(
    "last, loss, targets, pattern",
    [
        (Sigmoid(), BinaryCrossEntropy(), 2.0, r"needs targets in \[0, 1\] .* from 2.0 to 2.0"),
        (Exp(), PoissonLoss(), -1.0, r"needs non-negative targets, got a minimum of -1.0"),
    ],
)
def test_targets_outside_the_losss_domain_are_refused(last, loss, targets, pattern):
    net = Sequential([Dense(1), last]).build(4, random_state=0)
    with pytest.raises(ValueError, match=f"Sequential.fit: {type(loss).__name__}.. " + pattern):
        net.fit(X, np.full((64, 1), targets), loss=loss, optimizer=SGD(0.1), max_iter=2)


@pytest.mark.parametrize("method", ["predict", "forward"])
def test_prediction_refuses_what_is_not_numbers(method):
    """(complex x lost its imaginary part with a warning; dates became day counts)"""
    net = _net()
    for bad, pattern in [
        (X + 1j, r"Sequential: x must hold real numbers, got complex"),
        (np.zeros((2, 4), dtype="datetime64[D]"), r"Sequential: x must hold numbers, got dates"),
        (X.astype(str), r"Sequential: x must hold numbers, got text"),
    ]:
        with pytest.raises(ValueError, match=pattern):
            getattr(net, method)(bad)


@pytest.mark.parametrize("first", [ReLU(), Tanh(), Sigmoid()])
def test_sparse_x_before_a_first_layer_that_is_not_dense_is_named(first):
    """(numpy's 'truth value of an array is ambiguous', or a ufunc's casting error)"""
    net = Sequential([first, Dense(2), Softmax()]).build(4, random_state=0)
    pattern = r"sparse x goes through a first Dense layer only, and the first layer is"
    for call in (
        lambda: net.predict(sp.csr_matrix(X)),
        lambda: net.forward(sp.csr_matrix(X)),
        lambda: net.fit(
            sp.csr_matrix(X),
            np.eye(2)[(X[:, 0] > 0).astype(int)],
            loss=CategoricalCrossEntropy(),
            optimizer=SGD(0.1),
        ),
    ):
        with pytest.raises(TypeError, match=pattern):
            call()


def test_check_layer_says_it_takes_a_dense_x():
    from layerkit.gradcheck import check_layer

    with pytest.raises(TypeError, match=r"check_layer takes x as a dense array \(x.toarray\(\)\)"):
        check_layer(Dense(2), sp.csr_matrix(X[:4]))


def test_non_finite_sparse_values_are_named_by_row_and_column():
    Xs = _with(np.where(X > 0, X, 0.0), (3, 1), np.nan)
    for fmt in ("csr", "csc"):
        with pytest.raises(ValueError, match=r"X contains NaN or infinity \(first at \[3, 1\]"):
            _fit(X=sp.csr_matrix(Xs).asformat(fmt))


def test_x_keeps_its_dtype_and_numbers_in_object_arrays_train():
    import pandas as pd

    net32 = Sequential([Dense(8), ReLU(), Dense(3), Softmax()]).build(4, dtype=np.float32)
    frame = pd.DataFrame(X.astype(np.float32))
    assert checked_inputs(frame, Y, None)[0].dtype == np.float32  # (the plan needs it)
    runs = [_fit(copy.deepcopy(net32), X=data) for data in (X.astype(np.float32), frame)]
    assert runs[0] == runs[1]
    np.testing.assert_array_equal(_fit(X=X.astype(object)), _fit(X=X))
    with pytest.raises(ValueError, match=r"X must hold numbers, got text \(dtype <U1\)"):
        _fit(X=np.full(X.shape, "a"))
    with pytest.raises(ValueError, match=r"X must hold numbers, got dtype object \(could not"):
        _fit(X=np.full(X.shape, "a", dtype=object))


def test_an_optimizer_argument_changed_after_construction_is_checked():
    optimizer = SGD(0.1)
    optimizer.learning_rate = -0.5  # gradient ascent, were it accepted
    with pytest.raises(ValueError, match=r"the optimizer: SGD: learning_rate must be"):
        _fit(optimizer=optimizer)
    net = Sequential([Dense(3), Dropout(0.2), Softmax()]).build(4)
    net.layers[1].rate = 1.5  # after build: every unit dropped
    with pytest.raises(ValueError, match=r"the layer at position 1: Dropout: rate must be less"):
        _fit(net)


@pytest.mark.parametrize("fmt", ["coo", "lil", "dok", "csc", "csr"])
def test_every_sparse_format_trains_like_the_dense_array(fmt):
    dense, sparse = _net(), _net()
    expected = _fit(dense)
    np.testing.assert_allclose(_fit(sparse, X=sp.csr_matrix(X).asformat(fmt)), expected)


@pytest.mark.parametrize(
    "last, loss",
    [
        (Dense(3), CategoricalCrossEntropy()),  # logits, as PyTorch's CrossEntropyLoss takes
        (Tanh(), CategoricalCrossEntropy()),
        (Sigmoid(), CategoricalCrossEntropy()),  # every output trained to 1 (digits: 0.18)
        (Dense(3), BinaryCrossEntropy()),
        (ReLU(), PoissonLoss()),
    ],
)
def test_a_loss_meaningless_on_the_outputs_is_warned_of(last, loss):
    layers = [Dense(8), ReLU(), last] if isinstance(last, Dense) else [Dense(3), last]
    net = Sequential(layers).build(4, random_state=0)
    with pytest.warns(UserWarning, match=r"but the network ends in .* end the network in") as w:
        warnings.simplefilter("ignore", RuntimeWarning)  # (what such a loss may produce)
        with contextlib.suppress(ValueError):  # (a divergence: the warning came first)
            _fit(net, loss=loss, optimizer=SGD(0.01))
    assert [r.filename for r in w if "end the network" in str(r.message)] == [__file__]


@pytest.mark.parametrize(
    "last, loss",
    [
        (Softmax(), CategoricalCrossEntropy()),
        (Sigmoid(), BinaryCrossEntropy()),
        (Softmax(), BinaryCrossEntropy()),  # probabilities all the same
        (Exp(), PoissonLoss()),
        (Softplus(), PoissonLoss()),
        (Tanh(), SquaredError()),  # any output suits the squared error
    ],
)
def test_a_loss_on_outputs_it_suits_is_not_warned_of(last, loss):
    net = Sequential([Dense(3), last]).build(4, random_state=0)
    _fit(net, Y=np.abs(Y), loss=loss)  # warnings are errors in this suite


def test_prediction_on_no_rows_gives_an_empty_result():
    for net in (_net(), _net(Tanh())):
        for dtype in (np.float32, np.float64):
            assert net.predict(np.ones((0, 4), dtype)).shape == (0, 3)
            assert net.predict(np.ones((0, 4), dtype), logits=True).shape == (0, 3)
    with pytest.raises(ValueError, match=r"predict's batch_size to be an integer >= 1, got 0"):
        _net().predict(X, batch_size=0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("last", [Softmax(), Exp()])
def test_an_estimators_layers_ending_in_an_output_activation_are_warned_of(last):
    Xd, yd = load_digits(return_X_y=True)
    est = (MLPClassifier if isinstance(last, Softmax) else MLPRegressor)(
        layers=[Dense(8), ReLU(), Dense(3), last], solver="lbfgs", max_iter=3
    )
    with pytest.warns(UserWarning, match=r"layers ends in .*appends its own output layer") as w:
        est.fit(Xd[:200] / 16, yd[:200])
    assert __file__ in [r.filename for r in w if "appends its own" in str(r.message)]


def test_adam_and_sgd_need_no_warning_for_a_canonical_network():
    _fit(optimizer=Adam(0.01))


@pytest.mark.parametrize("n_in", [0, -1, 2.7, "3", True, None])
def test_build_names_a_width_that_is_not_a_positive_int(n_in):
    with pytest.raises(ValueError, match=r"Sequential.build expected n_in, .* int >= 1, got"):
        Sequential([Dense(2)]).build(n_in)


def test_build_takes_numpy_integers():
    assert Sequential([Dense(2)]).build(np.int64(3)).n_in_ == 3


def test_backward_before_forward_and_of_the_wrong_shape_are_named():
    net = Sequential([Dense(3), Softmax()]).build(4, random_state=0)
    with pytest.raises(RuntimeError, match=r"call forward\(x, training\) first"):
        net.backward(np.ones((5, 3)))
    out = net.forward(X[:5], training=True)
    with pytest.raises(ValueError, match=r"last forward's output, \(5, 3\), got \(5, 2\)"):
        net.backward(np.ones((5, 2)))
    assert net.backward(np.ones_like(out)).shape == (5, 4)
    again = copy.deepcopy(net)  # a copy has no forward of its own to go back through
    with pytest.raises(RuntimeError, match="call forward"):
        again.backward(np.ones_like(out))


def test_a_categorical_cross_entropy_after_sigmoid_says_why_it_fails():
    net = Sequential([Dense(3), Sigmoid()]).build(4, random_state=0)
    with pytest.warns(UserWarning, match="nothing pulls an output down where y is 0") as w:
        net.train_step(X, Y, CategoricalCrossEntropy(), SGD(0.1))
    assert "use BinaryCrossEntropy" in str(w[0].message) and w[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.train_step(X, Y, CategoricalCrossEntropy(), SGD(0.1))  # (once per network)


def test_the_poisson_warning_does_not_speak_of_pytorchs_cross_entropy():
    net = Sequential([Dense(3), ReLU()]).build(4, random_state=0)
    with pytest.warns(UserWarning) as w:
        net.loss_and_grads(X, np.abs(Y), PoissonLoss())
    assert "CrossEntropyLoss" not in str(w[0].message)


class _Halve(Layer, register=False):
    """A user's layer: predict takes the general path, through the layers' forward."""

    def forward(self, x, training=False):
        return x / 2

    def backward(self, delta):
        return delta / 2


def test_predict_between_forward_and_backward_keeps_gradients_or_is_refused():
    """predict between a forward and its backward replaced what the layers kept: the
    gradients came out wrong (by 0.049) with no error. Built-in layers now predict
    without touching it; through a user's layer, backward is refused."""
    for last in (Softmax(), Sigmoid(), Exp()):
        net = _net(last)
        a = net.forward(X, training=True)
        dx = net.backward(np.ones_like(a)).copy()
        net.forward(X, training=True)
        net.predict(X[::-1].copy())
        np.testing.assert_array_equal(net.backward(np.ones_like(a)), dx)
    net = Sequential([Dense(8), _Halve(), Dense(3), Softmax()]).build(4, random_state=0)
    a = net.forward(X, training=True)
    net.predict(X[::-1].copy())
    with pytest.raises(RuntimeError, match="predict ran after it, and the layers now hold"):
        net.backward(np.ones_like(a))
    net.forward(X, training=True)
    net.backward(np.ones_like(a))  # (a new forward: fine)
    fresh = Sequential([Dense(8), _Halve()]).build(4, random_state=0)
    fresh.predict(X)  # no forward pending: predict changes nothing a backward needs
    assert "_caches_replaced_by" not in fresh.__dict__


@pytest.mark.parametrize("fmt", ["coo", "dia", "bsr", "lil", "dok"])
def test_predict_takes_every_sparse_format(fmt):
    net = Sequential([Dense(3), Softmax()]).build(4, random_state=0)
    dense = net.predict(X)
    np.testing.assert_allclose(net.predict(sp.csr_matrix(X).asformat(fmt)), dense, rtol=1e-12)


def test_train_step_and_loss_and_grads_check_their_arguments_before_any_pass():
    net = _net()
    before = {k: v.copy() for k, v in net.params.items()}
    loss, opt = CategoricalCrossEntropy(), SGD(0.1)
    cases = [
        (lambda: net.train_step(X, Y, CategoricalCrossEntropy, opt), TypeError,
         r"the loss given to Sequential.train_step .*did you mean CategoricalCrossEntropy\(\)"),
        (lambda: net.train_step(X, Y, loss, SGD), TypeError,
         r"the optimizer given to Sequential.train_step .*did you mean SGD\(\)"),
        (lambda: net.train_step(X, Y, opt, loss), TypeError, r"optimizer given to"),
        (lambda: net.loss_and_grads(X, Y, loss, np.ones(3)), ValueError,
         r"loss_and_grads: expected sample_weight of shape \(64,\)"),
        (lambda: net.train_step(X, Y, loss, opt, -np.ones(64)), ValueError,
         r"sample_weight must be finite and non-negative, got a minimum of -1.0"),
        (lambda: net.train_step(X, Y, loss, opt, np.full(64, np.nan)), ValueError,
         r"sample_weight must be finite and non-negative"),
        (lambda: net.train_step(X, Y, loss, opt, np.r_[np.inf, np.ones(63)]), ValueError,
         r"sample_weight must be finite and non-negative"),
    ]  # fmt: skip
    for call, error, pattern in cases:
        with pytest.raises(error, match=pattern):
            call()
    for k, v in net.params.items():
        np.testing.assert_array_equal(v, before[k])  # no step was taken
    sparse_y = net.loss_and_grads(X, sp.csr_matrix(Y), loss)
    assert sparse_y == net.loss_and_grads(X, Y, loss)


def test_layer_misuse_is_named():
    import layerkit.layers as built_in
    from layerkit.layers import BUILT_IN, BatchNorm

    for unbuilt in (Dense(3), BatchNorm()):
        with pytest.raises(RuntimeError, match=r"is not built: call build"):
            unbuilt.forward(X)
    for name in built_in.__all__:  # every built-in layer: backward before forward
        kind = getattr(built_in, name)
        if kind not in BUILT_IN:
            continue
        each = kind(3) if kind is Dense else kind()
        each.build(4, 0, np.float64)
        if kind is built_in.Identity:
            continue  # (it keeps nothing: its backward needs nothing)
        with pytest.raises(AttributeError, match=r"call forward\(x, training\) before backward"):
            each.backward(np.ones((2, 3 if kind is Dense else 4)))
    layer = Dense(3)
    layer.build(4, 0, np.float64)  # a seed for the generator, as random_state takes
    other = Dense(3)
    other.build(4, np.random.default_rng(0), np.float64)
    np.testing.assert_array_equal(layer.params["W"], other.params["W"])
    for each in (layer, Sigmoid()):
        with pytest.raises(AttributeError, match="call forward\\(x, training\\) before backward"):
            each.backward(np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"expected rng to be a numpy Generator .* got str"):
        Dense(3).build(4, "0", np.float64)


def test_estimator_prediction_keeps_a_pending_backward_pass():
    """A Poisson regressor's predict ran its Exp layer's forward: a pending backward
    then used predict's rows (gradients off by up to 1.35, silently)."""
    X_counts, y_counts = np.abs(X), rng.poisson(2.0, size=64).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MLPRegressor((5,), loss="poisson", max_iter=5, random_state=0)
        est.fit(X_counts, y_counts)
    net = est.network_
    a = net.forward(X_counts[:10], training=True)
    dx = net.backward(np.ones_like(a)).copy()
    net.forward(X_counts[:10], training=True)
    est.predict(X_counts[10:20])
    np.testing.assert_array_equal(net.backward(np.ones_like(a)), dx)


@pytest.mark.parametrize("loss", [SquaredError(), CategoricalCrossEntropy(), BinaryCrossEntropy()])
def test_losses_take_integer_logits_as_floats(loss):
    """A hand-written integer array is a valid input: its cost and fused δ are the
    float array's (numpy's casting error before)."""
    z, y = np.array([[3, -1], [0, 2]]), np.array([[1, 0], [0, 1]])
    assert loss.value_from_logits(z, y) == loss.value_from_logits(z.astype(float), y)
    got = loss.delta_from_logits(z, y)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, loss.delta_from_logits(z.astype(float), y))


def test_a_loss_takes_integer_outputs_as_floats():
    a, y = np.array([[3, -1], [0, 2]]), np.array([[1, 0], [0, 1]])
    loss = SquaredError()
    assert loss.value(a, y) == loss.value(a.astype(float), y) == 1.5
    np.testing.assert_array_equal(loss.grad(a, y), [[1.0, -0.5], [0.0, 0.5]])


@pytest.mark.parametrize("delta_dtype", [np.int64, np.float32, bool])
def test_backward_takes_a_delta_of_another_dtype_as_the_networks(delta_dtype):
    net = _net(last=Sigmoid())
    expected_x = X[:5]
    net.forward(expected_x)
    delta = np.array([[1, 0, 1]] * 5).astype(delta_dtype)
    got = net.backward(delta).copy()
    grads = {k: v.copy() for k, v in net.grads.items()}
    net.forward(expected_x)
    want = net.backward(delta.astype(np.float64))
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.float64
    for k, v in net.grads.items():
        np.testing.assert_array_equal(grads[k], v)


def test_train_step_refuses_an_optimizer_that_replaces_the_arrays():
    """(fit refused it; train_step left the network untrained, its loss constant)"""
    from layerkit.optim import Optimizer

    class Rebinding(Optimizer, register=False):
        def __init__(self, learning_rate: float = 0.1):
            self.learning_rate = learning_rate

        def step(self, params, grads):
            for k in params:
                params[k] = params[k] - self.learning_rate * grads[k]

    net = _net()
    with pytest.raises(ValueError, match=r"put a new array into params\['0.W'\] instead of"):
        net.train_step(X, Y, CategoricalCrossEntropy(), Rebinding())


def test_float32_probability_targets_are_taken_within_float32_rounding():
    """(refused: rows summing to 0.99999988, checked at float64's tolerance)"""
    P = rng.dirichlet(np.ones(3), size=64).astype(np.float32)
    assert not np.allclose(P.astype(np.float64).sum(axis=1), 1, rtol=1e-8, atol=0)
    losses = _fit(Y=P)
    assert all(np.isfinite(losses))


def test_a_subclass_of_a_built_in_loss_may_take_other_targets():
    class PlusMinusOne(BinaryCrossEntropy, register=False):
        """Targets -1/+1, mapped to 0/1."""

        def per_example(self, a, y):
            return super().per_example(a, (y + 1) / 2)

        def per_example_grad(self, a, y):
            return super().per_example_grad(a, (y + 1) / 2)

    net = Sequential([Dense(1), Sigmoid()]).build(4, random_state=0)
    targets = np.where(X[:, :1] > 0, 1.0, -1.0)
    assert all(np.isfinite(net.fit(X, targets, loss=PlusMinusOne(), optimizer=SGD(0.1))))


@pytest.mark.parametrize("first", [Identity(), Dropout(0.5)])
def test_sparse_x_passes_through_identity_and_dropout_as_before(first):
    net = Sequential([first, Dense(3), Softmax()]).build(4, random_state=0)
    np.testing.assert_allclose(net.predict(sp.csr_matrix(X)), net.predict(X), rtol=1e-12)


def test_predict_upto_gives_a_hidden_layers_features():
    """(a user's trial: no way to the features a hidden layer computes)"""
    X, y = load_digits(return_X_y=True)
    X = X[:300] / 16.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier((16, 8), max_iter=20, random_state=0).fit(X, y[:300])
    net = clf.network_
    W, b = net.layers[0].params["W"], net.layers[0].params["b"]
    first = net.predict(X, upto=2)  # Dense(16), ReLU()
    np.testing.assert_allclose(first, np.maximum(X @ W + b, 0.0), rtol=1e-12, atol=1e-12)
    second = net.predict(X, upto=4, batch_size=7)
    W2, b2 = net.layers[2].params["W"], net.layers[2].params["b"]
    np.testing.assert_allclose(second, np.maximum(first @ W2 + b2, 0.0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(net.predict(X, upto=5), net.predict(X, logits=True), rtol=1e-12)
    np.testing.assert_allclose(net.predict(X, upto=6), clf.predict_proba(X), rtol=1e-12)
    assert net.predict(sp.csr_matrix(X), upto=2).shape == (300, 16)
    assert net.predict(X[:0], upto=3).shape == (0, 8)
    for bad, error, match in [
        (0, ValueError, "upto must be a number of layers from 1 to 6, got 0"),
        (7, ValueError, "from 1 to 6, got 7"),
        (True, TypeError, "upto must be an int, got True"),
        (2.0, TypeError, "upto must be an int, got 2.0"),
    ]:
        with pytest.raises(error, match=match):
            net.predict(X, upto=bad)
    with pytest.raises(ValueError, match=r"logits=True or upto, not both \(logits is upto=5\)"):
        net.predict(X, upto=2, logits=True)
