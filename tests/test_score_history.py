"""layerkit.callbacks.ScoreHistory: held-out metrics after every epoch, as sklearn's metrics."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, f1_score, log_loss, make_scorer, r2_score

from layerkit import InvalidParameterError, MLPClassifier, MLPRegressor
from layerkit.callbacks import ScoreHistory

pytest.importorskip("sklearn.callback", reason="scikit-learn < 1.9 has no callbacks")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return X[:400], y[:400], X[400:600], y[400:600]


def quiet_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def test_each_row_is_scikit_learns_metrics_of_the_model_at_that_epoch(digits):
    X, y, X_val, y_val = digits
    params = dict(hidden_layer_sizes=(16,), max_iter=4, random_state=0)
    history = ScoreHistory(X_val, y_val, scoring=["accuracy", "neg_log_loss", "f1_macro"])
    quiet_fit(MLPClassifier(**params).set_callbacks(history), X, y)
    rows = history.history_
    assert list(rows) == ["epoch", "accuracy", "neg_log_loss", "f1_macro"]
    assert rows["epoch"] == [1, 2, 3, 4]
    assert all(len(column) == 4 for column in rows.values())
    for k in (1, 4):
        shorter = quiet_fit(MLPClassifier(**{**params, "max_iter": k}), X, y)
        predicted = shorter.predict(X_val)
        assert rows["accuracy"][k - 1] == accuracy_score(y_val, predicted)
        assert rows["f1_macro"][k - 1] == f1_score(y_val, predicted, average="macro")
        expected = -log_loss(y_val, shorter.predict_proba(X_val), labels=shorter.classes_)
        assert rows["neg_log_loss"][k - 1] == pytest.approx(expected, rel=1e-12)
    assert rows["accuracy"][0] != rows["accuracy"][-1]  # (the model did move)


def test_a_dict_of_scorers_with_weights_for_a_regressor():
    X, y = make_friedman1(n_samples=300, random_state=0)
    X_val, y_val = X[200:], y[200:]
    weights = np.linspace(0.5, 2.0, 100)

    def max_error_scorer(estimator, X, y, sample_weight=None):
        return -float(np.max(np.abs(estimator.predict(X) - y)))

    history = ScoreHistory(
        X_val,
        y_val,
        scoring={"r2": "r2", "worst": max_error_scorer, "weighted_r2": make_scorer(r2_score)},
        sample_weight=weights,
        every=2,
    )
    est = quiet_fit(
        MLPRegressor(hidden_layer_sizes=(16,), max_iter=6, random_state=0).set_callbacks(history),
        X[:200],
        y[:200],
    )
    assert history.history_["epoch"] == [2, 4, 6]
    predicted = est.predict(X_val)
    assert history.history_["r2"][-1] == r2_score(y_val, predicted, sample_weight=weights)
    assert history.history_["weighted_r2"][-1] == history.history_["r2"][-1]
    assert history.history_["worst"][-1] == -np.max(np.abs(predicted - y_val))
    assert history.X is X_val or np.shares_memory(history.X, X_val)  # (no copy kept)


def test_a_warm_start_appends_and_a_fit_from_scratch_starts_anew(digits):
    X, y, X_val, y_val = digits
    history = ScoreHistory(X_val, y_val)
    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    quiet_fit(est.set_callbacks(history), X, y)
    first = list(history.history_["score"])
    quiet_fit(est.set_params(warm_start=True, max_iter=2), X, y)
    assert history.history_["epoch"] == [1, 2, 3, 4, 5]
    assert history.history_["score"][:3] == first
    assert history.history_["score"][-1] == est.score(X_val, y_val)
    quiet_fit(est.set_params(warm_start=False, max_iter=2), X, y)
    assert history.history_["epoch"] == [1, 2]
    assert history.history_["score"][0] == first[0]  # (the same seed: the same first epoch)


def test_with_early_stopping_a_row_scores_the_model_kept_so_far(digits):
    X, y, X_val, y_val = digits
    history = ScoreHistory(X_val, y_val, scoring="accuracy")
    est = MLPClassifier(
        hidden_layer_sizes=(16,), early_stopping=True, n_iter_no_change=2, random_state=0
    )
    quiet_fit(est.set_callbacks(history), X, y)
    assert history.history_["epoch"] == list(range(1, est.n_iter_ + 1))
    best = est.best_epoch_
    assert history.history_["accuracy"][best - 1 :] == [est.score(X_val, y_val)] * (
        est.n_iter_ - best + 1
    )


@pytest.mark.parametrize(
    ("estimator", "scoring", "error", "match"),
    [
        (MLPClassifier, ["accuracy", "r2"], InvalidParameterError, "scores regression"),
        (MLPRegressor, "neg_log_loss", InvalidParameterError, "predict_proba, which"),
        (MLPClassifier, {"acc": accuracy_score}, InvalidParameterError, "metric function"),
    ],
)
def test_a_scorer_that_cannot_score_the_model_is_refused_before_training(
    digits, estimator, scoring, error, match
):
    X, y, X_val, y_val = digits
    est = estimator(hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    est.set_callbacks(ScoreHistory(X_val, y_val, scoring=scoring))
    with pytest.raises(error, match=match) as info:
        est.fit(X, y)
    assert str(info.value).startswith(f"ScoreHistory on {estimator.__name__}: scoring")
    assert not hasattr(est, "network_")


def test_a_weighted_history_refuses_a_scorer_without_weights(digits):
    X, y, X_val, y_val = digits

    def plain(estimator, X, y):
        return 0.0

    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2).set_callbacks(
        ScoreHistory(X_val, y_val, scoring=plain, sample_weight=np.ones(len(y_val)))
    )
    with pytest.raises(TypeError, match="takes no sample_weight, but ScoreHistory's rows are"):
        est.fit(X, y)


def test_a_scorer_returning_no_number_or_raising_is_named(digits):
    X, y, X_val, y_val = digits

    def text(estimator, X, y):
        return "good"

    def broken(estimator, X, y):
        raise ZeroDivisionError("mine")

    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2)
    est.set_callbacks(ScoreHistory(X_val, y_val, scoring={"t": text}))
    with pytest.raises(TypeError, match="ScoreHistory: the scorer of 't' must return a single"):
        est.fit(X, y)
    est.set_callbacks(ScoreHistory(X_val, y_val, scoring=broken))
    with pytest.raises(ZeroDivisionError, match="mine") as info:
        est.fit(X, y)
    if hasattr(info.value, "__notes__"):
        assert "scoring 'broken'" in info.value.__notes__[0]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"y": np.zeros(3)}, ValueError, "same number of rows, got 5 and 3"),
        ({"sample_weight": np.ones(2)}, ValueError, r"one weight per row of X \(5\), got 2"),
        ({"every": 0}, ValueError, "every must be an int >= 1, got 0"),
        ({"scoring": ["accuracy", "accuracy"]}, ValueError, "names a metric twice"),
        ({"scoring": []}, TypeError, "must hold scorer names"),
        ({"scoring": ["accuracy", len]}, TypeError, "name callables in a dict instead"),
        ({"scoring": {"epoch": "accuracy"}}, TypeError, r"not 'epoch'.*\['epoch'\]"),
        ({"scoring": {"a": 3}}, TypeError, r"wrong: \['a'\]"),
        ({"scoring": 3}, TypeError, "scoring must be None, a scorer's name, .* got 3"),
        ({"X": 3}, TypeError, "X must be an array-like of rows, got int"),
    ],
)
def test_bad_arguments_name_the_history_and_what_was_expected(kwargs, error, match):
    arguments = {"X": np.zeros((5, 2)), "y": np.zeros(5), **kwargs}
    X, y = arguments.pop("X"), arguments.pop("y")
    with pytest.raises(error, match=match) as info:
        ScoreHistory(X, y, **arguments)
    assert str(info.value).startswith("ScoreHistory")


def test_set_on_a_pipeline_it_scores_the_whole_pipeline_each_epoch(digits):
    """Set on a Pipeline, the held-out rows are given as the Pipeline takes them: each
    row is the Pipeline scored as a fit stopped at that epoch leaves it, the rows the
    network alone gets for the same rows transformed. (Before, it was refused, and a
    first version of it recorded nothing, silently.)"""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, X_val, y_val = digits
    scoring = ["accuracy", "neg_log_loss"]
    whole = ScoreHistory(X_val, y_val, scoring=scoring)
    scaled = StandardScaler().fit(X).transform(X_val)
    alone = ScoreHistory(scaled, y_val, scoring=scoring)  # (the network's own)
    mlp = MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, random_state=0)
    own = mlp.set_callbacks(alone)._skl_callbacks
    pipe = make_pipeline(StandardScaler(), mlp)
    quiet_fit(pipe.set_callbacks(whole), X, y)
    assert mlp._skl_callbacks is own and own == [alone]  # (given back as they were)
    assert whole.history_["epoch"] == [1, 2, 3, 4]
    assert whole.history_ == alone.history_
    assert whole.history_["accuracy"][-1] == pipe.score(X_val, y_val)


def test_set_on_a_pipeline_what_cannot_work_is_refused_before_the_first_epoch(digits):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, X_val, y_val = digits
    other = make_pipeline(StandardScaler(), LogisticRegression())
    other.set_callbacks(ScoreHistory(X_val, y_val))
    with pytest.raises(TypeError, match="or of a Pipeline ending in one, and was set on Pipeline"):
        other.fit(X, y)
    history = ScoreHistory(X_val[:, :10], y_val)
    narrow = make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=2))
    with pytest.raises(ValueError, match="steps before the network cannot transform its X"):
        narrow.set_callbacks(history).fit(X, y)
    assert history.history_["epoch"] == []
    both = ScoreHistory(X_val, y_val)
    twice = make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=2).set_callbacks(both))
    with pytest.raises(TypeError, match="set on both the Pipeline and its MLPClassifier"):
        twice.set_callbacks(both).fit(X, y)


def test_another_estimators_fit_starts_a_history_of_its_own(digits):
    """(A review: a warm start of a second estimator was appended to the first's rows.)"""
    X, y, X_val, y_val = digits
    history = ScoreHistory(X_val, y_val)
    first = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    second = quiet_fit(MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=1), X, y)
    quiet_fit(first.set_callbacks(history), X, y)
    second.set_params(warm_start=True, max_iter=2).set_callbacks(history)
    quiet_fit(second, X, y)
    assert history.history_["epoch"] == [6, 7]
    assert history.history_["score"][-1] == second.score(X_val, y_val)


def test_a_diverging_fit_records_nan_and_raises_its_own_error():
    """(A review: the scorer's "Input contains infinity" replaced the DivergenceError.)"""
    from layerkit import DivergenceError

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5)) * 1e3
    y = X.sum(axis=1) * 1e3
    history = ScoreHistory(X, y, scoring="r2")
    est = MLPRegressor((8,), solver="sgd", learning_rate_init=1e-4, max_iter=50, random_state=0)
    with pytest.raises(DivergenceError):
        quiet_fit(est.set_callbacks(history), X, y)
    assert np.isnan(history.history_["r2"][-1])
    assert np.isfinite(history.history_["r2"][0])


def test_a_callable_named_epoch_leaves_the_epoch_column_alone(digits):
    X, y, X_val, y_val = digits

    def epoch(estimator, X, y):
        return 0.5

    history = ScoreHistory(X_val, y_val, scoring=epoch)
    quiet_fit(MLPClassifier(hidden_layer_sizes=(8,), max_iter=2).set_callbacks(history), X, y)
    assert history.history_ == {"epoch": [1, 2], "score": [0.5, 0.5]}


def test_an_estimator_carrying_it_pickles_and_searches_in_processes(digits):
    import pickle

    from sklearn.model_selection import GridSearchCV

    X, y, X_val, y_val = digits
    history = ScoreHistory(X_val, y_val)
    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    quiet_fit(est.set_callbacks(history), X, y)
    again = pickle.loads(pickle.dumps(est))
    assert again._skl_callbacks[0].history_ == history.history_
    search = GridSearchCV(est, {"alpha": [1e-4, 1e-2]}, cv=2, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    assert history.history_["epoch"] == [1, 2]  # (the refit of the best, in this process)
    assert history.history_["score"][-1] == search.best_estimator_.score(X_val, y_val)


def test_held_out_rows_unlike_the_training_rows_are_refused_or_warned_of():
    """(A trial: raw held-out rows given to a network inside a StandardScaler Pipeline
    were scored 0.37 where the model scored 0.90, silently.)"""
    from sklearn.datasets import load_breast_cancer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X_fit, y_fit, X_val, y_val = X[:400], y[:400], X[400:], y[400:]
    narrow = MLPClassifier((8,), max_iter=2).set_callbacks(ScoreHistory(X_val[:, :5], y_val))
    with pytest.raises(ValueError, match="its X has 5 columns, and MLPClassifier trains on 30"):
        narrow.fit(X_fit, y_fit)
    assert not hasattr(narrow, "network_")

    def pipeline(history):
        mlp = MLPClassifier((8,), max_iter=2, random_state=0).set_callbacks(history)
        return make_pipeline(StandardScaler(), mlp)

    with pytest.warns(UserWarning, match=r"25 of the 30 columns of its X are centred or spread"):
        quiet_fit(pipeline(ScoreHistory(X_val, y_val)), X_fit, y_fit)
    scaled = StandardScaler().fit(X_fit).transform(X_val)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = pipeline(ScoreHistory(scaled, y_val))
        fitted.fit(X_fit, y_fit)
    assert fitted[-1]._skl_callbacks[0].history_["score"][-1] == fitted.score(X_val, y_val)


def test_a_log_keeps_every_scored_row_across_a_crash_and_a_resume(digits, tmp_path):
    """(A trial: the history lived in memory only, so a crash lost it.)"""
    import csv

    from helpers import CrashAt

    import layerkit
    from layerkit.callbacks import Checkpoint

    X, y, X_val, y_val = digits

    log = tmp_path / "scores.csv"
    scoring = ["accuracy", "neg_log_loss"]
    history = ScoreHistory(X_val, y_val, scoring=scoring, log=log)
    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=8, random_state=0)
    est.set_callbacks(Checkpoint(tmp_path / "m.lkm"), history, CrashAt(5))
    with pytest.raises(RuntimeError, match="went away"):
        est.fit(X, y)
    resumed = layerkit.load(tmp_path / "m.lkm").set_params(warm_start=True, max_iter=3)
    again = ScoreHistory(X_val, y_val, scoring=scoring, log=log)
    quiet_fit(resumed.set_callbacks(again), X, y)
    with open(log, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["epoch", "accuracy", "neg_log_loss"]
    assert [int(r[0]) for r in rows[1:]] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [float(r[1]) for r in rows[1:6]] == history.history_["accuracy"]
    assert [float(r[2]) for r in rows[6:]] == again.history_["neg_log_loss"]  # (exact)
    other = ScoreHistory(X_val, y_val, scoring="f1_macro", log=log)
    before = log.read_text()
    with pytest.raises(ValueError, match=r"exists with the columns \['epoch', 'accuracy'"):
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=2).set_callbacks(other).fit(X, y)
    assert log.read_text() == before
    with pytest.raises(TypeError, match=r"log must be a file path .* got int"):
        ScoreHistory(X_val, y_val, log=3)


def test_held_out_labels_the_training_data_lacks_are_refused_before_training(digits):
    """(A trial: labels "x" scored 0.0 every epoch, silently.)"""
    X, y, X_val, y_val = digits
    for held_out in (np.array(["x"] * 200, dtype=object), y_val + 10):
        clf = MLPClassifier((8,), max_iter=2).set_callbacks(ScoreHistory(X_val, held_out))
        with pytest.raises(ValueError, match=r"its y holds labels the training data does not"):
            clf.fit(X, y)
        assert not hasattr(clf, "loss_curve_")  # (before the first epoch)
    history = ScoreHistory(X_val, y_val)
    quiet_fit(MLPClassifier((8,), max_iter=2).set_callbacks(history), X, y)
    assert len(history.history_["epoch"]) == 2
