"""Property-based tests (hypothesis): the guarantees hold on random inputs."""

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerkit
from layerkit import MLPClassifier, ModelFileError, Sequential
from layerkit.gradcheck import check_network
from layerkit.layers import (
    ELU,
    GELU,
    Dense,
    Exp,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from layerkit.losses import BinaryCrossEntropy, CategoricalCrossEntropy, PoissonLoss, SquaredError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from helpers import Swish, targets

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ACTIVATIONS = [
    ReLU,
    Sigmoid,
    Tanh,
    Identity,
    lambda: LeakyReLU(0.1),
    ELU,
    GELU,
    SiLU,
    Softplus,
    lambda: Swish(0.8),
]
PAIRS = [
    (Softmax, CategoricalCrossEntropy, "onehot"),
    (Sigmoid, BinaryCrossEntropy, "binary"),
    (Identity, SquaredError, "real"),
    (Exp, PoissonLoss, "counts"),
]


@st.composite
def networks(draw):
    n_in = draw(st.integers(1, 5))
    layers = []
    for _ in range(draw(st.integers(0, 3))):
        layers.append(Dense(draw(st.integers(1, 6)), bias_init="uniform"))  # no exact kinks
        layers.append(draw(st.sampled_from(ACTIVATIONS))())
    link, loss, kind = draw(st.sampled_from(PAIRS))
    k = draw(st.integers(1, 4))
    net = Sequential([*layers, Dense(k, bias_init="uniform"), link()])
    net.build(n_in, random_state=draw(st.integers(0, 99)))
    return net, loss(), kind, n_in, k


@FAST
@given(networks(), st.integers(1, 7), st.integers(0, 2**16))
def test_random_stacks_pass_the_gradient_checker(spec, m, seed):
    net, loss, kind, n_in, k = spec
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(m, n_in)), targets(kind, rng, m, k)
    report = check_network(net, x, y, loss, max_entries=8, random_state=seed)
    # the checker's own criterion: |analytic - numeric| <= 1e-8 + 1e-5 max(|analytic|,
    # |numeric|) (a relative error alone is noise for gradients near 1e-7, which cancel)
    assert not report.failed, report


@FAST
@given(networks(), st.integers(1, 300), st.integers(1, 64), st.booleans())
def test_predictions_do_not_depend_on_batching(spec, n, chunk, logits):
    net = spec[0]
    X = np.random.default_rng(n).normal(size=(n, spec[3]))
    whole = net.predict(X, batch_size=n, logits=logits)
    chunked = net.predict(X, batch_size=chunk, logits=logits)
    np.testing.assert_allclose(chunked, whole, rtol=1e-12, atol=1e-14)


@FAST
@given(st.lists(st.integers(1, 8), min_size=1, max_size=3), st.integers(0, 2**31 - 1))
def test_same_seed_same_weights(widths, seed):
    def build():
        layers = [layer for w in widths for layer in (Dense(w), Tanh())]
        return Sequential(layers).build(3, random_state=seed)

    for a, b in zip(build().params.values(), build().params.values(), strict=True):
        np.testing.assert_array_equal(a, b)


@FAST
@given(st.integers(10, 40), st.integers(1, 4), st.integers(2, 4), st.integers(0, 999))
def test_fitting_never_mutates_inputs(n, d, classes, seed):
    rng = np.random.default_rng(seed)
    X, y, sw = rng.normal(size=(n, d)), rng.integers(0, classes, n), rng.uniform(0.1, 1, n)
    copies = X.copy(), y.copy(), sw.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier((3,), max_iter=3, random_state=seed).fit(X, y, sample_weight=sw)
    for a, b in zip((X, y, sw), copies, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 3, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MLPClassifier((5,), max_iter=5, random_state=0).fit(X, y)
    buf = tmp_path_factory.mktemp("f") / "m.lkm"
    return layerkit.save(est, buf).read_bytes(), est.predict_proba(X), X


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_the_loader_refuses_or_loads_the_same_model(model_file, tmp_path_factory, data):
    raw, expected, X = model_file
    damaged = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw) - 1))
        damaged[position] ^= data.draw(st.integers(1, 255))
    path = tmp_path_factory.mktemp("d") / "m.lkm"
    path.write_bytes(bytes(damaged))
    try:
        model = layerkit.load(path)
    except ModelFileError:
        return
    np.testing.assert_array_equal(model.predict_proba(X), expected)
