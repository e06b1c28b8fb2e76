"""Ctrl-C during fit stops at a batch boundary, warns, and keeps a usable model."""

import os
import signal

import numpy as np
import pytest

from layerkit import MLPClassifier, TrainingInterrupted
from layerkit.layers import Dense, ReLU

rng = np.random.default_rng(0)
X = rng.normal(size=(300, 4))
y = rng.integers(0, 2, 300)


@pytest.fixture(autouse=True)
def interactive_sigint():
    """SIGINT as in a terminal. A process started in the background (nohup, `&` in a
    script) inherits SIGINT ignored, and layerkit then leaves it alone, as it should."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class PressesCtrlC(ReLU, register=False):
    """Sends SIGINT to this process on its n-th forward pass, as Ctrl-C would."""

    def __init__(self, at=5):
        self.at = at

    def forward(self, x, training=False):
        self.__dict__["calls"] = self.__dict__.get("calls", 0) + 1
        if self.calls == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        return super().forward(x, training)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_ctrl_c_stops_cleanly_and_keeps_the_model(solver):
    clf = MLPClassifier(
        layers=[Dense(8), PressesCtrlC(at=25)],
        solver=solver,
        batch_size=20,
        max_iter=200,
        random_state=0,
    )
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        clf.fit(X, y)
    assert 0 < clf.n_iter_ < 200
    assert all(np.isfinite(p).all() for p in clf.network_.params.values())
    assert clf.predict(X).shape == (300,)
    assert len(clf.loss_curve_) == clf.n_iter_
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_an_interrupted_model_can_continue():
    clf = MLPClassifier(
        layers=[Dense(8), PressesCtrlC(at=10)],
        batch_size=50,
        max_iter=30,
        random_state=0,
        warm_start=True,
    )
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X, y)
    first = clf.n_iter_
    with pytest.warns(Warning):  # ConvergenceWarning at max_iter: not interrupted again
        clf.fit(X, y)
    assert clf.n_iter_ == 30 and len(clf.loss_curve_) == first + 30


def test_an_epoch_cut_short_counts_the_samples_its_batches_trained_on():
    # 300 rows in batches of 50: the 10th forward pass is epoch 2's 4th batch
    clf = MLPClassifier(layers=[Dense(8), PressesCtrlC(at=10)], batch_size=50, max_iter=30)
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X, y)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 1  # one whole epoch
    assert clf.t_ == 300 + 4 * 50  # but the weights saw four more batches


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_an_applications_own_interrupt_handler_still_ends_a_fit_cleanly(solver):
    """With a SIGINT handler of the application's that raises KeyboardInterrupt (so
    layerkit does not install its own), the interrupt still ends the fit with the
    TrainingInterrupted warning, never a half-finished solver state."""

    def raising(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, raising)
    clf = MLPClassifier(
        layers=[Dense(8), PressesCtrlC(at=25)], solver=solver, batch_size=20, max_iter=200
    )
    with pytest.warns(TrainingInterrupted):
        clf.fit(X, y)
    assert clf.predict(X).shape == (300,)
    assert signal.getsignal(signal.SIGINT) is raising


def test_ctrl_c_outside_fit_is_untouched():
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10**7):
            pass


def test_with_early_stopping_the_message_says_the_best_epoch_is_kept():
    clf = MLPClassifier(
        layers=[Dense(8), PressesCtrlC(at=40)], batch_size=20, max_iter=50, early_stopping=True
    )
    with pytest.warns(TrainingInterrupted, match="weights of the best epoch"):
        clf.fit(X, y)


def test_a_partial_fit_loop_stops_when_the_warning_is_made_an_error():
    """What docs/scaling.md advises for a loop: the interrupted call raises, and (all or
    nothing) leaves the model of the calls before it."""
    import copy
    import warnings

    clf = MLPClassifier(layers=[Dense(8), PressesCtrlC(at=7)], batch_size=20, random_state=0)
    chunks = np.array_split(np.arange(300), 6)
    done = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingInterrupted)
        with pytest.raises(TrainingInterrupted):
            for rows in chunks:  # 50 rows, 3 batches per call: the 7th batch is call 3's
                before = copy.deepcopy(clf.__dict__.get("network_"))
                clf.partial_fit(X[rows], y[rows], classes=[0, 1])
                done.append(len(rows))
    assert len(done) == 2 and clf.t_ == 100
    for name, p in clf.network_.params.items():
        np.testing.assert_array_equal(p, before.params[name])
    clf.network_.layers[1].at = -1  # (the restored layer would press Ctrl-C again)
    assert clf.predict(X).shape == (300,)


def test_interrupted_before_any_epoch_is_scored_the_message_says_so():
    clf = MLPClassifier(
        layers=[Dense(8), PressesCtrlC(at=2)], batch_size=20, max_iter=50, early_stopping=True
    )
    with pytest.warns(TrainingInterrupted, match="it started this fit with .* no epoch"):
        clf.fit(X, y)
    assert clf.n_iter_ == 0 and clf.validation_scores_ == []
