"""One table: every built-in layer and loss passes the gradient checker (eq. 3-1)."""

import numpy as np
import pytest
from helpers import Swish

from layerkit.gradcheck import check_layer, check_loss
from layerkit.layers import (
    ELU,
    GELU,
    Dense,
    Dropout,
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
from layerkit.losses import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    PoissonLoss,
    SquaredError,
)

LAYERS = [
    (Dense(3), {}),
    (Dense(4, init="he_normal", bias_init="uniform"), {}),
    (Sigmoid(), {}),
    (ReLU(), {}),
    (Tanh(), {}),
    (Identity(), {}),
    (LeakyReLU(0.1), {}),
    (Softmax(), {}),
    (Exp(), {}),
    (ELU(0.7), {}),
    (GELU(), {}),
    (SiLU(), {}),
    (Softplus(), {}),
    (Dropout(0.3), {"training": True}),
    (Dropout(0.3), {"training": False}),
    (Swish(0.7), {}),
]


@pytest.mark.parametrize(("layer", "kwargs"), LAYERS, ids=lambda v: repr(v))
def test_every_builtin_layer_passes_the_checker(layer, kwargs):
    report = check_layer(layer, **kwargs)
    assert "input" in report.errors
    assert set(report.errors) == {"input", *report_param_names(layer)}
    assert report.worst_error < 1e-6


def report_param_names(layer):
    probe = __import__("copy").deepcopy(layer)
    probe.build(5, np.random.default_rng(0), np.float64)
    return set(probe.params)


def _targets(kind, rng, shape):
    if kind == "onehot":
        return np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
    if kind == "binary":
        return rng.integers(0, 2, shape).astype(float)
    if kind == "counts":
        return rng.poisson(2.0, shape).astype(float)
    return rng.normal(size=shape)


LOSSES = [
    (SquaredError(), "real", "real"),
    (BinaryCrossEntropy(), "prob", "binary"),
    (CategoricalCrossEntropy(), "simplex", "onehot"),
    (PoissonLoss(), "positive", "counts"),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("loss", "a_kind", "y_kind"), LOSSES, ids=lambda v: repr(v))
def test_every_builtin_loss_passes_the_checker(loss, a_kind, y_kind, weighted, rng):
    shape = (6, 3)
    z = rng.normal(size=shape)
    a = {
        "real": z,
        "prob": 1 / (1 + np.exp(-z)),
        "simplex": np.exp(z) / np.exp(z).sum(axis=1, keepdims=True),
        "positive": np.exp(z),
    }[a_kind]
    y = _targets(y_kind, rng, shape)
    sw = rng.uniform(0.1, 2.0, shape[0]) if weighted else None
    report = check_loss(loss, a, y, sw)
    assert set(report.errors) == {"a", "logits"}
    assert report.worst_error < 1e-6
