"""learning_rate='cosine': the step size annealed over each fit's max_iter epochs,
η_k = η_0 (1 + cos(π k / max_iter)) / 2 after epoch k."""

import copy
import math
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from layerkit import MLPClassifier, MLPRegressor
from layerkit.optim import Adam

X, y = load_digits(return_X_y=True)
X = X[:600] / 16
y = y[:600]
BASE = 0.05
EPOCHS = 6


def _quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def _rate(k, epochs=EPOCHS, base=BASE):
    return base * (1 + math.cos(math.pi * k / epochs)) / 2


def test_the_rates_by_hand():
    assert [round(_rate(k, 4, 1.0), 12) for k in range(5)] == [
        1.0,
        round((1 + math.sqrt(0.5)) / 2, 12),
        0.5,
        round((1 - math.sqrt(0.5)) / 2, 12),
        0.0,
    ]


@pytest.mark.parametrize("shuffle", [True, False])
def test_each_epoch_steps_at_its_cosine_rate(shuffle):
    """Plain SGD's epochs under 'cosine' are the epochs of warm-started one-epoch fits
    at the constant rates η_0, η_1, ..., η_5 (the shuffling stream carries on)."""
    settings = dict(
        hidden_layer_sizes=(16,), solver="sgd", momentum=0.0, shuffle=shuffle, random_state=0
    )
    annealed = _quiet_fit(
        MLPClassifier(
            learning_rate="cosine", learning_rate_init=BASE, max_iter=EPOCHS, **settings
        ),
        X,
        y,
    )
    chained = MLPClassifier(max_iter=1, warm_start=True, **settings)
    for k in range(EPOCHS):
        _quiet_fit(chained.set_params(learning_rate_init=_rate(k)), X, y)
    np.testing.assert_allclose(annealed.loss_curve_, chained.loss_curve_, rtol=1e-12)
    for got, expected in zip(annealed.coefs_, chained.coefs_, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    constant = _quiet_fit(
        MLPClassifier(learning_rate_init=BASE, max_iter=EPOCHS, **settings), X, y
    )
    assert not np.allclose(annealed.coefs_[0], constant.coefs_[0])


def test_adam_follows_the_schedule_and_a_stop_leaves_the_rate_of_its_epoch():
    """'cosine' applies to adam too (scikit-learn's schedules do not); a fit stopped
    after 3 of 10 epochs leaves the rate after epoch 3."""
    est = MLPClassifier(
        (16,),
        learning_rate="cosine",
        learning_rate_init=BASE,
        max_iter=10,
        n_iter_no_change=1,
        tol=1e9,  # (the first epoch improves on no loss; the next two do not, by that)
        random_state=0,
    ).fit(X, y)
    assert est.n_iter_ == 3
    assert est._optimizer.current_learning_rate == pytest.approx(_rate(3, 10))
    full = _quiet_fit(est.set_params(tol=0.0, n_iter_no_change=100), X, y)
    # (the last epoch's rate stays: the rate of 0 after it would train nothing, and a
    # model file holds positive step sizes)
    assert full.n_iter_ == 10 and full._optimizer.current_learning_rate == _rate(9, 10)
    with_object = _quiet_fit(
        MLPRegressor(
            (8,), solver=Adam(learning_rate=0.01), learning_rate="cosine", max_iter=4
        ).set_params(random_state=0, n_iter_no_change=100),
        X,
        y.astype(float),
    )
    assert with_object._optimizer.current_learning_rate == _rate(3, 4, 0.01)


def test_a_warm_started_fit_starts_a_new_cycle_at_learning_rate_init():
    est = _quiet_fit(
        MLPClassifier(
            (16,),
            solver="sgd",
            momentum=0.0,  # (a velocity carried over would move the weights at rate 0)
            learning_rate="cosine",
            learning_rate_init=BASE,
            max_iter=3,
            n_iter_no_change=100,
            warm_start=True,
            random_state=0,
        ),
        X,
        y,
    )
    assert est._optimizer.current_learning_rate == _rate(2, 3)  # (the cycle's last)
    continued = copy.deepcopy(est)
    _quiet_fit(continued.set_params(max_iter=2), X, y)
    by_hand = est.set_params(max_iter=1, learning_rate="constant", warm_start=True)
    _quiet_fit(by_hand.set_params(learning_rate_init=BASE), X, y)  # η_0, then η_1 of 2
    _quiet_fit(by_hand.set_params(learning_rate_init=_rate(1, 2)), X, y)
    for got, expected in zip(continued.coefs_, by_hand.coefs_, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_reaching_max_iter_is_the_plan_and_warns_of_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = MLPClassifier((8,), learning_rate="cosine", max_iter=3, random_state=0).fit(X, y)
    assert est.n_iter_ == 3
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        est.set_params(learning_rate="constant").fit(X, y)


def test_partial_fit_refuses_cosine():
    est = MLPClassifier((4,), learning_rate="cosine", solver="sgd")
    with pytest.raises(ValueError, match=r"MLPClassifier: learning_rate='cosine' anneals"):
        est.partial_fit(X, y, classes=np.arange(10))
