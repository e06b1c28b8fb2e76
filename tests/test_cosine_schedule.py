"""learning_rate='cosine': the step size annealed over each fit's max_iter epochs,
η_k = η_0 (1 + cos(π k / max_iter)) / 2 after epoch k."""

import copy
import math
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import layerkit
from layerkit import MLPClassifier, MLPRegressor
from layerkit.estimators._stochastic import cosine_rate
from layerkit.optim import Adam

X, y = load_digits(return_X_y=True)
X = X[:600] / 16
y = y[:600]
BASE = 0.05
EPOCHS = 6
#: plain SGD under 'cosine', never stopped by the training loss
CYCLE = dict(
    hidden_layer_sizes=(16,),
    solver="sgd",
    learning_rate="cosine",
    learning_rate_init=BASE,
    n_iter_no_change=100,
    random_state=0,
)


def _quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def _rate(k, epochs=EPOCHS, base=BASE):
    return base * (1 + math.cos(math.pi * k / epochs)) / 2


def test_the_rates_by_hand():
    assert [cosine_rate(1.0, k, 4) for k in range(5)] == pytest.approx(
        [1.0, (1 + math.sqrt(0.5)) / 2, 0.5, (1 - math.sqrt(0.5)) / 2, 0.0], abs=1e-15
    )
    assert cosine_rate(0.05, 3, 6) == pytest.approx(0.025)


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


def test_adam_follows_the_schedule_and_runs_the_whole_cycle():
    """'cosine' applies to adam too (scikit-learn's schedules do not), and the training
    loss's n_iter_no_change rule does not cut the cycle short."""
    est = MLPClassifier(
        (16,),
        learning_rate="cosine",
        learning_rate_init=BASE,
        max_iter=10,
        n_iter_no_change=1,
        tol=1e9,  # (no epoch improves by that: without cosine, a stop after 3 epochs)
        random_state=0,
    ).fit(X, y)
    # (the last epoch's rate stays: the rate of 0 after it would train nothing, and a
    # model file holds positive step sizes)
    assert est.n_iter_ == 10 and est._optimizer.current_learning_rate == _rate(9, 10)
    held = _quiet_fit(est.set_params(learning_rate="constant", warm_start=False), X, y)
    assert held.n_iter_ == 3
    with_object = _quiet_fit(
        MLPRegressor(
            (8,), solver=Adam(learning_rate=0.01), learning_rate="cosine", max_iter=4
        ).set_params(random_state=0, n_iter_no_change=100),
        X,
        y.astype(float),
    )
    assert with_object._optimizer.current_learning_rate == _rate(3, 4, 0.01)


def test_early_stopping_still_stops_a_cosine_fit_at_the_rate_of_its_epoch():
    est = MLPClassifier(
        (16,),
        learning_rate="cosine",
        learning_rate_init=BASE,
        max_iter=10,
        early_stopping=True,
        n_iter_no_change=1,
        tol=1e9,  # (no validation score improves by that: a stop after 3 epochs)
        random_state=0,
    ).fit(X, y)
    assert est.n_iter_ == 3
    assert est._optimizer.current_learning_rate == pytest.approx(_rate(3, 10))
    assert "_cosine_cycle" not in est.__dict__ or est._cosine_cycle is None  # (it is over)


@pytest.mark.parametrize("stop_after", [1, 2, 3])
def test_a_fit_stopped_mid_cycle_resumes_it_as_the_unbroken_fit(stop_after, tmp_path):
    """A fit stopped mid-cycle (here by a callback's stop; Ctrl-C and a copy saved
    then leave the same record), saved and loaded, completes its cycle when
    warm-started for the epochs left."""
    settings = CYCLE
    unbroken = _quiet_fit(MLPClassifier(max_iter=4, **settings), X, y)
    part = MLPClassifier(max_iter=4, **settings)  # (stopped after `stop_after` epochs)
    _fit_stopped(part, stop_after)
    assert part._cosine_cycle == (stop_after, 4)
    resumed = layerkit.load(layerkit.save(part, tmp_path / "part.lkm"))
    _quiet_fit(resumed.set_params(warm_start=True, max_iter=4 - stop_after), X, y)
    assert resumed.loss_curve_ == unbroken.loss_curve_
    for got, expected in zip(resumed.coefs_, unbroken.coefs_, strict=True):
        np.testing.assert_array_equal(got, expected)
    assert resumed.__dict__.get("_cosine_cycle") is None  # (finished)


def _fit_stopped(est, epochs):
    """Fit ``est`` but stop it after ``epochs`` epochs, as a callback or Ctrl-C would."""
    from layerkit.estimators import _stochastic

    real = _stochastic.FitReport.epoch_done
    done = []

    def stop(report, fitted):
        real(report, fitted)
        done.append(1)
        return len(done) == epochs

    _stochastic.FitReport.epoch_done = stop
    try:
        _quiet_fit(est, X, y)
    finally:
        _stochastic.FitReport.epoch_done = real


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


def test_a_resumed_cycle_that_ends_before_max_iter_starts_a_new_one_over_the_rest():
    settings = CYCLE
    part = MLPClassifier(max_iter=4, **settings)
    _fit_stopped(part, 2)
    _quiet_fit(part.set_params(warm_start=True, max_iter=4), X, y)  # 2 left, then 2 more
    assert part.n_iter_ == 4 and len(part.loss_curve_) == 6
    # the new cycle of 2 epochs: epoch 1 at η_0, epoch 2 at η_0 / 2, whose rate stays
    assert part._optimizer.current_learning_rate == pytest.approx(BASE / 2)
    assert part.__dict__.get("_cosine_cycle") is None


def test_a_stopped_cycle_resumes_whatever_the_training_loss_did():
    """(a review: with the default n_iter_no_change, the count of epochs without
    improvement passed it during the cycle, and the resumed fit took the model for
    converged and started a new cycle at the full rate)"""
    settings = dict(CYCLE, n_iter_no_change=1, tol=1e9)  # (no epoch improves by that)
    unbroken = _quiet_fit(MLPClassifier(max_iter=6, **settings), X, y)
    part = MLPClassifier(max_iter=6, **settings)
    _fit_stopped(part, 3)
    assert part._no_improvement_count > part.n_iter_no_change
    _quiet_fit(part.set_params(warm_start=True, max_iter=3), X, y)
    assert part.loss_curve_ == unbroken.loss_curve_
    assert part._optimizer.current_learning_rate == unbroken._optimizer.current_learning_rate


def test_a_fit_from_scratch_or_under_another_schedule_forgets_an_unfinished_cycle():
    est = MLPClassifier(max_iter=6, **CYCLE)
    _fit_stopped(est, 2)
    assert est._cosine_cycle == (2, 6)
    _quiet_fit(est.set_params(learning_rate="constant", warm_start=True, max_iter=1), X, y)
    assert "_cosine_cycle" not in est.__dict__
    _quiet_fit(est.set_params(learning_rate="cosine", max_iter=4), X, y)  # a new cycle
    assert est._optimizer.current_learning_rate == _rate(3, 4)
    _fit_stopped(est.set_params(max_iter=6, warm_start=False), 2)
    _quiet_fit(est.set_params(solver="lbfgs", max_iter=2), X, y)  # (from scratch)
    assert "_cosine_cycle" not in est.__dict__


def test_an_lbfgs_warm_start_forgets_an_unfinished_cycle():
    est = MLPClassifier(max_iter=6, **CYCLE)
    _fit_stopped(est, 2)
    assert est._cosine_cycle == (2, 6)
    _quiet_fit(est.set_params(warm_start=True, solver="lbfgs", max_iter=3), X, y)
    assert "_cosine_cycle" not in est.__dict__
    _quiet_fit(est.set_params(solver="sgd", max_iter=4), X, y)  # (a new cycle of 4)
    assert est._optimizer.current_learning_rate == _rate(3, 4)
