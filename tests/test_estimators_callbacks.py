"""scikit-learn's callback API: every epoch is a task, nested under Pipeline and GridSearchCV."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from layerkit import DivergenceError, MLPClassifier, MLPRegressor

callback = pytest.importorskip("sklearn.callback", reason="scikit-learn < 1.9 has no callbacks")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


class Recorder:
    """A FitCallback that records every hook and can ask to stop after some epochs."""

    def __init__(self, stop_after=None):
        self.stop_after = stop_after
        self.events = []
        self.fitted = []

    def setup(self, estimator, context):
        self.events.append(("setup", None))

    def teardown(self, estimator, context):
        self.events.append(("teardown", None))

    def on_fit_task_begin(self, estimator, context):
        self.events.append(("begin", context.task_name))

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.events.append(("end", context.task_name))
        self.fitted.append(fitted_estimator)
        epochs = sum(event == ("end", "epoch") for event in self.events)
        return context.task_name == "epoch" and epochs == self.stop_after

    def count(self, event):
        return self.events.count(event)


def quiet_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_one_task_per_epoch_and_the_fitted_copy_is_the_model_at_that_epoch(digits, solver):
    X, y = digits
    monitor = callback.ScoringMonitor(scoring="accuracy")
    params = dict(hidden_layer_sizes=(16,), solver=solver, max_iter=6, random_state=0)
    est = quiet_fit(MLPClassifier(**params).set_callbacks(monitor), X, y)
    rows = monitor.get_logs().data
    epochs = [row for row in rows if row["task_name"] == "epoch"]
    assert [row["task_id"] for row in epochs] == list(range(est.n_iter_))
    root = [row for row in rows if row["task_name"] == "fit"]
    assert len(root) == 1 and root[0]["accuracy"] == est.score(X, y)
    # the copy handed to the callbacks after epoch k predicts like a fit of k epochs
    for k in (1, est.n_iter_):
        shorter = quiet_fit(MLPClassifier(**{**params, "max_iter": k}), X, y)
        assert epochs[k - 1]["accuracy"] == shorter.score(X, y)


def test_an_epoch_copy_does_not_move_with_later_training(digits):
    X, y = digits
    recorder = Recorder()
    params = dict(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    est = quiet_fit(MLPClassifier(**params).set_callbacks(recorder), X, y)
    first_epoch, last = recorder.fitted[0], recorder.fitted[-1]
    one_epoch = quiet_fit(MLPClassifier(**{**params, "max_iter": 1}), X, y)
    np.testing.assert_array_equal(first_epoch.predict_proba(X), one_epoch.predict_proba(X))
    assert first_epoch.network_ is not est.network_
    # the root task's copy is the fitted estimator itself, sharing its network
    assert last is not est and last.network_ is est.network_


def test_early_stopping_epoch_copies_hold_the_best_weights(digits):
    X, y = digits
    monitor = callback.ScoringMonitor(scoring="accuracy")
    est = MLPClassifier(
        hidden_layer_sizes=(16,), early_stopping=True, max_iter=8, random_state=0
    ).set_callbacks(monitor)
    quiet_fit(est, X, y)
    epochs = [row for row in monitor.get_logs().data if row["task_name"] == "epoch"]
    assert len(epochs) == est.n_iter_
    assert epochs[-1]["accuracy"] == est.score(X, y)  # the restored best weights


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_callback_can_stop_training(digits, solver):
    X, y = digits
    recorder = Recorder(stop_after=3)
    est = MLPClassifier(hidden_layer_sizes=(8,), solver=solver, max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # stopped on request: no ConvergenceWarning
        est.set_callbacks(recorder).fit(X, y)
    assert est.n_iter_ == 3 and len(est.loss_curve_) == 3
    assert recorder.count(("end", "epoch")) == 3
    assert recorder.count(("teardown", None)) == 1


def test_partial_fit_is_one_epoch_per_call(digits):
    X, y = digits
    recorder = Recorder()
    est = MLPClassifier(hidden_layer_sizes=(8,), random_state=0).set_callbacks(recorder)
    for _ in range(3):
        est.partial_fit(X, y, classes=np.arange(10))
    assert recorder.count(("end", "epoch")) == 3
    assert recorder.count(("end", "fit")) == 3
    assert recorder.count(("setup", None)) == recorder.count(("teardown", None)) == 3


def test_a_failed_fit_still_tears_the_callbacks_down_and_changes_nothing():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 3)), rng.normal(size=50) * 1e30
    recorder = Recorder()
    est = MLPRegressor(solver="sgd", learning_rate_init=10.0, max_iter=5, random_state=0)
    est.set_callbacks(recorder)
    with pytest.raises(DivergenceError):
        est.fit(X, y)
    assert recorder.count(("setup", None)) == recorder.count(("teardown", None)) == 1
    assert not hasattr(est, "network_") and not hasattr(est, "_callback_fit_ctx")


def test_progress_bar_and_scoring_monitor_inside_grid_search(digits, capsys):
    pytest.importorskip("rich", reason="ProgressBar needs rich")
    X, y = digits
    monitor = callback.ScoringMonitor(scoring="accuracy")
    mlp = MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, random_state=0)
    pipe = make_pipeline(StandardScaler(), mlp.set_callbacks(monitor))
    search = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1]}, cv=2)
    search.set_callbacks(callback.ProgressBar(max_propagation_depth=None))
    quiet_fit(search, X, y)
    shown = capsys.readouterr().out
    assert "GridSearchCV - fit" in shown and "MLPClassifier - fit" in shown
    rows = monitor.get_logs().data
    # 4 fits in the search (2 candidates x 2 folds) and the refit, 4 epochs each
    fits = [row for row in rows if row["task_name"] == "fit"]
    epochs = [row for row in rows if row["task_name"] == "epoch"]
    assert len(fits) == 5 and len(epochs) == 5 * 4
    # each epoch hangs under its fit, under the pipeline's step, under the search
    parents = {row["parent_task_id_path"] for row in epochs}
    assert parents == {row["task_id_path"] for row in fits}
    assert all(len(path) >= 3 for path in parents)
    [refit] = [row for row in fits if len(row["task_id_path"]) == 3]
    assert refit["accuracy"] == search.best_estimator_.score(X, y)


def test_callbacks_survive_clone_and_do_not_enter_the_params():
    from sklearn.base import clone

    recorder = Recorder()
    est = MLPClassifier().set_callbacks(recorder)
    assert "callbacks" not in est.get_params()
    assert clone(est)._skl_callbacks == [recorder]


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="adam", max_iter=2),  # ConvergenceWarning from the epoch loop
        dict(solver="lbfgs", max_iter=2),  # ConvergenceWarning after scipy
        dict(solver="sgd", max_iter=2, batch_size=10_000),  # batch size clipped
    ],
)
def test_solver_warnings_point_at_the_callers_line(digits, params):
    X, y = digits
    with pytest.warns(UserWarning) as record:
        MLPClassifier(hidden_layer_sizes=(4,), random_state=0, **params).fit(X, y)
    assert {Path(w.filename).name for w in record} == {Path(__file__).name}


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_a_fitted_copy_saved_by_a_callback_resumes_as_the_unbroken_fit(digits, solver, tmp_path):
    """The copy has its own optimizer state, shuffling stream and history: before, it had
    no optimizer state (resumed training restarted Adam) and shared the live loss_curve_."""
    import layerkit

    X, y = digits
    kw = dict(solver=solver, learning_rate_init=0.01, batch_size=64, random_state=0)
    recorder = Recorder()
    est = MLPClassifier((16,), max_iter=4, **kw).set_callbacks(recorder)
    quiet_fit(est, X, y)
    at_2 = [f for f in recorder.fitted if f is not None][1]
    assert len(at_2.loss_curve_) == 2  # (the live list grew to 4)
    resumed = layerkit.load(layerkit.save(at_2, tmp_path / "epoch2.lkm"))
    quiet_fit(resumed.set_params(warm_start=True, max_iter=2), X, y)
    unbroken = quiet_fit(MLPClassifier((16,), max_iter=4, **kw), X, y)
    assert resumed.loss_curve_ == unbroken.loss_curve_
    for a, b in zip(resumed.coefs_, unbroken.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


def test_copies_saved_at_every_epoch_resume_exactly_under_the_adaptive_schedule(digits, tmp_path):
    """The copy is taken after the epoch's schedule step: a copy from an epoch where
    'adaptive' divided the learning rate kept the old rate, and resumed apart."""
    import layerkit

    X, y = digits
    kw = dict(
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.05,
        n_iter_no_change=1,
        tol=0.5,  # (no epoch improves that much: the rate is divided every other epoch)
        batch_size=64,
        random_state=0,
    )
    recorder = Recorder()
    unbroken = MLPClassifier((16,), max_iter=6, **kw).set_callbacks(recorder)
    quiet_fit(unbroken, X, y)
    copies = [f for f in recorder.fitted if f is not None][:-1]  # (the last: the fit's end)
    rates = {c._optimizer.current_learning_rate for c in copies}
    assert len(rates) > 1  # the schedule acted
    for epoch, copy_ in enumerate(copies[:-1], start=1):
        resumed = layerkit.load(layerkit.save(copy_, tmp_path / f"e{epoch}.lkm"))
        quiet_fit(resumed.set_params(warm_start=True, max_iter=6 - epoch), X, y)
        assert resumed.loss_curve_ == unbroken.loss_curve_, epoch


class _PickleEveryEpoch:
    """A checkpoint callback, skorch's way: each epoch's fitted copy, pickled."""

    def setup(self, estimator, context):
        self.blobs = []

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, **kwargs):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None, **kwargs):
        if context.task_name == "epoch":
            import pickle

            self.blobs.append(pickle.dumps(fitted_estimator))
        return False


def test_an_epochs_fitted_copy_holds_the_model_not_the_callbacks():
    """(a trial: the copy held the callbacks and the fit's context, so a checkpoint
    callback pickling it pickled itself with every earlier checkpoint: twice the size
    each epoch, and a deepcopy per epoch reached 23 GB in 200 epochs)"""
    import pickle

    X, y = load_digits(return_X_y=True)
    checkpoints = _PickleEveryEpoch()
    clf = MLPClassifier((16,), max_iter=8, random_state=0).set_callbacks(checkpoints)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X / 16, y)
    sizes = [len(blob) for blob in checkpoints.blobs]
    assert len(sizes) == 8 and max(sizes) < 1.01 * min(sizes), sizes
    last = pickle.loads(checkpoints.blobs[-1])
    assert last._skl_callbacks == [] and clf._skl_callbacks == [checkpoints]
    np.testing.assert_array_equal(last.predict_proba(X / 16), clf.predict_proba(X / 16))
    again = _PickleEveryEpoch()  # the copy trains on, with callbacks of its own
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        last.set_callbacks(again).fit(X / 16, y)
    assert len(again.blobs) == 8


def test_a_copy_saved_mid_cycle_under_cosine_resumes_as_the_unbroken_fit(digits, tmp_path):
    """The default n_iter_no_change and tol, adam: a copy from the middle of a cosine
    cycle, saved and loaded, completes the cycle as the unbroken fit does."""
    import layerkit

    X, y = digits
    kw = dict(learning_rate="cosine", learning_rate_init=0.05, batch_size=64, random_state=0)
    recorder = Recorder()
    unbroken = MLPClassifier((16,), max_iter=12, **kw).set_callbacks(recorder)
    quiet_fit(unbroken, X, y)
    at_5 = [f for f in recorder.fitted if f is not None][4]
    assert at_5._cosine_cycle == (5, 12)
    resumed = layerkit.load(layerkit.save(at_5, tmp_path / "epoch5.lkm"))
    quiet_fit(resumed.set_params(warm_start=True, max_iter=7), X, y)
    assert resumed.loss_curve_ == unbroken.loss_curve_
    for a, b in zip(resumed.coefs_, unbroken.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
