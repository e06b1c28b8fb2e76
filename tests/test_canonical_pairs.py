"""The fused output error (a - y)/m agrees with the general ∇_a C ⊙ σ'(z) path."""

import copy
import warnings

import numpy as np
import pytest
from helpers import targets

from layerkit import Sequential
from layerkit.layers import Dense, Exp, Identity, ReLU, Sigmoid, Softmax, Tanh
from layerkit.losses import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    PoissonLoss,
    SquaredError,
)


class GeneralSoftmax(Softmax):
    """Same function, not the exact canonical type: forces the general path."""


class GeneralSigmoid(Sigmoid):
    pass


class GeneralIdentity(Identity):
    pass


class GeneralExp(Exp):
    pass


PAIRS = [
    (Softmax, GeneralSoftmax, CategoricalCrossEntropy(), "onehot"),
    (Sigmoid, GeneralSigmoid, BinaryCrossEntropy(), "binary"),
    (Identity, GeneralIdentity, SquaredError(), "real"),
    (Exp, GeneralExp, PoissonLoss(), "counts"),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("link", "general", "loss", "kind"), PAIRS, ids=lambda v: repr(v))
def test_fused_and_general_paths_agree(link, general, loss, kind, weighted, rng):
    fused_net = Sequential([Dense(5), Tanh(), Dense(3), link()]).build(4, random_state=3)
    general_net = copy.deepcopy(fused_net)
    general_net.layers[-1] = general()
    assert fused_net.is_canonical(loss) and not general_net.is_canonical(loss)
    x = rng.normal(size=(7, 4))
    y = targets(kind, rng, 7, 3, poisson_rate=1.5)
    sw = rng.uniform(0.5, 2, 7) if weighted else None
    v1 = fused_net.loss_and_grads(x, y, loss, sw)
    v2 = general_net.loss_and_grads(x, y, loss, sw)
    assert v1 == pytest.approx(v2, rel=1e-12)
    for name, g in fused_net.grads.items():
        np.testing.assert_allclose(g, general_net.grads[name], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saturated_softmax_output_gives_the_exact_finite_loss(dtype):
    net = Sequential([Dense(2), Softmax()]).build(1, random_state=0, dtype=dtype)
    net.layers[0].params["W"][...] = [[1000.0, -1000.0]]
    net.layers[0].params["b"][...] = 0
    x = np.ones((1, 1), dtype)
    y = np.array([[0.0, 1.0]], dtype)  # the wrong class is certain: C = 2000 exactly
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = net.loss_and_grads(x, y, CategoricalCrossEntropy())
    assert value == 2000.0
    np.testing.assert_allclose(net.grads["0.b"], [1.0, -1.0])
    assert all(np.isfinite(g).all() for g in net.grads.values())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saturated_sigmoid_output_gives_the_exact_finite_loss(dtype):
    net = Sequential([Dense(1), Sigmoid()]).build(1, random_state=0, dtype=dtype)
    net.layers[0].params["W"][...] = [[-1000.0]]
    net.layers[0].params["b"][...] = 0
    x = np.ones((2, 1), dtype)
    y = np.array([[1.0], [0.0]], dtype)  # C = (1000 + 0)/2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = net.loss_and_grads(x, y, BinaryCrossEntropy())
    assert value == 500.0
    np.testing.assert_allclose(net.grads["0.b"], [-0.5])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layer", [Sigmoid(), ReLU(), Tanh(), Identity(), Softmax()], ids=repr)
def test_activations_are_overflow_free(layer, dtype):
    from layerkit.layers import LeakyReLU

    z = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype)
    for lay in (layer, LeakyReLU()):
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            a = lay.forward(z.copy())
            d = lay.backward(np.ones_like(z))
        assert a.dtype == dtype and d.dtype == dtype
        assert np.isfinite(a).all() and np.isfinite(d).all()


def test_sigmoid_keeps_relative_precision_of_small_probabilities():
    a = Sigmoid().forward(np.array([[-40.0, -700.0]]))
    np.testing.assert_allclose(a, np.exp([[-40.0, -700.0]]), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "loss", [BinaryCrossEntropy(), CategoricalCrossEntropy(), SquaredError()], ids=repr
)
def test_losses_from_logits_are_finite_for_extreme_logits(loss, dtype):
    z = np.array([[1e4, -1e4], [-1e4, 1e4]], dtype)
    y = np.array([[0, 1], [1, 0]], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v = loss.value_from_logits(z, y)
        d = loss.delta_from_logits(z, y)
    assert np.isfinite(v) and np.isfinite(d).all() and d.dtype == dtype


@pytest.mark.parametrize("row_sum", [1.0, 2.0, 0.6])
def test_the_fused_softmax_delta_is_the_gradient_for_any_target_rows(row_sum):
    # before: (a - y)/m whatever the rows summed to, the gradient of the reported cost
    # only for rows summing to 1 (check_network failed on 0.W for sums 2.0 and 0.6)
    from layerkit import Sequential
    from layerkit.gradcheck import check_network
    from layerkit.layers import Dense, Softmax
    from layerkit.losses import CategoricalCrossEntropy

    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 4))
    Y = rng.dirichlet(np.ones(3), 8) * row_sum
    net = Sequential([Dense(3), Softmax()]).build(4, random_state=0)
    report = check_network(net, X, Y, CategoricalCrossEntropy())
    assert not report.failed and report.worst_error < 1e-6


def test_infinite_logits_give_the_limit_of_the_cost():
    """A logit of -inf (a masked class) costs nothing when its class is not a target,
    and a logit of ±inf on the side of the target costs nothing either: the limits,
    not the NaN of 0 · ∞ or ∞ - ∞."""
    inf = np.inf
    cce, bce = CategoricalCrossEntropy(), BinaryCrossEntropy()
    z, y = np.array([[-inf, 0.0, 1.0]]), np.array([[0.0, 1.0, 0.0]])
    assert cce.value_from_logits(z, y) == pytest.approx(np.log1p(np.e))
    assert cce.value_from_logits(z, np.array([[1.0, 0.0, 0.0]])) == inf
    assert bce.value_from_logits(np.array([[inf, -inf]]), np.array([[1.0, 0.0]])) == 0.0
    assert bce.value_from_logits(np.array([[inf, -inf]]), np.array([[0.0, 1.0]])) == inf
    assert bce.value_from_logits(np.array([[inf]]), np.array([[0.25]])) == inf
    finite = np.array([[-30.0, 2.0]])  # finite logits: the formula as before
    assert bce.value_from_logits(finite, np.array([[1.0, 0.0]])) == pytest.approx(
        30.0 + np.log1p(np.exp(-30.0)) + np.log1p(np.exp(2.0)), rel=1e-14
    )
