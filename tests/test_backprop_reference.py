"""Batched backprop equals the seed's per-example equations, written out literally."""

import numpy as np
import pytest

from layerkit import Sequential
from layerkit.layers import Dense, Identity, Sigmoid
from layerkit.losses import SquaredError
from layerkit.optim import SGD


def sigma(z):
    return 1 / (1 + np.exp(-z))


def seed_backprop(ws, bs, x, y):
    """Nielsen-style backprop for one example in column-vector form.

    ``ws[l]`` is the seed's w^l (row = output neuron j, column = input neuron k),
    ``bs[l]`` a column vector; sigmoid everywhere; quadratic cost C_x = ½‖a^L - y‖².
    Returns (∂C_x/∂w^l, ∂C_x/∂b^l) for every layer.
    """
    a, activations, zs = x, [x], []
    for w, b in zip(ws, bs, strict=True):
        z = w @ a + b  # eq. 1-7
        zs.append(z)
        a = sigma(z)
        activations.append(a)
    delta = (activations[-1] - y) * sigma(zs[-1]) * (1 - sigma(zs[-1]))  # eq. 3-I
    nabla_w, nabla_b = [None] * len(ws), [None] * len(ws)
    nabla_b[-1] = delta  # eq. 3-III
    nabla_w[-1] = delta @ activations[-2].T  # eq. 3-IV
    for back in range(2, len(ws) + 1):  # Nielsen's l: counting layers from the end
        sp = sigma(zs[-back]) * (1 - sigma(zs[-back]))
        delta = (ws[-back + 1].T @ delta) * sp  # eq. 3-II
        nabla_b[-back] = delta
        nabla_w[-back] = delta @ activations[-back - 1].T
    return nabla_w, nabla_b


@pytest.mark.parametrize("sizes", [(3, 4, 2), (5, 7, 6, 3)])
def test_batched_gradients_equal_the_per_example_loop(sizes, rng):
    layers = []
    for width in sizes[1:]:
        layers += [Dense(width, bias_init="uniform"), Sigmoid()]
    net = Sequential(layers).build(sizes[0], random_state=1)
    m = 9
    X = rng.normal(size=(m, sizes[0]))
    Y = rng.uniform(size=(m, sizes[-1]))
    value = net.loss_and_grads(X, Y, SquaredError())
    denses = [layer for layer in net.layers if isinstance(layer, Dense)]
    ws = [d.params["W"].T for d in denses]  # layerkit's W is the transpose of w^l
    bs = [d.params["b"][:, None] for d in denses]
    sum_w = [np.zeros_like(w) for w in ws]
    sum_b = [np.zeros_like(b) for b in bs]
    cost = 0.0
    for x, y in zip(X, Y, strict=True):
        nw, nb = seed_backprop(ws, bs, x[:, None], y[:, None])
        sum_w = [s + g for s, g in zip(sum_w, nw, strict=True)]
        sum_b = [s + g for s, g in zip(sum_b, nb, strict=True)]
        a = x[:, None]
        for w, b in zip(ws, bs, strict=True):
            a = sigma(w @ a + b)
        cost += 0.5 * float(np.sum((a - y[:, None]) ** 2))
    assert value == pytest.approx(cost / m, rel=1e-12)
    for d, gw, gb in zip(denses, sum_w, sum_b, strict=True):
        np.testing.assert_allclose(d.grads["W"], gw.T / m, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(d.grads["b"], gb[:, 0] / m, rtol=1e-12, atol=1e-15)


def test_hand_worked_sgd_step():
    """One SGD step on a 2-1 identity network, every number worked by hand.

    W = [[0.5], [-0.25]], b = [0.1]; batch x = [[1, 2], [3, 0]], y = [[1], [0]].
    z = x W + b = [[0.5 - 0.5 + 0.1], [1.5 + 0.1]] = [[0.1], [1.6]]
    C = ½·((0.1 - 1)² + (1.6 - 0)²)/2 = ½·(0.81 + 2.56)/2 = 0.8425
    δ = (a - y)/m = [[-0.45], [0.8]]
    ∂C/∂W = x^T δ = [[1·(-0.45) + 3·0.8], [2·(-0.45) + 0·0.8]] = [[1.95], [-0.9]]
    ∂C/∂b = Σ δ = 0.35
    η = 0.1: W' = [[0.5 - 0.195], [-0.25 + 0.09]] = [[0.305], [-0.16]], b' = 0.1 - 0.035 = 0.065
    """
    net = Sequential([Dense(1), Identity()]).build(2, random_state=0)
    net.layers[0].params["W"][...] = [[0.5], [-0.25]]
    net.layers[0].params["b"][...] = [0.1]
    x = np.array([[1.0, 2.0], [3.0, 0.0]])
    y = np.array([[1.0], [0.0]])
    loss = net.train_step(x, y, SquaredError(), SGD(learning_rate=0.1))
    assert loss == pytest.approx(0.8425, abs=1e-15)
    np.testing.assert_allclose(net.grads["0.W"], [[1.95], [-0.9]], atol=1e-15)
    np.testing.assert_allclose(net.grads["0.b"], [0.35], atol=1e-15)
    np.testing.assert_allclose(net.params["0.W"], [[0.305], [-0.16]], atol=1e-15)
    np.testing.assert_allclose(net.params["0.b"], [0.065], atol=1e-15)
