"""``scoring``: what early stopping scores the validation data by (None: the
estimator's score; 'loss': minus the validation loss; a scorer's name or a callable)."""

import json
import pickle
import sys
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    log_loss,
    make_scorer,
    mean_absolute_error,
    mean_squared_error,
)
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import layerkit
from layerkit import InvalidParameterError, MLPClassifier, MLPRegressor

X, y = load_digits(return_X_y=True)
X = X / 16
X_train, y_train, X_val, y_val = X[:1200], y[:1200], X[1200:], y[1200:]
XR, yr = load_diabetes(return_X_y=True)
yr = yr / 100
XR_train, yr_train, XR_val, yr_val = XR[:350], yr[:350], XR[350:], yr[350:]
EPOCHS = 5
CLASSIFIER = dict(hidden_layer_sizes=(16,), random_state=0, learning_rate_init=0.01)
REGRESSOR = dict(hidden_layer_sizes=(16,), random_state=0, learning_rate_init=0.01)


def _quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def _stopped(cls, settings, scoring, data, **params):
    """A fit with early stopping on the given validation data for EPOCHS epochs."""
    est = cls(
        early_stopping=True,
        max_iter=EPOCHS,
        n_iter_no_change=100,
        scoring=scoring,
        **settings,
        **params,
    )
    X_fit, y_fit, X_held, y_held = data
    return _quiet_fit(est, X_fit, y_fit, X_val=X_held, y_val=y_held)


def _plain(cls, settings, data):
    """Fits without early stopping for 1..EPOCHS epochs: the weights of each epoch of a
    fit that scores on given validation data (all of X trains either way)."""
    X_fit, y_fit = data[:2]
    return [_quiet_fit(cls(max_iter=k, **settings), X_fit, y_fit) for k in range(1, EPOCHS + 1)]


def _scripted(scores, **params):
    """An early-stopping classifier whose scorer returns ``scores``, one a call."""
    scores = iter(scores)
    scorer = lambda estimator, X_held, y_held: next(scores)  # noqa: E731
    return MLPClassifier(early_stopping=True, scoring=scorer, **CLASSIFIER, **params)


DIGITS = (X_train, y_train, X_val, y_val)
DIABETES = (XR_train, yr_train, XR_val, yr_val)


@pytest.fixture(scope="module")
def plain_classifiers():
    return _plain(MLPClassifier, CLASSIFIER, DIGITS)


@pytest.fixture(scope="module")
def plain_regressors():
    return _plain(MLPRegressor, REGRESSOR, DIABETES)


def test_loss_scores_minus_the_validation_log_loss_of_each_epoch(plain_classifiers):
    stopped = _stopped(MLPClassifier, CLASSIFIER, "loss", DIGITS)
    expected = [-log_loss(y_val, est.predict_proba(X_val)) for est in plain_classifiers]
    np.testing.assert_allclose(stopped.validation_scores_, expected, rtol=1e-10)
    best = plain_classifiers[int(np.argmax(expected))]
    for got, kept in zip(stopped.coefs_, best.coefs_, strict=True):
        np.testing.assert_array_equal(got, kept)
    assert stopped.best_validation_score_ == max(stopped.validation_scores_)


def test_loss_scores_minus_half_the_mean_squared_error_for_a_regressor(plain_regressors):
    """The data term of the training loss: scikit-learn's squared loss is half the
    mean squared error (and the L2 term of alpha is left out)."""
    stopped = _stopped(MLPRegressor, REGRESSOR, "loss", DIABETES)
    expected = [-mean_squared_error(yr_val, est.predict(XR_val)) / 2 for est in plain_regressors]
    np.testing.assert_allclose(stopped.validation_scores_, expected, rtol=1e-10)
    assert stopped.validation_scores_[0] < stopped.validation_scores_[-1]  # (it learns)


def test_loss_scores_a_multi_output_regressor_summed_over_the_outputs():
    Y = np.column_stack([yr, 2 * yr - 1])
    data = (XR_train, Y[:350], XR_val, Y[350:])
    stopped = _stopped(MLPRegressor, REGRESSOR, "loss", data)
    plain = _plain(MLPRegressor, REGRESSOR, data)
    expected = [-0.5 * ((est.predict(XR_val) - Y[350:]) ** 2).sum(1).mean() for est in plain]
    np.testing.assert_allclose(stopped.validation_scores_, expected, rtol=1e-10)


def test_a_scorer_name_scores_each_epoch_by_its_metric(plain_classifiers, plain_regressors):
    stopped = _stopped(MLPClassifier, CLASSIFIER, "balanced_accuracy", DIGITS)
    expected = [balanced_accuracy_score(y_val, est.predict(X_val)) for est in plain_classifiers]
    np.testing.assert_allclose(stopped.validation_scores_, expected, rtol=1e-12)
    assert expected != [accuracy_score(y_val, est.predict(X_val)) for est in plain_classifiers]

    stopped = _stopped(MLPRegressor, REGRESSOR, "neg_mean_absolute_error", DIABETES)
    expected = [-mean_absolute_error(yr_val, est.predict(XR_val)) for est in plain_regressors]
    np.testing.assert_allclose(stopped.validation_scores_, expected, rtol=1e-12)


def test_neg_log_loss_agrees_with_loss():
    """Two routes to one number: the scorer through predict_proba, 'loss' through the
    logits."""
    by_loss = _stopped(MLPClassifier, CLASSIFIER, "loss", DIGITS)
    by_scorer = _stopped(MLPClassifier, CLASSIFIER, "neg_log_loss", DIGITS)
    np.testing.assert_allclose(by_scorer.validation_scores_, by_loss.validation_scores_, 1e-9)


def test_the_default_scores_accuracy_as_scikit_learn(plain_classifiers):
    stopped = _stopped(MLPClassifier, CLASSIFIER, None, DIGITS)
    expected = [accuracy_score(y_val, est.predict(X_val)) for est in plain_classifiers]
    np.testing.assert_allclose(stopped.validation_scores_, expected)


def test_a_callable_scorer_sees_the_weights_of_each_epoch(plain_regressors):
    seen = []

    def scorer(estimator, X_held, y_held):
        seen.append((estimator, estimator.predict(X_held)))
        return 0.0

    est = MLPRegressor(early_stopping=True, max_iter=EPOCHS, scoring=scorer, **REGRESSOR)
    est.set_params(n_iter_no_change=100)
    _quiet_fit(est, XR_train, yr_train, X_val=XR_val, y_val=yr_val)
    assert len(seen) == EPOCHS
    for (view, predicted), plain in zip(seen, plain_regressors, strict=True):
        assert view is not est
        np.testing.assert_array_equal(predicted, plain.predict(XR_val))
    assert est.validation_scores_ == [0.0] * EPOCHS


def test_the_split_of_validation_fraction_is_scored_too():
    """Without X_val: the held-out rows of the split, with every kind of scoring."""
    scores = {}
    for scoring in (None, "loss", "neg_log_loss", "accuracy"):
        est = MLPClassifier(
            early_stopping=True, max_iter=4, n_iter_no_change=100, scoring=scoring, **CLASSIFIER
        )
        scores[scoring] = _quiet_fit(est, X, y).validation_scores_
    np.testing.assert_allclose(scores["neg_log_loss"], scores["loss"], rtol=1e-9)
    assert scores["accuracy"] == scores[None]
    assert all(-3 < s < 0 for s in scores["loss"])


def test_the_scores_stop_the_training_and_choose_the_weights_kept(plain_classifiers):
    """A score that never improves on the first epoch's: stopped after
    n_iter_no_change + 1 epochs, with the first epoch's weights."""
    est = _scripted([0.9, 0.5, 0.9, 0.4, 0.9, 0.3], max_iter=50, n_iter_no_change=4)
    _quiet_fit(est, X_train, y_train, X_val=X_val, y_val=y_val)
    assert est.n_iter_ == 6
    assert est.validation_scores_ == [0.9, 0.5, 0.9, 0.4, 0.9, 0.3]
    assert est.best_validation_score_ == 0.9
    for got, kept in zip(est.coefs_, plain_classifiers[0].coefs_, strict=True):
        np.testing.assert_array_equal(got, kept)


def test_sample_weight_val_reaches_the_scorer():
    weights = np.linspace(0.1, 3.0, len(y_val))
    got = []

    def scorer(estimator, X_held, y_held, sample_weight=None):
        got.append(sample_weight)
        return accuracy_score(y_held, estimator.predict(X_held), sample_weight=sample_weight)

    est = MLPClassifier(early_stopping=True, max_iter=2, scoring=scorer, **CLASSIFIER)
    _quiet_fit(est, X_train, y_train, X_val=X_val, y_val=y_val, sample_weight_val=weights)
    np.testing.assert_array_equal(got[0], weights)
    named = MLPClassifier(early_stopping=True, max_iter=2, scoring="accuracy", **CLASSIFIER)
    _quiet_fit(named, X_train, y_train, X_val=X_val, y_val=y_val, sample_weight_val=weights)
    assert named.validation_scores_ == est.validation_scores_
    assert named.best_validation_score_ == accuracy_score(
        y_val, named.predict(X_val), sample_weight=weights
    )
    lossy = MLPClassifier(early_stopping=True, max_iter=2, scoring="loss", **CLASSIFIER)
    _quiet_fit(lossy, X_train, y_train, X_val=X_val, y_val=y_val, sample_weight_val=weights)
    expected = -log_loss(y_val, lossy.predict_proba(X_val), sample_weight=weights)
    assert lossy.best_validation_score_ == pytest.approx(expected, rel=1e-10)


def test_feature_names_and_pipelines_score_without_warnings():
    pd = pytest.importorskip("pandas")
    columns = [f"pixel{i}" for i in range(X.shape[1])]
    frame, frame_val = pd.DataFrame(X_train, columns=columns), pd.DataFrame(X_val, columns=columns)
    est = MLPClassifier(early_stopping=True, max_iter=3, scoring="f1_macro", **CLASSIFIER)
    model = make_pipeline(StandardScaler(), est).set_output(transform="pandas")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (a feature-name warning would fail here)
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(frame, y_train)  # (the MLP gets a DataFrame from the scaler)
        assert list(est.feature_names_in_) == columns and len(est.validation_scores_) == 3
        est.fit(frame, y_train, X_val=frame_val, y_val=y_val)
    assert len(est.validation_scores_) == 3
    assert list(est.feature_names_in_) == columns


def test_a_warm_started_fit_scores_its_starting_weights_with_the_scorer():
    est = MLPClassifier(
        early_stopping=True,
        warm_start=True,
        max_iter=2,
        n_iter_no_change=100,
        scoring="loss",
        **CLASSIFIER,
    )
    _quiet_fit(est, X_train, y_train, X_val=X_val, y_val=y_val)
    assert est.best_validation_score_ == pytest.approx(
        -log_loss(y_val, est.predict_proba(X_val)), rel=1e-10
    )
    scores = iter([7.0, -1e9, -1e9])  # the start, then two epochs that score worse
    est.set_params(scoring=lambda estimator, X_held, y_held: next(scores))
    coefs = [w.copy() for w in est.coefs_]
    _quiet_fit(est, X_train, y_train, X_val=X_val, y_val=y_val)
    for got, kept in zip(est.coefs_, coefs, strict=True):
        np.testing.assert_array_equal(got, kept)  # (the starting weights are kept)
    assert est.best_validation_score_ == 7.0
    assert est.validation_scores_[-2:] == [-1e9, -1e9]


def test_a_nan_score_never_improves_and_a_non_number_is_refused():
    est = _scripted([0.5, float("nan"), float("nan")], max_iter=3, n_iter_no_change=1)
    _quiet_fit(est, X_train, y_train, X_val=X_val, y_val=y_val)
    assert est.n_iter_ == 3 and est.best_validation_score_ == 0.5
    bad = est.set_params(scoring=lambda estimator, X_held, y_held: "high", warm_start=False)
    with pytest.raises(TypeError, match=r"MLPClassifier: scoring=<function .* single number"):
        bad.fit(X_train, y_train, X_val=X_val, y_val=y_val)


def test_an_error_in_the_scorer_says_where_it_came_from():
    """('roc_auc' is for two classes: scikit-learn's error alone names no scoring.)"""
    est = MLPClassifier(early_stopping=True, max_iter=2, scoring="roc_auc", **CLASSIFIER)
    with pytest.raises(ValueError) as caught:
        est.fit(X_train, y_train, X_val=X_val, y_val=y_val)
    if sys.version_info >= (3, 11):
        assert caught.value.__notes__ == [
            "(raised scoring the validation data for early stopping, "
            "MLPClassifier(scoring='roc_auc'))"
        ]


@pytest.mark.parametrize(
    ("scoring", "match"),
    [
        ("acuracy", r"'scoring' parameter must be None .* Did you mean 'accuracy'\?"),
        ("Loss", r"Did you mean 'loss'\?"),
        (5, r"'scoring' parameter must be None .*got 5\."),
    ],
)
def test_a_wrong_scoring_is_refused_at_fit(scoring, match):
    with pytest.raises(InvalidParameterError, match=match):
        MLPClassifier(scoring=scoring).fit(X_train[:50], y_train[:50])


def test_scoring_is_a_hyperparameter_for_clone_search_and_model_files(tmp_path):
    est = MLPClassifier(early_stopping=True, max_iter=3, **CLASSIFIER)
    assert clone(est.set_params(scoring="loss")).scoring == "loss"
    search = GridSearchCV(est, {"scoring": [None, "loss"]}, cv=2, refit=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X[:400], y[:400])
    assert search.cv_results_["params"] == [{"scoring": None}, {"scoring": "loss"}]
    fitted = _quiet_fit(clone(est).set_params(scoring="loss"), X[:400], y[:400])
    assert all(s < 0 for s in fitted.validation_scores_)  # (minus losses, not accuracies)
    fitted.set_params(scoring="neg_log_loss")
    loaded = layerkit.load(layerkit.save(fitted, tmp_path / "model"))
    assert loaded.scoring == "neg_log_loss"
    fitted.set_params(scoring=lambda estimator, X_held, y_held: 0.0)
    with pytest.raises(
        TypeError,
        match=r"MLPClassifier\.scoring = .* cannot be saved: .*"
        r"set_params\(scoring=None\) before saving",
    ):
        layerkit.save(fitted, tmp_path / "other")


def test_a_scorer_that_cannot_be_called_so_is_refused_before_the_first_epoch():
    def my_metric(y_true, y_pred):
        return 0.0

    est = MLPClassifier(early_stopping=True, max_iter=2, **CLASSIFIER)
    for metric in (accuracy_score, my_metric):
        with pytest.raises(InvalidParameterError, match="metric function"):
            est.set_params(scoring=metric).fit(X_train, y_train)
        assert not hasattr(est, "network_")
    # a scorer taking no sample_weight, where the validation rows are weighted
    unweighted = est.set_params(scoring=lambda estimator, X_held, y_held: 1.0)
    for weighting in ({"class_weight": "balanced"}, {}):
        unweighted.set_params(**weighting)
        fit_weights = {} if weighting else {"sample_weight": np.ones(len(y_train))}
        with pytest.raises(TypeError, match=r"takes no sample_weight, but the validation"):
            unweighted.fit(X_train, y_train, **fit_weights)
        assert not hasattr(unweighted, "network_")
    # ones that take it: by name, or any keyword
    for scorer in (
        lambda estimator, X_held, y_held, sample_weight=None: 1.0,
        lambda estimator, X_held, y_held, **kwargs: 1.0,
        make_scorer(accuracy_score),
    ):
        weighted = est.set_params(scoring=scorer, class_weight="balanced")
        assert _quiet_fit(weighted, X_train, y_train).n_iter_ == 2


def test_a_warm_start_with_another_scoring_starts_a_new_list_of_scores(tmp_path):
    est = MLPClassifier(
        early_stopping=True, warm_start=True, max_iter=2, n_iter_no_change=100, **CLASSIFIER
    )
    _quiet_fit(est, X_train, y_train, X_val=X_val, y_val=y_val)
    _quiet_fit(est, X_train, y_train, X_val=X_val, y_val=y_val)
    assert len(est.validation_scores_) == 4  # (one scoring: the list goes on)
    _quiet_fit(est.set_params(scoring="loss"), X_train, y_train, X_val=X_val, y_val=y_val)
    assert len(est.validation_scores_) == 2 and all(s < 0 for s in est.validation_scores_)
    assert len(est.loss_curve_) == 6  # (the scores are the last epochs')
    loaded = layerkit.load(layerkit.save(est, tmp_path / "model"))
    assert loaded._validation_scoring == "loss"
    _quiet_fit(loaded, X_train, y_train, X_val=X_val, y_val=y_val)
    assert len(loaded.validation_scores_) == 4  # (the file says what they were by)
    _quiet_fit(loaded.set_params(scoring=None), X_train, y_train, X_val=X_val, y_val=y_val)
    assert len(loaded.validation_scores_) == 2 and all(s >= 0 for s in loaded.validation_scores_)
    # a model of the default scoring writes no record: files older releases can read
    manifest = json.loads(
        zipfile.ZipFile(layerkit.save(loaded, tmp_path / "d")).read("manifest.json")
    )
    assert "_validation_scoring" not in manifest["fitted"]


def test_an_estimator_pickled_before_scoring_existed_works(tmp_path):
    est = _quiet_fit(MLPClassifier(max_iter=2, **CLASSIFIER), X_train, y_train)
    del est.__dict__["scoring"]  # (as 0.2.0 pickled it: no such parameter)
    old = pickle.loads(pickle.dumps(est))
    assert old.scoring is None and old.get_params()["scoring"] is None
    assert "MLPClassifier(" in repr(old)
    old.set_params(warm_start=True, early_stopping=True)
    assert len(_quiet_fit(old, X_train, y_train).validation_scores_) == 2


def test_loss_is_the_training_cost_for_every_kind_of_target():
    """Poisson, a loss of the user's, binary and multilabel targets, float32, and the
    split of validation_fraction with sample weights: minus the weighted mean cost,
    recomputed here from the kept model's outputs with scikit-learn's metrics."""
    from sklearn.metrics import mean_poisson_deviance

    from layerkit.losses import Loss

    class Huber(Loss, register=False):  # (docs/extending.md registers its own)
        def __init__(self, delta: float = 1.0):
            self.delta = delta

        def per_example(self, a, y):
            r = np.abs(a - y)
            quadratic = np.minimum(r, self.delta)
            return (0.5 * quadratic**2 + self.delta * (r - quadratic)).sum(axis=1)

        def per_example_grad(self, a, y):
            return np.clip(a - y, -self.delta, self.delta)

    def last(est, X_fit, y_fit, X_held, y_held, **kwargs):
        est.set_params(early_stopping=True, scoring="loss", max_iter=3, n_iter_no_change=100)
        _quiet_fit(est, X_fit, y_fit, X_val=X_held, y_val=y_held, **kwargs)
        return est.best_validation_score_

    counts = np.round(np.exp(yr / 2)).astype(float)
    reg = MLPRegressor(loss="poisson", **REGRESSOR)
    score = last(reg, XR_train, counts[:350], XR_val, counts[350:])
    predicted = reg.predict(XR_val)
    # the Poisson cost, y log(y / mu) - y + mu: half the deviance
    expected = mean_poisson_deviance(counts[350:], predicted) / 2
    assert -score == pytest.approx(expected, rel=1e-9)

    huber = MLPRegressor(loss=Huber(0.5), **REGRESSOR)
    score = last(huber, XR_train, yr_train, XR_val, yr_val)
    r = np.abs(huber.predict(XR_val) - yr_val)
    q = np.minimum(r, 0.5)
    assert -score == pytest.approx(np.mean(0.5 * q**2 + 0.5 * (r - q)), rel=1e-10)

    binary = MLPClassifier(**CLASSIFIER)
    score = last(binary, X_train, y_train > 4, X_val, y_val > 4)
    assert -score == pytest.approx(log_loss(y_val > 4, binary.predict_proba(X_val)), rel=1e-10)

    labels = np.column_stack([y > 4, y % 2 == 0]).astype(int)
    multilabel = MLPClassifier(**CLASSIFIER)
    score = last(multilabel, X_train, labels[:1200], X_val, labels[1200:])
    proba = multilabel.predict_proba(X_val)
    expected = sum(log_loss(labels[1200:, j], proba[:, j]) for j in range(2))
    assert -score == pytest.approx(expected, rel=1e-10)

    single = MLPClassifier(**CLASSIFIER)
    score = last(single, X_train.astype(np.float32), y_train, X_val.astype(np.float32), y_val)
    assert single.network_.dtype == np.float32
    proba = single.predict_proba(X_val.astype(np.float32))
    assert -score == pytest.approx(log_loss(y_val, proba), rel=1e-5)

    # the split of validation_fraction, its rows weighted: a weighted mean (equal
    # weights change nothing, without alpha's term, ½ alpha ‖W‖² / Σs; a sum would double)
    split = dict(early_stopping=True, scoring="loss", max_iter=3, n_iter_no_change=100, alpha=0)
    unweighted = _quiet_fit(MLPClassifier(**split, **CLASSIFIER), X, y)
    doubled = _quiet_fit(
        MLPClassifier(**split, **CLASSIFIER), X, y, sample_weight=2 * np.ones(len(y))
    )
    np.testing.assert_allclose(doubled.validation_scores_, unweighted.validation_scores_, 1e-12)


def test_scoring_without_early_stopping_changes_nothing():
    settings = dict(max_iter=3, **CLASSIFIER)
    plain = _quiet_fit(MLPClassifier(**settings), X_train, y_train)
    scored = _quiet_fit(MLPClassifier(scoring="loss", **settings), X_train, y_train)
    assert scored.validation_scores_ is None
    assert scored.loss_curve_ == plain.loss_curve_


def test_the_validation_loss_of_each_epoch_is_recorded_whatever_the_scoring(
    plain_classifiers, plain_regressors
):
    """``validation_loss_curve_``: the validation loss beside the score (scikit-learn
    issue 18507), from the same pass over the validation rows."""
    expected = [log_loss(y_val, est.predict_proba(X_val)) for est in plain_classifiers]
    for scoring in (None, "balanced_accuracy", "loss"):
        stopped = _stopped(MLPClassifier, CLASSIFIER, scoring, DIGITS)
        np.testing.assert_allclose(stopped.validation_loss_curve_, expected, rtol=1e-10)
    assert stopped.validation_loss_curve_ == [-s for s in stopped.validation_scores_]
    stopped = _stopped(MLPRegressor, REGRESSOR, None, DIABETES)
    expected = [mean_squared_error(yr_val, est.predict(XR_val)) / 2 for est in plain_regressors]
    np.testing.assert_allclose(stopped.validation_loss_curve_, expected, rtol=1e-10)
    expected = [est.score(XR_val, yr_val) for est in plain_regressors]
    np.testing.assert_allclose(stopped.validation_scores_, expected, rtol=1e-10)


def test_the_validation_loss_curve_is_kept_as_the_scores_are(tmp_path):
    settings = dict(max_iter=2, n_iter_no_change=100, **CLASSIFIER)
    plain = _quiet_fit(MLPClassifier(**settings), X_train, y_train)
    assert plain.validation_loss_curve_ is None
    lbfgs = _quiet_fit(MLPClassifier(solver="lbfgs", early_stopping=True, **settings), X, y)
    assert lbfgs.validation_loss_curve_ is None
    est = MLPClassifier(warm_start=True, **settings)
    _quiet_fit(est, X_train, y_train)
    _quiet_fit(est.set_params(early_stopping=True), X_train, y_train, X_val=X_val, y_val=y_val)
    assert len(est.validation_loss_curve_) == 2  # (the epochs since it was switched on)
    _quiet_fit(est.set_params(scoring="loss"), X_train, y_train, X_val=X_val, y_val=y_val)
    assert len(est.validation_loss_curve_) == 4  # (a loss whatever the scoring: it goes on)
    assert len(est.validation_scores_) == 2
    loaded = layerkit.load(layerkit.save(est, tmp_path / "model"))
    assert loaded.validation_loss_curve_ == est.validation_loss_curve_
    _quiet_fit(est.set_params(early_stopping=False), X_train, y_train)
    assert est.validation_loss_curve_ is None
    file = layerkit.save(est, tmp_path / "plain")  # (no record: none is written)
    manifest = json.loads(zipfile.ZipFile(file).read("manifest.json"))
    assert "validation_loss_curve_" not in manifest["fitted"]
    # a model pickled before the curve existed: none, until a fit records one
    del loaded.__dict__["validation_loss_curve_"]
    old = pickle.loads(pickle.dumps(loaded))
    assert old.validation_loss_curve_ is None and len(old.validation_scores_) == 2
    _quiet_fit(old, X_train, y_train, X_val=X_val, y_val=y_val)
    assert len(old.validation_loss_curve_) == 2 and len(old.validation_scores_) == 4


def test_a_scorer_the_estimator_cannot_serve_is_refused_before_the_first_epoch():
    est = MLPRegressor(early_stopping=True, max_iter=2, scoring="neg_log_loss", **REGRESSOR)
    with pytest.raises(
        InvalidParameterError,
        match=r"MLPRegressor: scoring='neg_log_loss' scores the output of predict_proba, "
        r"which MLPRegressor does not have; choose a scorer for regression",
    ):
        est.fit(XR_train, yr_train)
    assert not hasattr(est, "network_")
    # a scorer's metric that takes no sample weights, for weighted rows
    est.set_params(scoring="neg_max_error")
    with pytest.raises(TypeError, match=r"scoring='neg_max_error': max_error takes no sam"):
        est.fit(XR_train, yr_train, sample_weight=np.ones(len(yr_train)))
    assert not hasattr(est, "network_")
    assert _quiet_fit(est, XR_train, yr_train).n_iter_ == 2  # (unweighted: it serves)


def test_what_the_scores_were_by_is_named_readably():
    from sklearn.metrics import f1_score

    from layerkit.estimators._scoring import scoring_label

    def my_scorer(estimator, X, y):
        return 0.0

    assert scoring_label(None) is None and scoring_label("f1_macro") == "f1_macro"
    assert scoring_label(my_scorer) == "my_scorer()"
    made = scoring_label(make_scorer(f1_score, average="macro"))
    assert made.startswith("make_scorer(f1_score") and "average=macro" in made


def test_a_model_file_of_the_default_scoring_does_not_name_it(tmp_path):
    """(A file that says scoring=None failed to load in 0.2.0, which has no scoring.)"""
    est = _quiet_fit(MLPClassifier(max_iter=2, **CLASSIFIER), X_train, y_train)
    path = layerkit.save(est, tmp_path / "m")
    manifest = json.loads(zipfile.ZipFile(path).read("manifest.json"))
    assert "scoring" not in manifest["hyperparameters"]
    assert "max_iter" in manifest["hyperparameters"]
    assert layerkit.load(path).scoring is None
    est.set_params(scoring="loss")
    manifest = json.loads(
        zipfile.ZipFile(layerkit.save(est, tmp_path / "n")).read("manifest.json")
    )
    assert manifest["hyperparameters"]["scoring"] == "loss"


def test_best_epoch_names_the_epoch_whose_weights_were_kept(tmp_path):
    est = MLPClassifier(early_stopping=True, warm_start=True, max_iter=6, **CLASSIFIER)
    _quiet_fit(est, X_train, y_train, X_val=X_val, y_val=y_val)
    assert est.best_epoch_ == int(np.argmax(est.validation_scores_)) + 1
    # a warm start on other rows, scored on other validation rows: counted over all fits
    first = est.best_epoch_
    _quiet_fit(est.set_params(max_iter=3), X_val, y_val, X_val=X_train[:300], y_val=y_train[:300])
    scores = est.validation_scores_[-3:]
    won = est.best_validation_score_ in scores  # (else the weights it started from)
    assert est.best_epoch_ == (6 + int(np.argmax(scores)) + 1 if won else first)
    assert 1 <= est.best_epoch_ <= 9
    assert layerkit.load(layerkit.save(est, tmp_path / "m")).best_epoch_ == est.best_epoch_
    plain = _quiet_fit(MLPClassifier(max_iter=2, **CLASSIFIER), X_train, y_train)
    assert plain.best_epoch_ is None


def test_the_default_score_from_the_logits_is_the_estimators_score():
    """The default score comes from the pass that gives the validation loss: the
    logits, with the output activation applied as prediction applies it. For every kind
    of output, it equals score() of the model kept."""
    cases = [
        (MLPClassifier(**CLASSIFIER), X_train, y_train > 4, X_val, y_val > 4),
        (MLPClassifier(**CLASSIFIER), X_train, y_train, X_val, y_val),
        (
            MLPClassifier(**CLASSIFIER),
            X_train,
            np.column_stack([y_train > 4, y_train % 2 == 0]).astype(int),
            X_val,
            np.column_stack([y_val > 4, y_val % 2 == 0]).astype(int),
        ),
        (
            MLPRegressor(loss="poisson", **REGRESSOR),
            XR_train,
            np.round(np.exp(yr_train / 2)),
            XR_val,
            np.round(np.exp(yr_val / 2)),
        ),
        (
            MLPRegressor(**REGRESSOR),
            XR_train.astype(np.float32),
            yr_train,
            XR_val.astype(np.float32),
            yr_val,
        ),
    ]
    for est, X_fit, y_fit, X_held, y_held in cases:
        est.set_params(early_stopping=True, max_iter=4, n_iter_no_change=100)
        _quiet_fit(est, X_fit, y_fit, X_val=X_held, y_val=y_held)
        assert est.best_validation_score_ == est.score(X_held, y_held), type(est)


def test_best_epoch_is_0_for_the_initial_weights_and_recovered_for_older_models(tmp_path):
    nan = MLPClassifier(
        early_stopping=True,
        max_iter=3,
        n_iter_no_change=100,
        scoring=lambda estimator, X_held, y_held: float("nan"),
        **CLASSIFIER,
    )
    _quiet_fit(nan, X_train, y_train, X_val=X_val, y_val=y_val)
    assert nan.best_epoch_ == 0  # (no epoch scored: the initial weights were kept)
    est = _quiet_fit(
        MLPClassifier(early_stopping=True, max_iter=6, n_iter_no_change=100, **CLASSIFIER),
        X_train,
        y_train,
    )
    kept = est.best_epoch_
    del est.__dict__["best_epoch_"]  # (as a model from before it was recorded)
    old = pickle.loads(pickle.dumps(est))
    assert old.best_epoch_ == kept == int(np.argmax(est.validation_scores_)) + 1
    path = layerkit.save(est, tmp_path / "old")
    assert layerkit.load(path).best_epoch_ == kept


@pytest.mark.parametrize(
    ("cls", "scoring", "match"),
    [
        (MLPRegressor, "f1_macro", r"scores classification \(f1_score\), and MLPRegressor is"),
        (MLPRegressor, "accuracy", r"choose a scorer for regression"),
        (MLPClassifier, "r2", r"scores regression \(r2_score\), and MLPClassifier is a cl"),
        (MLPClassifier, "neg_mean_absolute_error", r"choose a scorer for classification"),
    ],
)
def test_a_scorer_of_the_other_task_is_refused_before_the_first_epoch(cls, scoring, match):
    """(a trial: 'f1_macro' for a regression failed after an epoch, 'continuous is not
    supported')"""
    est = cls(early_stopping=True, max_iter=2, scoring=scoring)
    data = (XR_train, yr_train) if cls is MLPRegressor else (X_train, y_train)
    with pytest.raises(InvalidParameterError, match=match):
        est.fit(*data)
    assert not hasattr(est, "network_")
