"""No overflow, divide or invalid warnings for extreme finite inputs, in any activation
or loss, in float32 and float64; losses from the logits where the pair allows."""

import warnings

import numpy as np
import pytest

from layerkit.layers import (
    ELU,
    GELU,
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
from layerkit.losses import BinaryCrossEntropy, CategoricalCrossEntropy, PoissonLoss, SquaredError

DTYPES = [np.float32, np.float64]


def _extreme(dtype):
    big = np.finfo(dtype).max
    return np.array([[-big, -1e4, -50.0, 0.0, 1e-30, 50.0, 1e4, big]], dtype)


def _strict():
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("error")
    return ctx


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "layer",
    [
        *(ReLU(), LeakyReLU(0.1), Sigmoid(), Tanh(), Identity(), Softmax(), Exp(), Dropout(0.5)),
        *(ELU(0.5), GELU(), SiLU(), Softplus()),
    ],
    ids=repr,
)
def test_activations_are_warning_free_at_the_extremes(layer, dtype):
    z = _extreme(dtype)
    layer.build(z.shape[1], np.random.default_rng(0), dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for training in (False, True):
            a = layer.forward(z.copy(), training)
            d = layer.backward(np.ones_like(z))
            assert a.dtype == dtype and d.dtype == dtype
            assert not np.isnan(a).any() and not np.isnan(d).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("loss", "targets"),
    [
        (CategoricalCrossEntropy(), "onehot"),
        (BinaryCrossEntropy(), "binary"),
        (SquaredError(), "real"),
        (PoissonLoss(), "counts"),
    ],
    ids=lambda v: repr(v) if not isinstance(v, str) else v,
)
def test_losses_are_warning_free_at_the_extremes(loss, targets, dtype):
    z = np.vstack([_extreme(dtype)] * 2)
    y = {
        "onehot": np.eye(8)[[0, 7]],
        "binary": np.tile([0, 1, 0, 1, 0, 1, 0, 1], (2, 1)),
        "real": np.full((2, 8), 3.0),
        "counts": np.full((2, 8), 2.0),
    }[targets].astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = loss.value_from_logits(z, y)
        delta = loss.delta_from_logits(z, y)
        probabilities = loss.link_output(z, np.empty_like(z))
        loss.value(probabilities, y)
        loss.grad(probabilities, y)
    assert not np.isnan(value) and value >= 0  # may be inf: the honest value of such logits
    assert delta.dtype == dtype and not np.isnan(delta).any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_saturated_classifier_outputs_give_exact_losses(dtype):
    z = np.array([[1e4, -1e4], [-1e4, 1e4]], dtype)
    y = np.array([[0, 1], [0, 1]], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert CategoricalCrossEntropy().value_from_logits(z, y) == pytest.approx(1e4)
        assert BinaryCrossEntropy().value_from_logits(z, y) == pytest.approx(1e4)


def test_elus_derivative_keeps_its_precision_in_the_negative_tail():
    # σ'(z) = alpha exp(z) for z <= 0; computed as a + alpha it would cancel to 0
    z = np.array([[-1.0, -20.0, -30.0, -50.0, -700.0]])
    layer = ELU(0.7)
    layer.forward(z)
    np.testing.assert_allclose(layer.backward(np.ones_like(z)), 0.7 * np.exp(z), rtol=1e-14)
