"""A diverging fit stops at the first non-finite loss with DivergenceError, naming the
epoch and the batch, and leaves the estimator as it was."""

import warnings

import numpy as np
import pytest

from layerkit import DivergenceError, MLPClassifier, MLPRegressor, Sequential
from layerkit.layers import Dense, Identity
from layerkit.losses import SquaredError
from layerkit.optim import SGD

rng = np.random.default_rng(0)
X = rng.normal(size=(200, 4)) * 1e3  # unscaled inputs
y = X @ np.array([1.0, -2.0, 3.0, 0.5]) * 1e3


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_divergence_names_epoch_batch_and_remedies(momentum):
    reg = MLPRegressor(
        (8,), solver="sgd", learning_rate_init=10.0, momentum=momentum, max_iter=50, random_state=0
    )
    with pytest.raises(
        DivergenceError,
        match=r"diverged: the loss of epoch \d+, batch \d+ is (nan|inf)\. Lower the learning rate \(learning_rate_init\) \(it is 10\), or scale the inputs",
    ) as err:
        reg.fit(X, y)
    assert err.value.epoch >= 1 and err.value.batch >= 1
    assert isinstance(err.value, ValueError)
    assert not hasattr(reg, "network_")


def test_divergence_of_a_warm_start_keeps_the_previous_model():
    Xs = X / 1e3
    ys = y / 1e6
    reg = MLPRegressor((8,), solver="sgd", max_iter=20, random_state=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(Xs, ys)
    before = {k: v.copy() for k, v in reg.network_.params.items()}
    curve = list(reg.loss_curve_)
    reg.set_params(learning_rate_init=1e6)
    with pytest.raises(DivergenceError):
        reg.fit(X, y)
    for name, p in reg.network_.params.items():
        np.testing.assert_array_equal(p, before[name])  # the live arrays, restored in place
    assert reg.loss_curve_ == curve
    reg.set_params(learning_rate_init=1e-3)
    assert np.isfinite(reg.predict(Xs)).all()


def test_lbfgs_divergence_is_reported():
    huge = np.full((20, 2), 1e200)
    reg = MLPRegressor((4,), solver="lbfgs", random_state=0)
    with pytest.raises(DivergenceError, match="lbfgs evaluation 1"):
        reg.fit(huge, np.full(20, 1e200))
    assert not hasattr(reg, "network_")


def test_the_low_level_loop_raises_too():
    net = Sequential([Dense(1), Identity()]).build(4, random_state=0)
    with pytest.raises(DivergenceError, match=r"epoch \d+, batch \d+ is (nan|inf)"):
        net.fit(X, y, loss=SquaredError(), optimizer=SGD(1e3), max_iter=3)


def test_a_nan_validation_score_never_improves():
    # covered in detail in tests/test_estimators_training.py; here: a diverging
    # early-stopping classifier raises instead of keeping NaN weights
    clf = MLPClassifier(
        (8,),
        solver="sgd",
        learning_rate_init=1e4,
        momentum=0.0,
        early_stopping=True,
        random_state=0,
    )
    with pytest.raises(DivergenceError):
        clf.fit(X * 1e3, (y > 0).astype(int))
