"""The fused training plan computes exactly what the general path computes."""

import copy

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import Swish, targets

from layerkit import Sequential
from layerkit._plan import TrainingPlan, plan_supports
from layerkit.layers import (
    ELU,
    GELU,
    BatchNorm,
    Dense,
    Dropout,
    Exp,
    Identity,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from layerkit.losses import BinaryCrossEntropy, CategoricalCrossEntropy, PoissonLoss, SquaredError
from layerkit.optim import SGD, Adam
from layerkit.optim._blas import blas_available
from layerkit.training import EpochRunner

HIDDEN = {
    "relu": lambda: [Dense(7), ReLU(), Dense(5), ReLU()],
    "mixed": lambda: [Dense(6), Tanh(), Dense(6), Sigmoid(), Dense(4), LeakyReLU(0.1)],
    "identity-stacked": lambda: [Dense(5), Identity(), ReLU(), Dense(4), Tanh(), Sigmoid()],
    "dropout": lambda: [Dense(8), ReLU(), Dropout(0.3), Dense(6), Tanh(), Dropout(0.2)],
    "no-hidden": lambda: [],
    "smooth": lambda: [
        Dense(6),
        ELU(0.5),
        Dense(5),
        GELU(),
        Dense(5),
        SiLU(),
        Dense(4),
        Softplus(),
    ],
    "smooth-first": lambda: [GELU(), Dense(5), ELU(), Softplus(), Dense(4), SiLU(), Dropout(0.2)],
    "activation-first": lambda: [ReLU(), Dense(5), Tanh()],  # (predict worked on X in place)
    # a user's parameter-free layers inside the plan: between Dense layers, first, last,
    # in a row (a subclass of a built-in layer is a user's layer too)
    "user": lambda: [Dense(6), FixedSwish(), Dense(5), MyTanh(), Dense(4), ReLU()],
    "user-first": lambda: [FixedSwish(), Dense(5), FixedSwish(0.5), Dropout(0.2)],
    "user-last": lambda: [Dense(6), ReLU(), Dense(5), FixedSwish(), UserDropout(0.4)],
    # a built-in layer with parameters of its own, through its own arithmetic
    "batchnorm": lambda: [Dense(6), BatchNorm(), ReLU(), Dense(5), BatchNorm(0.3), Tanh()],
    "batchnorm-first": lambda: [BatchNorm(), Dense(5), ReLU(), Dropout(0.2), BatchNorm()],
}


class FixedSwish(Layer, register=False):
    """x * sigmoid(beta * x), beta fixed: a user's activation without parameters."""

    def __init__(self, beta=1.0):
        self.beta = beta

    def forward(self, x, training=False):
        self.x, self.s = x, 1 / (1 + np.exp(-self.beta * x))
        return x * self.s

    def backward(self, delta):
        return delta * (self.s + self.beta * self.x * self.s * (1 - self.s))


class UserDropout(Layer, register=False):
    """A user's dropout: active only when called with training=True."""

    def __init__(self, rate=0.5):
        self.rate = rate

    def build(self, n_in, rng, dtype):
        self._rng = rng
        return n_in

    def forward(self, x, training=False):
        self.keep = (self._rng.random(x.shape) >= self.rate) / (1 - self.rate) if training else 1
        return x * self.keep

    def backward(self, delta):
        return delta * self.keep


class MyTanh(Tanh, register=False):
    """A user's subclass of a built-in layer: trained through its own forward/backward."""

    def forward(self, x, training=False):
        self.out = np.tanh(x)
        return self.out

    def backward(self, delta):
        return delta * (1 - self.out**2)


OUTPUTS = {
    "softmax-cce": (Softmax, CategoricalCrossEntropy, 3, "onehot"),
    "sigmoid-bce": (Sigmoid, BinaryCrossEntropy, 1, "binary"),
    "sigmoid-bce-multilabel": (Sigmoid, BinaryCrossEntropy, 3, "binary"),
    "identity-se": (Identity, SquaredError, 2, "real"),
    "exp-poisson": (Exp, PoissonLoss, 2, "counts"),
}


def _net(hidden, output, n_in=4, seed=0):
    link, _, k, _ = OUTPUTS[output]
    return Sequential([*HIDDEN[hidden](), Dense(k, bias_init="uniform"), link()]).build(
        n_in, random_state=seed
    )


@pytest.fixture(params=["augmented", "plain"])
def layout(request, monkeypatch):
    """Both Dense layouts of the plan: [x 1][W; b] for small batches, x W + b for large."""
    import layerkit._plan._training as training

    if request.param == "plain":
        monkeypatch.setattr(training, "_AUGMENT_MAX_ELEMENTS", 0)
    return request.param


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("l2", [0.0, 0.3])
@pytest.mark.parametrize("output", list(OUTPUTS))
@pytest.mark.parametrize("hidden", list(HIDDEN))
def test_plan_gradients_equal_the_general_path(hidden, output, l2, weighted, layout):
    rng = np.random.default_rng(1)
    _, loss_cls, k, kind = OUTPUTS[output]
    loss = loss_cls()
    m = 9
    X, Y = rng.normal(size=(m, 4)), targets(kind, rng, m, k)
    sw = rng.uniform(0.2, 2.0, m) if weighted else None
    general = _net(hidden, output)
    planned = copy.deepcopy(general)  # same weights, same dropout streams
    assert plan_supports(planned, loss, X)
    plan = TrainingPlan(planned, loss, l2=l2, training=True, normalized_targets=kind == "onehot")
    batch = plan.batch(m)
    batch.x[...] = X
    batch.y[...] = Y
    value = batch.run(sw)
    expected = general.loss_and_grads(X, Y, loss, sw)
    denom = m if sw is None else sw.sum()
    for layer in general.layers:
        for name in layer.penalized:
            W = layer.params[name]
            expected += 0.5 * l2 / denom * float(np.sum(W * W))
            layer.grads[name] += l2 / denom * W
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-14)
    for name, g in general.grads.items():
        np.testing.assert_allclose(planned.grads[name], g, rtol=1e-10, atol=1e-13, err_msg=name)


def test_plan_is_used_for_dense_input_a_canonical_pair_and_parameter_free_user_layers():
    loss = CategoricalCrossEntropy()
    X = np.ones((3, 4))
    assert plan_supports(_net("relu", "softmax-cce"), loss, X)
    own = Sequential([Dense(3), FixedSwish(), Dense(3), Softmax()]).build(4, random_state=0)
    assert plan_supports(own, loss, X)
    # a user's layer with parameters keeps its own arrays: the general path
    swish = Sequential([Dense(3), Swish(), Dense(3), Softmax()]).build(4, random_state=0)
    assert not plan_supports(swish, loss, X)
    own_link = Sequential([Dense(3), Softmax(), MyTanh()]).build(4, random_state=0)
    assert not plan_supports(own_link, loss, X)
    assert not plan_supports(_net("relu", "softmax-cce"), loss, sp.csr_matrix(X))
    assert not plan_supports(_net("relu", "softmax-cce"), SquaredError(), X)  # not canonical


def _epochs(net, X, Y, loss, opt, general, n_epochs=3, l2=0.0):
    runner = EpochRunner(net, X, Y, loss, opt, batch_size=16, l2=l2)
    if general:
        runner._plan = None
    else:
        assert runner._plan is not None
    rng = np.random.default_rng(3)
    return [runner.run(rng) for _ in range(n_epochs)]


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda: SGD(0.1),
        lambda: SGD(0.05, weight_decay=0.01),
        lambda: SGD(0.05, momentum=0.9, nesterov=True),
        lambda: Adam(0.01),
    ],
    ids=["sgd", "sgd-decay", "sgd-momentum", "adam"],
)
@pytest.mark.parametrize("fuse", [True, False], ids=["fused-step", "flat-step"])
@pytest.mark.parametrize("hidden", ["dropout", "user", "user-first", "batchnorm"])
def test_training_with_the_plan_matches_the_general_loop(
    make_opt, fuse, hidden, monkeypatch, layout
):
    """Plain SGD steps inside the plan: fused into the gradient products (as for large
    networks) or as one axpy over the flat buffers (small ones); both as the optimizer's."""
    import layerkit._plan._training

    threshold = 0 if fuse else 10**9
    monkeypatch.setattr(layerkit._plan._training, "_FUSE_MIN_PARAMETERS", threshold)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4))
    Y = np.eye(3)[rng.integers(0, 3, 100)]
    loss = CategoricalCrossEntropy()
    a, b = _net(hidden, "softmax-cce"), _net(hidden, "softmax-cce")
    curve_plan = _epochs(a, X, Y, loss, make_opt(), general=False, l2=0.01)
    curve_general = _epochs(b, X, Y, loss, make_opt(), general=True, l2=0.01)
    np.testing.assert_allclose(curve_plan, curve_general, rtol=1e-10)
    # (a bias just before a BatchNorm has gradient 0 up to rounding, which Adam scales
    # into steps: those biases wander by rounding, to 1e-11, alike in neither loop)
    atol = 1e-9 if hidden == "batchnorm" else 1e-12
    for name, p in b.params.items():
        np.testing.assert_allclose(a.params[name], p, rtol=1e-9, atol=atol)


@pytest.mark.parametrize("fuse", [True, False], ids=["fused-step", "flat-step"])
@pytest.mark.parametrize("output", ["sigmoid-bce", "identity-se"])
def test_a_one_unit_output_trains_in_the_plan_as_in_the_general_loop(
    output, fuse, monkeypatch, layout
):
    """One output unit: the plan takes δ Wᵀ as an outer product (a broadcasting
    multiply), in both layouts and with the step fused or not."""
    import layerkit._plan._training

    threshold = 0 if fuse else 10**9
    monkeypatch.setattr(layerkit._plan._training, "_FUSE_MIN_PARAMETERS", threshold)
    link, loss_cls, _, kind = OUTPUTS[output]
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(100, 4)), targets(kind, rng, 100, 1)

    def net():
        return Sequential([Dense(6), ReLU(), Dense(5), Tanh(), Dense(1), link()]).build(
            4, random_state=2
        )

    a, b = net(), net()
    curve_plan = _epochs(a, X, Y, loss_cls(), SGD(0.1), general=False)
    curve_general = _epochs(b, X, Y, loss_cls(), SGD(0.1), general=True)
    np.testing.assert_allclose(curve_plan, curve_general, rtol=1e-10)
    for name, p in b.params.items():
        np.testing.assert_allclose(a.params[name], p, rtol=1e-9, atol=1e-12)


@pytest.mark.skipif(not blas_available(), reason="numpy's BLAS not reachable: no fused step")
def test_plain_sgd_is_fused_into_the_gradient_products():
    rng = np.random.default_rng(0)
    Y = np.eye(3)[rng.integers(0, 3, 64)]
    big = Sequential([Dense(256), ReLU(), Dense(3), Softmax()]).build(200, random_state=0)
    runner = EpochRunner(
        big, rng.normal(size=(64, 200)), Y, CategoricalCrossEntropy(), SGD(0.1), batch_size=16
    )
    assert runner._plan.sgd is not None and runner._plan.fused
    X = rng.normal(size=(64, 4))
    small = EpochRunner(
        _net("relu", "softmax-cce"), X, Y, CategoricalCrossEntropy(), SGD(0.1), batch_size=16
    )
    assert small._plan.sgd is not None  # the plan steps: one axpy after the backward pass
    assert not small._plan.fused  # too small for fusing to pay
    momentum = EpochRunner(
        _net("relu", "softmax-cce"),
        X,
        Y,
        CategoricalCrossEntropy(),
        SGD(0.1, momentum=0.5),
        batch_size=16,
    )
    assert momentum._plan.sgd is None


@pytest.mark.parametrize("row_sum", [2.0, 1 + 5e-6])  # 1 + 5e-6 passed np.allclose
def test_soft_targets_use_the_exact_general_loss(row_sum):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4))
    Y = rng.dirichlet(np.ones(3), 40) * row_sum  # rows not summing to 1: not probabilities
    loss = CategoricalCrossEntropy()
    a, b = _net("relu", "softmax-cce"), _net("relu", "softmax-cce")
    np.testing.assert_allclose(
        _epochs(a, X, Y, loss, SGD(0.05), general=False),
        _epochs(b, X, Y, loss, SGD(0.05), general=True),
        rtol=1e-12,
    )
    np.testing.assert_allclose(a.params["0.W"], b.params["0.W"], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_plan_keeps_the_dtype(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4)).astype(dtype)
    Y = rng.integers(0, 2, (50, 1)).astype(dtype)
    net = Sequential([Dense(5), ReLU(), Dense(1), Sigmoid()]).build(4, random_state=0, dtype=dtype)
    runner = EpochRunner(net, X, Y, BinaryCrossEntropy(), Adam(0.01), batch_size=16)
    runner.run(np.random.default_rng(0))
    batch = runner._plan.batch(16)
    assert all(a.dtype == dtype for a in (batch.x, batch.y, batch.z, batch.delta))
    assert all(p.dtype == dtype for p in net.params.values())


@pytest.mark.parametrize("hidden", list(HIDDEN))
@pytest.mark.parametrize("output", list(OUTPUTS))
@pytest.mark.parametrize("logits", [False, True])
def test_planned_prediction_equals_the_layer_by_layer_forward(hidden, output, logits):
    net = _net(hidden, output)
    X = np.random.default_rng(2).normal(size=(1000, 4))
    expected = net._forward_through(net.layers[:-1] if logits else net.layers, X, False)
    got = net.predict(X, logits=logits, batch_size=128)  # several chunks and a short one
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_a_non_finite_input_is_reported_by_predict_whatever_the_layers():
    from layerkit import MLPClassifier

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)), rng.integers(0, 2, 60)
    for layers in ([Dense(4), ReLU()], [Dense(4), Tanh()]):  # the scan is deferred, or not
        clf = MLPClassifier(layers=layers, solver="lbfgs", random_state=0).fit(X, y)
        for bad in (np.nan, np.inf):
            X_bad = X.copy()
            X_bad[3, 1] = bad
            with pytest.raises(ValueError, match=r"Input X contains (NaN|infinity)"):
                clf.predict_proba(X_bad)


@pytest.mark.parametrize("bad", [-np.inf, np.inf])
def test_an_infinite_input_that_relu_would_zero_is_still_reported(bad):
    """The estimators scan the logits, not X, for non-finite values: a ReLU that turned
    an infinite pre-activation into 0 would hide an infinite input (the planned
    prediction's fast ReLU runs only where the first layer's outputs are finite)."""
    from layerkit import MLPClassifier

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(3000, 3)), rng.integers(0, 2, 3000)
    clf = MLPClassifier(layers=[Dense(4), ReLU()], solver="lbfgs", random_state=0).fit(X, y)
    W = clf.network_.layers[0].params["W"]
    W[1] = -np.sign(bad) * (np.abs(W[1]) + 0.1)  # x_1 = ±inf makes every unit -inf
    X_bad = X.copy()
    X_bad[2500, 1] = bad  # in the third chunk of 1,024 rows
    with pytest.raises(ValueError, match="Input X contains infinity"):
        clf.predict_proba(X_bad)
    good = clf.predict_proba(X)  # the chunks without it: as layer by layer
    net = clf.network_
    expected = net._forward_through(net.layers, X.astype(net.dtype), False)
    np.testing.assert_allclose(good[:, 1], expected[:, 0], rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("output", ["softmax-cce", "sigmoid-bce-multilabel"])
def test_extreme_logits_give_the_general_loss_and_delta(output, dtype):
    """Rows whose max is far above their mean overflow the plan's cheap row-mean shift:
    it must fall back to the row max and still agree with the general path. (Plans run
    under ``np.errstate(all="ignore")``, as EpochRunner runs them: the overflow is
    expected, and answered.)"""
    _, loss_cls, k, kind = OUTPUTS[output]
    Y = targets(kind, np.random.default_rng(2), 4, k).astype(dtype)
    z = np.array([[3000, 0, 0], [-3000, 0, 1], [0.5, -2, 1], [1e4, -1e4, 0]], dtype)
    value, plan_delta, expected, delta = _plan_and_general_loss(loss_cls(), kind, z, Y)
    assert np.isfinite(value) and value > 1000
    assert value == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(plan_delta, delta, rtol=1e-5, atol=1e-7)


def _plan_and_general_loss(loss, kind, z, Y):
    """The plan's fused loss value and δ on logits ``z``, and the loss's own."""
    m, k = z.shape
    net = Sequential([Dense(k), Identity()]).build(k, random_state=0, dtype=z.dtype)
    plan = TrainingPlan(net, loss, l2=0.0, training=True, normalized_targets=kind == "onehot")
    batch = plan.batch(m)
    batch.z[...] = z
    batch.y[...] = Y
    with np.errstate(all="ignore"):  # (as EpochRunner runs plans)
        value = batch.loss_step(None)
        expected = loss.value_from_logits(z, Y)
        delta = np.empty_like(z)
        loss.delta_from_logits(z, Y, out=delta)
    return value, batch.delta, expected, delta


@pytest.mark.parametrize("output", ["sigmoid-bce", "sigmoid-bce-multilabel", "softmax-cce"])
def test_infinite_logits_give_the_general_loss_and_delta(output):
    """A logit of ±inf on its target's side costs 0 in the losses (their limits); the
    plan's fused arithmetic (softplus(z) - y z: inf - inf) must not make it NaN, which
    stopped training as diverged where the general path trained on (a review)."""
    _, loss_cls, k, kind = OUTPUTS[output]
    if k == 1:
        z = np.array([[np.inf], [-np.inf], [0.5], [-2.0]])
        Y = np.array([[1.0], [0.0], [1.0], [0.0]])
    else:
        z = np.array([[3, 0, -np.inf], [2, -np.inf, 0], [0.5, -2, 1], [1, 2, 3]])
        if kind == "binary":  # (the softmax's limits: only a -inf off the target)
            z[0, 0] = np.inf
        Y = np.array([[1.0, 0, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]])
        if kind == "binary":
            Y = np.array([[1.0, 0, 0], [1, 0, 0], [0, 0, 1], [0, 1, 1]])
    value, plan_delta, expected, delta = _plan_and_general_loss(loss_cls(), kind, z, Y)
    assert np.isfinite(expected)
    assert value == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(plan_delta, delta, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------ user layers' arrays
class ExposedResidual(Layer, register=False):
    """x + Dense(x), its arrays the inner Dense's, exposed through properties."""

    def build(self, n_in, rng, dtype):
        self.inner = Dense(n_in)
        self.inner.build(n_in, rng, dtype)
        self.initial = {k: v.copy() for k, v in self.inner.params.items()}
        return n_in

    params = property(lambda self: dict(self.inner.params))
    grads = property(lambda self: dict(self.inner.grads))

    def reads(self):
        return self.inner.params

    def forward(self, x, training=False):
        return x + self.inner.forward(x, training)

    def backward(self, delta):
        return delta + self.inner.backward(delta)


class SharedResidual(ExposedResidual, register=False):
    """The same, with plain dicts holding the inner Dense's arrays."""

    params = grads = None  # (instance attributes, set in build)

    def build(self, n_in, rng, dtype):
        super().build(n_in, rng, dtype)
        self.params, self.grads = dict(self.inner.params), dict(self.inner.grads)
        return n_in


class KeptGradient(Swish, register=False):
    """Writes its gradient in place, through a reference kept at build."""

    def build(self, n_in, rng, dtype):
        width = super().build(n_in, rng, dtype)
        self.g = self.grads["beta"]
        self.initial = {"beta": self.params["beta"].copy()}
        return width

    def reads(self):
        return {"beta": self.params["beta"]}

    def backward(self, delta):
        ds = self.s * (1 - self.s)
        self.g[...] = (delta * self.x * self.x * ds).sum(axis=0)
        return delta * (self.s + self.x * ds * self.params["beta"])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("make", [ExposedResidual, SharedResidual, KeptGradient])
def test_a_users_layer_with_parameters_trains_the_arrays_it_reads(make, solver):
    """Its arrays are never moved into the plan's flat buffer (which crashed on the
    properties, and left shared or kept arrays silently untrained)."""
    from layerkit import MLPRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = np.tanh(X @ [1.0, -2.0, 0.5, 3.0])
    reg = MLPRegressor(layers=[make(), Tanh()], solver=solver, max_iter=20, random_state=0)
    layer = reg.fit(X, y).network_.layers[0]
    for k, array in layer.reads().items():
        assert not np.allclose(array, layer.initial[k]), k  # trained


def test_a_parameter_free_users_layer_is_checked_before_the_first_dense_layer():
    from layerkit import LayerContractError, MLPClassifier

    class DropsAColumn(Layer, register=False):
        def forward(self, x, training=False):
            return x

        def backward(self, delta):
            return delta[:, :-1]

    X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 3
    clf = MLPClassifier(layers=[DropsAColumn(), Dense(6), ReLU()], max_iter=2)
    with pytest.raises(LayerContractError, match="at position 0: backward returned an array"):
        clf.fit(X, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batchnorm_runs_in_both_plans_with_its_statistics_and_parameters(dtype):
    from layerkit._plan import predict_planned

    net = _net("batchnorm", "softmax-cce")
    net = Sequential(net.layers).build(4, random_state=0, dtype=dtype)
    rng = np.random.default_rng(3)
    for layer in net.layers:  # statistics and parameters away from 0 and 1
        if isinstance(layer, BatchNorm):
            layer.running_mean[...] = rng.normal(size=layer.running_mean.shape)
            layer.running_var[...] = rng.uniform(0.5, 2.0, size=layer.running_var.shape)
            layer.params["gamma"][...] = rng.uniform(0.5, 2.0, size=layer.running_var.shape)
            layer.params["beta"][...] = rng.normal(size=layer.running_var.shape)
    X = rng.normal(size=(300, 4)).astype(dtype)
    planned = predict_planned(net, X, logits=False, chunk=128)
    assert planned is not None
    np.testing.assert_array_equal(planned, net._forward_through(net.layers, X, False))
    Y = np.eye(3)[rng.integers(0, 3, 300)]
    runner = EpochRunner(
        net, X, Y.astype(dtype), CategoricalCrossEntropy(), Adam(0.01), batch_size=32
    )
    assert runner._plan is not None


@pytest.mark.parametrize("activation", [ReLU, LeakyReLU], ids=["relu", "leaky"])
def test_plan_gradients_at_a_pre_activation_of_exactly_zero_equal_the_general_path(
    activation, layout
):
    """At z = 0 a kinked activation takes one side; the plan must take the layer's side
    (LeakyReLU: the slope, as z > 0 is false). A row of zeros through a layer of zero
    biases makes every z of its row exactly 0 (a mutation audit: the plan's `z < 0`
    passed every test, rows of normal draws never reach 0)."""
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(9, 4)), np.eye(3)[rng.integers(0, 3, 9)]
    X[[0, 4]] = 0.0
    general = Sequential([Dense(5), activation(), Dense(3, bias_init="uniform"), Softmax()])
    general.build(4, random_state=0)
    assert not general.params["0.b"].any()
    planned = copy.deepcopy(general)
    loss = CategoricalCrossEntropy()
    batch = TrainingPlan(planned, loss, l2=0.0, training=True, normalized_targets=True).batch(9)
    batch.x[...], batch.y[...] = X, Y
    value = batch.run(None)
    assert value == pytest.approx(general.loss_and_grads(X, Y, loss), rel=1e-12)
    for name, g in general.grads.items():
        np.testing.assert_allclose(planned.grads[name], g, rtol=1e-10, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("hidden", ["relu", "smooth", "batchnorm"])
def test_planned_prediction_in_chunks_with_a_last_partial_one_equals_forward(hidden):
    """(a mutation audit: dropping the last, smaller chunk was caught only by chance,
    since 1,024 rows make one chunk for every test's X)"""
    net = _net(hidden, "softmax-cce")
    X = np.random.default_rng(4).normal(size=(20, 4))
    expected = net.forward(X)
    np.testing.assert_allclose(net.predict(X, batch_size=7), expected, rtol=1e-12)
    logits = net.predict(X, logits=True)  # (one chunk)
    np.testing.assert_allclose(net.predict(X, batch_size=7, logits=True), logits, rtol=1e-12)


def _runner(net, general, *, opt=None, weighted=False, **kwargs):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(32, 3)), rng.normal(size=(32, 1))
    sw = np.linspace(0.5, 1.5, 32) if weighted else None
    runner = EpochRunner(
        net, X, Y, SquaredError(), opt or Adam(0.01), batch_size=8, sample_weight=sw, **kwargs
    )
    if general:
        runner._plan = None
    else:
        assert runner._plan is not None
    return runner


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("general", [False, True], ids=["plan", "general"])
def test_backward_after_training_asks_for_a_new_forward_pass(general, weighted):
    """Training's passes overwrite what the layers kept from a forward pass of the
    user's: backward then refuses, with either path (through the plan it ran, mixing the
    user's rows in Dense with the last batch's in ELU: wrong gradients, no error)."""
    net = Sequential([Dense(4), ELU(), Dense(1), Identity()]).build(3, random_state=0)
    net.forward(np.ones((8, 3)), training=True)
    _runner(net, general, weighted=weighted).run(np.random.default_rng(1))
    with pytest.raises(RuntimeError, match=r"EpochRunner.run|loss_and_grads"):
        net.backward(np.ones((8, 1)))
    net.forward(np.ones((8, 3)), training=True)  # a new forward pass: backward runs
    net.backward(np.ones((8, 1)))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("general", [False, True], ids=["plan", "general"])
def test_plain_sgd_refuses_a_read_only_parameter_with_either_path(general, weighted):
    net = Sequential([Dense(4), ReLU(), Dense(1), Identity()]).build(3, random_state=0)
    W = net.layers[0].params["W"]
    before = W.copy()
    W.flags.writeable = False
    runner = _runner(net, general, opt=SGD(0.1), weighted=weighted)
    if not general:
        assert runner._plan.sgd is not None  # the plan takes the step itself
    with pytest.raises(TypeError, match=r"SGD.step: params\['0.W'\] must be a writable"):
        runner.run(None)
    np.testing.assert_array_equal(W, before)


@pytest.mark.parametrize("general", [False, True], ids=["plan", "general"])
def test_an_epoch_of_no_rows_has_a_loss_of_zero(general):
    net = Sequential([Dense(4), ReLU(), Dense(1), Identity()]).build(3, random_state=0)
    assert _runner(net, general, opt=SGD(0.1), rows=[]).run(np.random.default_rng(0)) == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [0.0, 50.0, -300.0])
def test_the_centering_product_gives_the_general_loss_for_offset_logits(offset, dtype):
    """z less its row means comes from one product, z (I - 1 1ᵀ/k): logits far from 0
    whose rows spread little (the cancellation it must survive) give the general loss."""
    rng = np.random.default_rng(5)
    z = (offset + rng.normal(size=(64, 10))).astype(dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, 64)]
    value, plan_delta, expected, delta = _plan_and_general_loss(
        CategoricalCrossEntropy(), "onehot", z, Y
    )
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert value == pytest.approx(expected, rel=tol)
    np.testing.assert_allclose(plan_delta, delta, rtol=tol, atol=tol / 64)


@pytest.mark.skipif(not blas_available(), reason="numpy's BLAS not reachable: no fused step")
@pytest.mark.parametrize("hidden", ["dropout", "user", "batchnorm"])
def test_a_decay_too_small_for_the_fused_factor_goes_into_the_gradient(
    hidden, monkeypatch, layout
):
    """(a review: the fused step took W <- (1 - d) W - η xᵀδ with 1 - d rounded to the
    dtype; below about 3e-8 in float32 that is 1 and the decay was lost.) Forced here
    for every decay: the step through the gradient is the optimizer's."""
    import layerkit._plan._stages
    import layerkit._plan._training

    monkeypatch.setattr(layerkit._plan._training, "_FUSE_MIN_PARAMETERS", 0)
    monkeypatch.setattr(layerkit._plan._stages, "DECAY_FACTOR_ERROR", 1e-300)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4))
    Y = np.eye(3)[rng.integers(0, 3, 100)]
    loss = CategoricalCrossEntropy()
    a, b = _net(hidden, "softmax-cce"), _net(hidden, "softmax-cce")
    for l2, wd in [(0.01, 0.0), (0.0, 0.01), (0.01, 0.02)]:
        curve_plan = _epochs(a, X, Y, loss, SGD(0.05, weight_decay=wd), general=False, l2=l2)
        curve_general = _epochs(b, X, Y, loss, SGD(0.05, weight_decay=wd), general=True, l2=l2)
        np.testing.assert_allclose(curve_plan, curve_general, rtol=1e-10)
        for name, p in b.params.items():
            np.testing.assert_allclose(a.params[name], p, rtol=1e-9, atol=1e-12)


def _decay_effect(fit):
    """What a decay changes in float32 over what it changes in float64 (1: all of it),
    from ``fit(decay, dtype)``, which returns the trained parameters as one vector."""
    reference = fit(True, np.float64) - fit(False, np.float64)
    got = fit(True, np.float32) - fit(False, np.float32)
    return float(got @ reference / (reference @ reference))


@pytest.mark.parametrize("fuse", [True, False], ids=["fused-step", "flat-step"])
@pytest.mark.parametrize(
    "alpha, weight_decay", [(1e-3, 0.0), (1e-2, 0.0), (0.0, 1e-6), (0.0, 1e-5)]
)
def test_a_small_decay_is_kept_in_float32(alpha, weight_decay, fuse, monkeypatch):
    """(a review: with η = 1e-3 and batches of 200, alpha = 1e-3 left the weights of a
    fused plan identical to alpha = 0, and alpha = 1e-2 had 1.72 times its effect; weight
    decay on the flat step was quantized alike, 0 or 1.14 times its effect)"""
    import layerkit._plan._training

    threshold = 0 if fuse else 10**9
    monkeypatch.setattr(layerkit._plan._training, "_FUSE_MIN_PARAMETERS", threshold)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 100))
    Y = np.eye(3)[((X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0))]

    def fit(decay, dtype):
        net = Sequential([Dense(50), ReLU(), Dense(3), Softmax()])
        net.build(100, random_state=0, dtype=dtype)
        opt = SGD(1e-3, weight_decay=weight_decay if decay else 0.0)
        runner = EpochRunner(
            net, X.astype(dtype), Y.astype(dtype), CategoricalCrossEntropy(), opt,
            batch_size=200, l2=alpha if decay else 0.0,
        )  # fmt: skip
        assert runner._plan is not None and runner._plan.fused == fuse
        rng = np.random.default_rng(1)
        for _ in range(10):
            runner.run(rng)
        return np.concatenate([p.ravel() for p in net.params.values()]).astype(np.float64)

    assert _decay_effect(fit) == pytest.approx(1.0, abs=0.02)
