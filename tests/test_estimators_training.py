"""Solvers, schedules, early stopping, warm starts and the pluggable objects."""

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.neural_network import MLPRegressor as SkLearnMLPRegressor

from layerkit import MLPClassifier, MLPRegressor
from layerkit.estimators import _stochastic
from layerkit.layers import Dense, Dropout, ReLU, Tanh
from layerkit.losses import SquaredError
from layerkit.optim import SGD, Adam

quiet = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def iris():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y


@quiet
def test_one_full_batch_sgd_epoch_is_one_step_of_eqs_2_5_and_2_6(iris):
    X, y = iris
    params = dict(
        solver="sgd",
        momentum=0.0,
        batch_size=len(X),
        shuffle=False,
        alpha=0.0,
        learning_rate_init=0.5,
        random_state=0,
    )
    initial = MLPClassifier((6,), max_iter=1, **params).fit(X, y)
    # the same network before its one step: rebuilt from the same seed's init stream
    from layerkit._random import as_generator

    ref = initial._build_network(4, 3, np.float64, as_generator(0).spawn(3)[0])
    ref.loss_and_grads(X, np.eye(3)[y], initial._loss)
    for name, p in ref.params.items():
        expected = p - 0.5 * ref.grads[name]
        np.testing.assert_allclose(initial.network_.params[name], expected, rtol=1e-12)


@quiet
def test_invscaling_schedule(iris):
    X, y = iris
    clf = MLPClassifier(
        (5,),
        solver="sgd",
        learning_rate="invscaling",
        learning_rate_init=0.2,
        power_t=0.5,
        max_iter=4,
        random_state=0,
    ).fit(X, y)
    assert clf._optimizer.current_learning_rate == pytest.approx(0.2 / (clf.t_ + 1) ** 0.5)


def test_adaptive_schedule_divides_by_five_and_stops(iris, capsys):
    X, y = iris
    clf = MLPClassifier(
        (5,),
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.1,
        tol=1e9,
        n_iter_no_change=1,
        max_iter=100,
        verbose=True,
        random_state=0,
    )
    clf.fit(X, y)  # nothing counts as an improvement: the rate is cut until it is tiny
    out = capsys.readouterr().out
    assert "Setting learning rate to 0.020000" in out
    assert "Learning rate too small. Stopping." in out
    assert clf._optimizer.current_learning_rate <= 1e-6
    assert clf.n_iter_ < 100


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_convergence_warning_and_verbose_output(iris, solver, capsys):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match="Maximum iterations|failed to converge"):
        MLPClassifier((5,), solver=solver, max_iter=3, verbose=True, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out


def test_lbfgs_respects_max_fun(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match="max_fun=5"):
        clf = MLPClassifier((5,), solver="lbfgs", max_fun=5, random_state=0).fit(X, y)
    assert clf.n_iter_ <= 5


def test_training_stops_when_the_loss_stops_improving_as_scikit_learn(iris, capsys):
    from sklearn.neural_network import MLPClassifier as SkClassifier

    X, y = iris
    params = dict(hidden_layer_sizes=(5,), tol=1e9, n_iter_no_change=3, verbose=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = MLPClassifier(random_state=0, **params).fit(X, y)
    ours = capsys.readouterr().out
    sk = SkClassifier(random_state=0, **params).fit(X, y)
    theirs = capsys.readouterr().out
    assert clf.n_iter_ == sk.n_iter_ == 5  # the first epoch improves on inf, 4 more do not
    line = "Training loss did not improve more than tol=1000000000.000000 for 3 consecutive epochs. Stopping."
    assert line in ours and line in theirs


@quiet
def test_early_stopping_uses_a_stratified_split_and_restores_the_best_weights(monkeypatch):
    X, y = make_classification(400, 8, weights=[0.9, 0.1], random_state=0)
    seen = {}
    original = _stochastic._validation_split

    def spy(est, y_, rng):
        train, val = original(est, y_, rng)
        seen["val"] = val
        return train, val

    monkeypatch.setattr(_stochastic, "_validation_split", spy)
    clf = MLPClassifier(
        (10,),
        early_stopping=True,
        validation_fraction=0.2,
        max_iter=60,
        learning_rate_init=0.05,
        n_iter_no_change=5,
        random_state=0,
    ).fit(X, y)
    val = seen["val"]
    assert len(val) == 80
    assert np.sum(y[val] == 1) == round(0.2 * np.sum(y == 1))  # stratified
    assert clf.validation_scores_ and len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.score(X[val], y[val]) == pytest.approx(clf.best_validation_score_)
    assert clf.best_loss_ is None


@quiet
@pytest.mark.parametrize(
    "as_column",
    [lambda y: y.reshape(-1, 1), lambda y: pd.DataFrame({"label": y})],
    ids=["column_vector", "one_column_dataframe"],
)
def test_early_stopping_on_a_column_of_labels_trains_as_on_the_1d_labels(iris, as_column):
    # scikit-learn ravels y of shape (n, 1) (with a DataConversionWarning) and trains
    # bit-identically; the validation split must be stratified on it as on the 1-D y
    X, y = iris
    params = dict(early_stopping=True, max_iter=30, random_state=0)
    flat = MLPClassifier((8,), **params).fit(X, y)
    with pytest.warns(DataConversionWarning):
        column = MLPClassifier((8,), **params).fit(X, as_column(y))
    for a, b in zip(
        flat.coefs_ + flat.intercepts_, column.coefs_ + column.intercepts_, strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert column.validation_scores_ == flat.validation_scores_
    assert column.n_iter_ == flat.n_iter_


def test_a_nan_validation_score_never_counts_as_an_improvement(iris, monkeypatch):
    X, y = iris
    scores = iter([0.5] + [float("nan")] * 50)
    monkeypatch.setattr(MLPClassifier, "_score_outputs", lambda self, *a, **k: next(scores))
    clf = MLPClassifier((5,), early_stopping=True, n_iter_no_change=3, max_iter=50, random_state=0)
    clf.fit(X, y)
    assert clf.best_validation_score_ == 0.5
    assert clf.n_iter_ == 5  # 1 good epoch, then 4 NaN epochs exceed n_iter_no_change=3


@quiet
def test_warm_start_keeps_the_optimizer_state(iris):
    X, y = iris
    once = MLPClassifier((6,), max_iter=4, random_state=0).fit(X, y)
    twice = MLPClassifier((6,), max_iter=2, warm_start=True, random_state=0).fit(X, y)
    twice.fit(X, y)
    assert twice._optimizer.state["t"] == once._optimizer.state["t"] == 4
    for a, b in zip(once.coefs_, twice.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)  # 2 + 2 epochs == 4 epochs, bit for bit
    assert twice.loss_curve_ == once.loss_curve_


def test_partial_fit_keeps_the_optimizer_state_and_needs_classes(iris):
    X, y = iris
    clf = MLPClassifier((6,), batch_size=50, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:75], y[:75], classes=[0, 1, 2])
    clf.partial_fit(X[75:], y[75:])
    assert clf._optimizer.state["t"] == 4  # 2 batches per call
    assert clf.t_ == 150 and clf.n_iter_ == 1
    assert list(clf.classes_) == [0, 1, 2]


def test_partial_fit_regressor_matches_fit_for_one_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    y = X @ [1.0, 2.0, -1.0]
    a = MLPRegressor((4,), max_iter=1, shuffle=False, random_state=0)
    with pytest.warns(ConvergenceWarning):
        a.fit(X, y)
    b = MLPRegressor((4,), shuffle=False, random_state=0).partial_fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_a_batch_with_all_zero_weights_is_not_an_error(iris):
    X, y = iris
    w = np.ones(len(X))
    w[:50] = 0  # the first batches (no shuffling) weigh nothing
    clf = MLPClassifier((6,), batch_size=25, shuffle=False, max_iter=5, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y, sample_weight=w)
    assert np.isfinite(clf.loss_) and all(np.isfinite(c).all() for c in clf.coefs_)


def test_all_zero_weights_overall_are_an_error(iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"non-zero|positive sum"):
        MLPClassifier().fit(X, y, sample_weight=np.zeros(len(X)))


def test_all_zero_class_weights_are_named_as_the_cause(iris):
    X, y = iris
    zero = {c: 0.0 for c in np.unique(y)}
    with pytest.raises(ValueError, match=r"got 0.0 \(weights from class_weight\)"):
        MLPClassifier(class_weight=zero).fit(X, y)
    with pytest.raises(ValueError, match=r"weights from sample_weight times class_weight"):
        MLPClassifier(class_weight=zero).fit(X, y, sample_weight=np.ones(len(X)))


@quiet
def test_class_weight_equals_the_corresponding_sample_weight():
    X, y = make_classification(300, 6, weights=[0.8, 0.2], random_state=0)
    a = MLPClassifier((6,), class_weight={0: 1.0, 1: 4.0}, max_iter=20, random_state=0).fit(X, y)
    b = MLPClassifier((6,), max_iter=20, random_state=0).fit(
        X, y, sample_weight=np.where(y == 1, 4.0, 1.0)
    )
    np.testing.assert_allclose(a.coefs_[0], b.coefs_[0], rtol=1e-12)
    balanced = MLPClassifier((6,), class_weight="balanced", max_iter=20, random_state=0).fit(X, y)
    plain = MLPClassifier((6,), max_iter=20, random_state=0).fit(X, y)
    assert np.mean(balanced.predict(X) == 1) > np.mean(plain.predict(X) == 1)


@quiet
def test_pluggable_objects_are_copied_never_mutated(iris):
    X, y = iris
    layers = [Dense(8), Tanh(), Dropout(0.1)]
    loss = SquaredError()
    opt = SGD(learning_rate=0.05, momentum=0.9)
    clf = MLPClassifier(layers=layers, loss=loss, solver=opt, max_iter=30, random_state=0)
    clf.fit(X, y)
    assert all(not layer.params for layer in layers)  # still unbuilt
    assert opt.state == {} and opt.learning_rate == 0.05
    assert clf.layers is layers and clf.solver is opt and clf.loss is loss
    assert clf.network_.layers[0] is not layers[0]
    assert clf.out_activation_ == "softmax"  # from the targets: SquaredError has no link
    assert clf.score(X, y) > 0.8


@quiet
def test_optimizer_instances_drive_training(iris):
    X, y = iris
    clf = MLPClassifier((8,), solver=Adam(learning_rate=0.02), max_iter=100, random_state=0)
    assert clf.fit(X, y).score(X, y) > 0.95
    assert clf._optimizer.state["t"] == 100


def test_lbfgs_turns_dropout_off_and_says_so(iris):
    X, y = iris
    with pytest.warns(
        UserWarning,
        match=r"solver='lbfgs'\) minimizes a deterministic full-batch loss, so its Dropout layers are inactive",
    ):
        a = MLPClassifier(
            layers=[Dense(8), ReLU(), Dropout(0.5)], solver="lbfgs", random_state=0
        ).fit(X, y)
    b = MLPClassifier(layers=[Dense(8), ReLU(), Dropout(0.0)], solver="lbfgs", random_state=0).fit(
        X, y
    )
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])  # the same objective
    assert a.best_loss_ == min(a.loss_curve_)


def test_custom_layers_replace_hidden_layer_sizes(iris):
    X, y = iris
    clf = MLPClassifier(
        hidden_layer_sizes=(100, 100), layers=[Dense(7), ReLU()], solver="lbfgs", random_state=0
    )
    with pytest.warns(UserWarning, match=r"hidden_layer_sizes=\(100, 100\) is ignored"):
        clf.fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(4, 7), (7, 3)]
    assert clf.n_layers_ == 3


class Explodes(ReLU):
    """Fails in the middle of training."""

    calls = 0

    def forward(self, x, training=False):
        Explodes.calls += 1
        if Explodes.calls > 3:
            raise RuntimeError("boom")
        return super().forward(x, training)


def test_a_failed_fit_leaves_the_estimator_as_it_was(iris):
    X, y = iris
    clf = MLPClassifier(layers=[Dense(4), Explodes()], max_iter=10, random_state=0)
    Explodes.calls = 0
    with pytest.raises(RuntimeError, match="boom"):
        clf.fit(X, y)
    assert not any(k.endswith("_") for k in vars(clf))
    good = MLPClassifier((4,), solver="lbfgs", random_state=0).fit(X, y)
    before = {k: copy.deepcopy(v) for k, v in vars(good).items()}
    good.set_params(layers=[Dense(4), Explodes()], hidden_layer_sizes=100, solver="adam")
    Explodes.calls = 0
    with pytest.raises(RuntimeError, match="boom"):
        good.fit(X, y)
    assert set(vars(good)) == set(before)
    np.testing.assert_array_equal(good.coefs_[0], before["network_"].params["0.W"])
    assert good.coefs_[0] is good.network_.params["0.W"]


@pytest.mark.parametrize(
    "Estimator", [SkLearnMLPRegressor, MLPRegressor], ids=["sklearn", "layerkit"]
)
def test_a_loss_equal_to_best_minus_tol_is_an_improvement_as_in_scikit_learn(Estimator):
    # a learning rate too small to move the weights: every epoch's loss is the same, and
    # with tol=0 it equals best_loss_ - tol, which scikit-learn counts as an improvement
    X, y = make_regression(60, 3, random_state=0)
    est = Estimator(
        hidden_layer_sizes=(4,),
        solver="sgd",
        learning_rate_init=1e-300,
        momentum=0.0,
        tol=0.0,
        n_iter_no_change=3,
        max_iter=8,
        shuffle=False,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert len(set(est.loss_curve_)) == 1
    assert est.n_iter_ == 8


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize(
    "size, dtype",
    [(1e306, np.float64), (1e308, np.float64), (1e-310, np.float64), (1e-39, np.float32)],
)
def test_huge_and_tiny_weights_train_as_their_ratios_say(size, dtype, solver):
    """1e306 overflowed the weighted loss, 1e308 the weights' sum (a divergence blamed
    on the learning rate, then an error asking to rescale them); subnormal weights
    raised OverflowError, and in float32 gave an infinite scale. Equal weights are no
    weights (with alpha=0: alpha's L2 term is divided by the weights' sum)."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)).astype(dtype), rng.normal(size=40)
    common = dict(hidden_layer_sizes=(5,), max_iter=5, alpha=0.0, random_state=0, solver=solver)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = MLPRegressor(**common).fit(X, y, sample_weight=np.full(40, size))
        plain = MLPRegressor(**common).fit(X, y)
    tight = dtype == np.float64
    np.testing.assert_allclose(
        weighted.predict(X), plain.predict(X), rtol=1e-10 if tight else 1e-5,
        atol=1e-12 if tight else 1e-6,
    )  # fmt: skip


def test_scaled_weights_keep_alphas_l2_term_divided_by_their_sum():
    """Weights and alpha are scaled by one power of two, exactly: weights of 3 and alpha
    train as before the scaling (0.5 x 3 and 0.5 x alpha give the same L2 factor)."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    common = dict(hidden_layer_sizes=(5,), max_iter=3, random_state=0, solver="sgd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        threes = MLPRegressor(alpha=0.3, **common).fit(X, y, sample_weight=np.full(40, 3.0))
        ones = MLPRegressor(alpha=0.1, **common).fit(X, y)  # alpha / Σs: 0.3/120 = 0.1/40
    np.testing.assert_allclose(threes.predict(X), ones.predict(X), rtol=1e-12)


@pytest.mark.parametrize("tol", [1e-2, 3e-2])
def test_several_outputs_stop_at_scikit_learns_epoch(tol):
    """scikit-learn averages its squared error over the outputs and applies tol to that;
    layerkit's loss_ is the sum, so tol applies to loss_ / n_outputs (a 3-output fit ran
    222 epochs against scikit-learn's 68 before)."""
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(200, random_state=0)
    X = (X - X.mean(0)) / X.std(0)
    Y = np.c_[y, y**0.5, -y]
    kw = dict(
        hidden_layer_sizes=(20,), solver="sgd", momentum=0.0, shuffle=False, batch_size=50,
        tol=tol, random_state=0, n_iter_no_change=3,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = SkLearnMLPRegressor(max_iter=1, learning_rate_init=1e-12, **kw).fit(X, Y)
        ours = MLPRegressor(max_iter=1, learning_rate_init=1e-12, **kw).fit(X, Y)
        ours.coefs_, ours.intercepts_ = sk.coefs_, sk.intercepts_  # (copied in)
        for est in (sk, ours):
            est.set_params(warm_start=True, max_iter=500, learning_rate_init=0.01)
            est.fit(X, Y)
    assert ours.n_iter_ == sk.n_iter_ < 500
    for a, b in zip(ours.coefs_, sk.coefs_, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_hidden_layer_sizes_equal_layers_with_uniform_biases():
    """As docs/sklearn.md says: the same network, the same fit, from either."""
    X, y = make_regression(80, 5, random_state=0)
    common = dict(solver="lbfgs", max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sizes = MLPRegressor((16,), **common).fit(X, y)
        layers = MLPRegressor(layers=[Dense(16, bias_init="uniform"), ReLU()], **common).fit(X, y)
    np.testing.assert_array_equal(sizes.predict(X), layers.predict(X))


def test_sample_times_class_weights_beyond_the_float_range_train_or_are_named():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)), np.arange(60) % 3
    common = dict(hidden_layer_sizes=(5,), max_iter=5, random_state=0)
    huge = dict.fromkeys(range(3), 1e200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(class_weight=huge, **common).fit(
            X, y, sample_weight=np.full(60, 1e200)
        )
    assert np.isfinite(est.loss_)  # (1e400 each: a NaN divergence before)
    tiny = dict.fromkeys(range(3), 1e-200)
    with pytest.raises(ValueError, match=r"alpha=0.0001's L2 term is divided by the sum of "
                       r"the weights, and sample_weight and class_weight make"):  # fmt: skip
        MLPClassifier(class_weight=tiny, **common).fit(X, y, sample_weight=np.full(60, 1e-200))


def test_float32_weights_beyond_float32s_range_train_as_their_ratios_say():
    """1e39 became infinite when cast to float32 before scaling (a NaN divergence)."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)).astype(np.float32), np.arange(60) % 2
    common = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0, alpha=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        huge = MLPClassifier(class_weight={0: 1e39, 1: 1e39}, **common).fit(X, y)
        plain = MLPClassifier(**common).fit(X, y)
        tiny = MLPClassifier(**common).fit(X, y, sample_weight=np.full(60, 1e-46))
    np.testing.assert_allclose(huge.predict_proba(X), plain.predict_proba(X), rtol=1e-5)
    np.testing.assert_allclose(tiny.predict_proba(X), plain.predict_proba(X), rtol=1e-5)


# ------------------------------------------ found by a user streaming and warm-starting
@quiet
@pytest.mark.parametrize("before", ["adaptive", "invscaling"])
def test_a_new_schedule_in_a_warm_start_restarts_the_step_size(iris, before):
    X, y = iris
    clf = MLPClassifier(
        (6,), solver="sgd", learning_rate=before, learning_rate_init=0.1, n_iter_no_change=1,
        tol=1.0, max_iter=6, warm_start=True, random_state=0,
    ).fit(X, y)  # fmt: skip
    assert clf._optimizer.current_learning_rate < 0.05  # decayed
    # the schedule goes on (after a fit that ended converged, 'adaptive' starts again:
    # see test_a_warm_started_adaptive_fit_after_a_converged_one_restarts_its_rate)
    same = copy.deepcopy(clf).set_params(max_iter=1).fit(X, y)
    assert same._optimizer.current_learning_rate < 0.05
    clf.set_params(learning_rate="constant", max_iter=1).fit(X, y)
    assert clf._optimizer.current_learning_rate == 0.1


@quiet
def test_a_warm_started_fit_with_early_stopping_races_its_own_epochs(iris):
    """Each fit runs its own race on its own split, from its starting weights' score: a
    best score carried over from the fit before restored the starting weights after one
    epoch, training nothing; a race from -inf let a worse epoch replace them."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16
    clf = MLPClassifier((32,), early_stopping=True, random_state=0, max_iter=200)
    clf.fit(X[:1000], y[:1000])
    start = clf.score(X, y)
    clf.set_params(warm_start=True, learning_rate_init=0.5)  # epochs worse than the start
    clf.fit(X[:1000], y[:1000])
    assert clf.n_iter_ == clf.n_iter_no_change + 1  # it trained, then kept the start
    assert clf.score(X, y) == start
    clf.set_params(learning_rate_init=1e-3)
    before = [w.copy() for w in clf.coefs_]
    clf.fit(X[1000:], y[1000:])  # a new chunk: its own split, where training helps
    assert any(not np.array_equal(a, b) for a, b in zip(before, clf.coefs_, strict=True))
    assert clf.best_validation_score_ == max(clf.validation_scores_[-clf.n_iter_ :])


@quiet
def test_switching_early_stopping_in_a_warm_start_sets_what_it_tracks(iris):
    X, y = iris
    clf = MLPClassifier((6,), max_iter=20, warm_start=True, random_state=0).fit(X, y)
    clf.set_params(early_stopping=True, max_iter=5, n_iter_no_change=50).fit(X, y)
    assert clf.best_loss_ is None and len(clf.validation_scores_) == 5
    assert len(clf.loss_curve_) == 25  # the scores are those of the last 5 epochs
    clf.set_params(early_stopping=False).fit(X, y)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert clf.best_loss_ == min(clf.loss_curve_[-5:])


def test_class_weights_in_partial_fit_hold_for_chunks_without_a_weighted_class(iris):
    X, y = iris
    weighted = MLPClassifier((6,), class_weight={2: 5.0}, random_state=0)
    weighted.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])  # no class 2 in it
    plain = MLPClassifier((6,), random_state=0).partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    for a, b in zip(weighted.coefs_, plain.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)  # classes 0 and 1 weigh 1
    weighted.partial_fit(X, y)
    sw = np.where(y == 2, 5.0, 1.0)
    by_sample = MLPClassifier((6,), random_state=0).partial_fit(
        X[y < 2], y[y < 2], classes=[0, 1, 2]
    )
    by_sample.partial_fit(X, y, sample_weight=sw)
    for a, b in zip(weighted.coefs_, by_sample.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("side", ["validation", "training"])
def test_early_stopping_refuses_a_split_side_without_weight(iris, side, monkeypatch):
    X, y = iris
    splits = []
    split = _stochastic._validation_split
    monkeypatch.setattr(_stochastic, "_validation_split", lambda *a: splits.append(split(*a)))
    with pytest.raises(TypeError):  # (the split seen, the fit stopped there)
        MLPClassifier((6,), early_stopping=True, random_state=0).fit(X, y)
    monkeypatch.setattr(_stochastic, "_validation_split", split)
    val = splits[0][1]
    clf = MLPClassifier((6,), early_stopping=True, random_state=0)
    sw = np.zeros(len(y))
    sw[val if side == "training" else np.setdiff1d(np.arange(len(y)), val)] = 1.0
    with pytest.raises(ValueError, match=f"early stopping's {side} split .* summing to 0"):
        clf.fit(X, y, sample_weight=sw)
    assert not hasattr(clf, "coefs_")


def test_partial_fit_says_to_call_fit_to_start_over():
    X = np.random.default_rng(0).normal(size=(20, 3))
    reg = MLPRegressor((4,), random_state=0).partial_fit(X, X[:, :2])
    with pytest.raises(ValueError, match=r"partial_fit continues .* call fit \(with warm"):
        reg.partial_fit(X, X[:, 0])
    with pytest.raises(ValueError, match="fit again with warm_start=False"):
        reg.set_params(warm_start=True).fit(X, X[:, 0])


@quiet
@pytest.mark.parametrize("how", ["learning_rate_init", "solver__learning_rate"])
def test_a_lowered_rate_in_a_warm_start_rescales_the_momentum(iris, how):
    """The velocity v = μ v - η g holds the old rate: a rate lowered from 0.1 to 1e-12
    kept moving the weights by 0.03 in the next epoch (an ecosystem user's trial)."""
    X, y = iris
    given = {"solver": "sgd", "learning_rate_init": 0.1, "momentum": 0.9}
    if how == "solver__learning_rate":
        given = {"solver": SGD(0.1, momentum=0.9)}
    clf = MLPClassifier(
        (8,), max_iter=10, shuffle=False, warm_start=True, random_state=0, **given
    ).fit(X, y)
    before = clf.coefs_[0].copy()
    clf.set_params(**{how: 1e-12, "max_iter": 1}).fit(X, y)
    assert np.abs(clf.coefs_[0] - before).max() < 1e-9


@quiet
def test_a_restart_after_adaptive_divisions_does_not_blow_up_the_momentum(iris):
    """The velocity held steps at the rates before the divisions: rescaled by the ratio
    of the new rate to the divided one (2.56e-7), one epoch moved W by 277 (a
    reviewer's case)."""
    X, y = iris
    clf = MLPClassifier(
        (8,), solver="sgd", learning_rate="adaptive", learning_rate_init=0.1, momentum=0.9,
        max_iter=60, n_iter_no_change=2, tol=0.05, shuffle=False, warm_start=True,
        random_state=0,
    ).fit(X, y)  # fmt: skip
    assert clf._optimizer.current_learning_rate < 1e-5
    before = clf.coefs_[0].copy()
    clf.set_params(learning_rate_init=0.01, max_iter=1).fit(X, y)
    assert np.abs(clf.coefs_[0] - before).max() < 0.05


def test_a_warm_started_fit_after_a_converged_one_tests_its_own_convergence():
    """(a trial: next month's data trained one epoch, silently, because the count of
    epochs without improvement and the best loss came over from the converged fit)"""
    rng = np.random.default_rng(0)
    X_old = rng.normal(size=(500, 3))
    X_new = rng.normal(size=(500, 3))
    y_new = np.sin(3 * X_new[:, 0]) + rng.normal(0, 0.5, 500)
    reg = MLPRegressor((32,), max_iter=300, warm_start=True, random_state=0)
    reg.fit(X_old, X_old @ [0.1, 0.2, 0.3])
    assert reg.n_iter_ < 300  # converged
    reg.set_params(max_iter=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X_new, y_new)
    assert reg.n_iter_ > reg.n_iter_no_change
    assert reg.best_loss_ == min(reg.loss_curve_[-reg.n_iter_ :])


@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_warm_started_adaptive_fit_after_a_converged_one_restarts_its_rate(early_stopping):
    """(a review: the count restarted, but at the rate the converged fit had divided
    down to, 6.4e-7, the new fit learned nothing in 12 epochs and stopped; a second
    review: with early stopping, nothing restarted)"""
    rng = np.random.default_rng(0)
    X, X_new = rng.normal(size=(200, 5)), rng.normal(size=(200, 5))
    reg = MLPRegressor(
        (6,), solver="sgd", learning_rate="adaptive", learning_rate_init=0.01, max_iter=2000
    )
    reg.set_params(random_state=0, warm_start=True, tol=1e-3, early_stopping=early_stopping)
    reg.fit(X, X @ rng.normal(size=5))
    assert reg._optimizer.current_learning_rate < 1e-5  # converged, the rate divided
    start = len(reg.loss_curve_)
    reg.fit(X_new, X_new @ rng.normal(size=5))
    assert reg.loss_curve_[-1] < 0.1 * reg.loss_curve_[start]
