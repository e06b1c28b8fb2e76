"""A diverging fit stops at the first non-finite loss with DivergenceError, naming the
epoch and the batch, and leaves the estimator as it was."""

import copy
import warnings

import numpy as np
import pytest
import scipy.sparse
from _same import assert_same
from sklearn.exceptions import ConvergenceWarning

from layerkit import DivergenceError, MLPClassifier, MLPRegressor, Sequential
from layerkit.layers import Dense, Exp, Identity, ReLU
from layerkit.losses import Loss, SquaredError
from layerkit.optim import SGD, Adam
from layerkit.training import EpochRunner

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


def test_a_diverging_early_stopping_fit_raises():
    # (NaN weights give NaN validation scores: still a DivergenceError, not a model)
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
    assert not hasattr(clf, "network_")


class GoesBadInInference(Identity, register=False):
    """A user's layer, the identity in training; from its second inference call on it
    adds 1000, so the Exp after it overflows: the network's predictions on the
    validation set become non-finite (a NaN score) while the training losses stay
    finite. (Finite output for finite input: within the layer contract.)"""

    def forward(self, x, training=False):
        if not training:
            calls = self.__dict__["inference_calls"] = self.__dict__.get("inference_calls", 0) + 1
            if calls > 1:
                return x + 1000.0
        return super().forward(x, training)


@pytest.mark.filterwarnings("ignore:MLPRegressor. layers ends in Exp")  # (on purpose)
def test_a_nan_validation_score_never_improves():
    rng = np.random.default_rng(0)
    Xv = rng.normal(size=(100, 3))
    yv = Xv @ np.array([1.0, -1.0, 0.5])

    def make(max_iter):
        return MLPRegressor(
            layers=[Dense(8), GoesBadInInference(), Exp()],
            early_stopping=True,
            n_iter_no_change=3,
            max_iter=max_iter,
            random_state=0,
        )

    reg = make(50).fit(Xv, yv)
    first, *rest = reg.validation_scores_
    assert np.isfinite(first) and len(rest) == 4 and np.isnan(rest).all()
    assert np.isfinite(reg.loss_curve_).all()  # the training itself never diverged
    assert reg.best_validation_score_ == first  # a NaN never replaces the best score,
    assert reg.n_iter_ == 5  # and every NaN counts against n_iter_no_change=3: 1 + 4
    once = make(1)
    with pytest.warns(ConvergenceWarning):
        once.fit(Xv, yv)
    for name, p in reg.network_.params.items():  # the weights kept: those of epoch 1
        np.testing.assert_array_equal(p, once.network_.params[name])


def test_a_loss_growing_but_finite_is_warned_of_when_the_loss_rule_stops_it():
    """(A user's trial: lr 5 on the diabetes data; the loss grew from 9e12 to 1.6e72 and
    the n_iter_no_change rule ended the fit after 12 epochs as if it had converged,
    silently.) The stop now warns, naming both losses, at the caller's line."""
    from sklearn.datasets import load_diabetes

    Xd, yd = load_diabetes(return_X_y=True)
    reg = MLPRegressor((64,), solver="sgd", learning_rate_init=5.0, random_state=0)
    with pytest.warns(
        ConvergenceWarning, match=r"Training loss grew from ([\d.e+]+) \(epoch 1 "
    ) as record:
        reg.fit(Xd, yd)
    assert reg.n_iter_ < reg.max_iter and np.isfinite(reg.loss_curve_).all()
    assert reg.loss_curve_[-1] > 1e10 * reg.loss_curve_[0]
    assert f"to {reg.loss_curve_[-1]:.4g} (epoch {reg.n_iter_})" in str(record[0].message)
    assert record[0].filename == __file__


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_a_fit_that_converges_on_the_loss_rule_is_not_warned_of(solver):
    Xs, ys = X / 1e3, y / 1e6
    reg = MLPRegressor((8,), solver=solver, learning_rate_init=0.01, tol=1e-3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.fit(Xs, ys)
    assert reg.n_iter_ < reg.max_iter  # stopped by the rule, after the loss fell
    assert reg.loss_curve_[-1] < reg.loss_curve_[0]


# -- no update from the diverged batch, on every path the training loop has ------------


def _with_a_bad_third_batch(n_in):
    """40 rows in batches of 10; a row of the third batch makes its loss infinite."""
    data = np.random.default_rng(1)
    Xb = data.normal(size=(40, n_in))
    yb = Xb.sum(axis=1)
    Xb[25] = 1e300
    return Xb, yb


PATHS = {
    # the training plan, then one axpy over the flat parameters (a small network)
    "sgd": dict(optimizer=lambda: SGD(0.01)),
    # the training plan with the SGD step fused into the gradient products (large)
    "sgd fused": dict(optimizer=lambda: SGD(0.01), n_in=200, units=256),
    "momentum": dict(optimizer=lambda: SGD(0.01, momentum=0.9, nesterov=True)),
    "adam": dict(optimizer=lambda: Adam(0.01)),
    # sample weights: the general loop, each batch still run through the plan
    "sgd weighted": dict(optimizer=lambda: SGD(0.01), weighted=True),
    "adam weighted": dict(optimizer=lambda: Adam(0.01), weighted=True),
    # sparse X: no plan, each batch through Sequential.loss_and_grads and optimizer.step
    "sgd general": dict(optimizer=lambda: SGD(0.01), sparse=True),
    "momentum general": dict(optimizer=lambda: SGD(0.01, momentum=0.9), sparse=True),
    "adam general": dict(optimizer=lambda: Adam(0.01), sparse=True),
}


@pytest.mark.parametrize("path", list(PATHS))
def test_no_update_is_made_from_the_diverged_batch(path):
    case = PATHS[path]
    n_in, units = case.get("n_in", 3), case.get("units", 8)
    Xb, yb = _with_a_bad_third_batch(n_in)
    if case.get("sparse"):
        Xb = scipy.sparse.csr_matrix(Xb)
    net = Sequential([Dense(units), ReLU(), Dense(1), Identity()]).build(n_in, random_state=0)
    optimizer = case["optimizer"]()
    weights = np.ones(40) if case.get("weighted") else None
    runner = EpochRunner(
        net, Xb, yb, SquaredError(), optimizer, batch_size=10, sample_weight=weights
    )
    # the path named is the one taken (asserted, so that a change of the plan's
    # thresholds cannot quietly drop one)
    assert (runner._plan is None) == (path.endswith("general"))
    assert (runner._plan is not None and runner._plan.fused) == (path == "sgd fused")
    after = []  # the parameters and optimizer state after each batch (stop: asked then)

    def record():
        after.append(
            ({k: p.copy() for k, p in net.params.items()}, copy.deepcopy(optimizer.state))
        )
        return False

    with pytest.raises(DivergenceError, match="epoch 1, batch 3 is inf"):
        runner.run(None, stop=record)
    assert len(after) == 2
    assert_same({k: p.copy() for k, p in net.params.items()}, after[-1][0], "params")
    assert_same(optimizer.state, after[-1][1], "optimizer.state")
    assert after[-1][0]["0.W"].tolist() != after[0][0]["0.W"].tolist()  # (batches do train)


@pytest.mark.parametrize(
    "optimizer", [SGD(0.01), SGD(0.01, momentum=0.9), Adam(0.01)], ids=["sgd", "momentum", "adam"]
)
def test_the_low_level_fit_makes_no_update_from_the_diverged_batch(optimizer):
    # Sequential.fit stopped by batch 3 leaves what fitting batches 1 and 2 alone gives
    Xb, yb = _with_a_bad_third_batch(3)
    nets = [Sequential([Dense(8), ReLU(), Dense(1), Identity()]).build(3, random_state=0)]
    nets.append(copy.deepcopy(nets[0]))
    optimizers = [copy.deepcopy(optimizer), copy.deepcopy(optimizer)]
    with pytest.raises(DivergenceError, match="epoch 1, batch 3"):
        nets[0].fit(
            Xb, yb, loss=SquaredError(), optimizer=optimizers[0], batch_size=10, shuffle=False
        )
    nets[1].fit(
        Xb[:20],
        yb[:20],
        loss=SquaredError(),
        optimizer=optimizers[1],
        batch_size=10,
        max_iter=1,
        shuffle=False,
    )
    assert_same(*[{k: p.copy() for k, p in n.params.items()} for n in nets], "params")
    assert_same(optimizers[0].state, optimizers[1].state, "optimizer.state")


@pytest.mark.parametrize(
    "path",
    [
        "sgd",
        "sgd fused",
        "momentum",
        "adam",
        "sgd weighted",
        "adam weighted",
        "sgd general",
        "momentum general",
        "adam general",
    ],
)
def test_no_update_is_made_from_a_batch_whose_l2_term_overflows(path):
    # a feature that is always zero leaves its weight out of the data loss, which stays
    # finite; ½ l2 ‖W‖² / m overflows: the batch's loss is infinite all the same
    case = PATHS[path]
    n_in, units = case.get("n_in", 3), case.get("units", 8)
    Xb, yb = _with_a_bad_third_batch(n_in)
    Xb[25], Xb[:, 0] = 1.0, 0.0
    if case.get("sparse"):
        Xb = scipy.sparse.csr_matrix(Xb)
    net = Sequential([Dense(units), ReLU(), Dense(1), Identity()]).build(n_in, random_state=0)
    net.params["0.W"][0] = 1e160
    before = {k: p.copy() for k, p in net.params.items()}
    optimizer = case["optimizer"]()
    weights = np.ones(40) if case.get("weighted") else None
    runner = EpochRunner(
        net, Xb, yb, SquaredError(), optimizer, batch_size=10, sample_weight=weights, l2=1e-4
    )
    with pytest.raises(DivergenceError, match="epoch 1, batch 1 is inf"):
        runner.run(None)
    assert_same({k: p.copy() for k, p in net.params.items()}, before, "params")
    assert_same(optimizer.state, {}, "optimizer.state")


class _LogError(Loss, register=False):
    """Squared error of log(1 + a): undefined (NaN) for outputs below -1."""

    def per_example(self, a, y):
        return ((np.log1p(a) - np.log1p(y.reshape(a.shape))) ** 2).sum(axis=1)

    def per_example_grad(self, a, y):
        return 2 * (np.log1p(a) - np.log1p(y.reshape(a.shape))) / (1 + a)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_loss_undefined_at_finite_outputs_is_named_as_the_cause(solver):
    """Before any step the loss was NaN, and the advice was to lower the learning rate
    or scale the inputs, which were scaled already (a user's trial)."""
    Xs = np.random.default_rng(3).normal(size=(100, 3))
    ys = np.abs(Xs.sum(axis=1))
    reg = MLPRegressor((8,), loss=_LogError(), solver=solver, random_state=0)
    with pytest.raises(DivergenceError) as err:
        reg.fit(Xs, ys)
    message = str(err.value)
    assert "nan, but the network's outputs there are finite (from -" in message
    assert "_LogError() gives nan on them for " in message and " of 100 rows" in message
    assert "Either the loss is not defined at some of them (a log" in message
    assert "or it overflows at large ones" in message


def test_a_nan_from_infinite_outputs_keeps_the_divergence_advice():
    """Outputs that overflowed: the learning rate, not the loss."""
    reg = MLPRegressor((8,), solver="sgd", learning_rate_init=1e3, max_iter=50, random_state=0)
    with pytest.raises(DivergenceError, match="Lower the learning rate"):
        reg.fit(X, y)


class _NaiveSoftmaxLoss(Loss, register=False):
    """Cross-entropy of exp(a) / Σ exp(a), unstabilized: inf/inf at large outputs."""

    def per_example(self, a, y):
        p = np.exp(a) / np.exp(a).sum(axis=1, keepdims=True)
        return -(y * np.log(p)).sum(axis=1)

    def per_example_grad(self, a, y):
        p = np.exp(a) / np.exp(a).sum(axis=1, keepdims=True)
        return p * y.sum(axis=1, keepdims=True) - y


def test_a_loss_overflowing_at_large_outputs_keeps_the_step_size_advice():
    """(a review: told only that the loss was undefined, where scaled inputs trained).
    Whether the overflow first gives inf or NaN, the advice on the step remains."""
    Xs = np.random.default_rng(5).normal(size=(100, 3))
    Y = np.eye(2)[(Xs[:, 0] > 0).astype(int)]
    net = Sequential([Dense(8), ReLU(), Dense(2)]).build(3, random_state=0)
    with pytest.raises(DivergenceError) as err:
        net.fit(Xs * 100, Y, loss=_NaiveSoftmaxLoss(), optimizer=SGD(0.1), max_iter=20)
    message = str(err.value).lower()
    assert "lower the learning rate" in message and "scale the inputs" in message


class _DividesByZero(SGD, register=False):
    """An optimizer of the user's whose step divides by a zero second moment."""

    def step(self, params, grads):
        with np.errstate(divide="ignore", invalid="ignore"):
            for name, w in params.items():
                w -= self.current_learning_rate * grads[name] / np.sqrt(np.zeros_like(w))


def test_non_finite_parameters_from_an_own_optimizer_point_at_its_step():
    """(it was told only to lower its learning rate, which no rate would mend)"""
    Xs = np.random.default_rng(6).normal(size=(64, 3))
    net = Sequential([Dense(4), ReLU(), Dense(1)]).build(3, random_state=0)
    with pytest.raises(DivergenceError) as err:
        net.fit(
            Xs, Xs.sum(axis=1, keepdims=True), loss=SquaredError(), optimizer=_DividesByZero(0.05)
        )
    message = str(err.value)
    assert "The parameters '0.W', '0.b', '2.W', '2.b' hold NaN or infinity after " in message
    assert "after _DividesByZero(learning_rate=0.05)'s steps" in message
    assert "layerkit.check_optimizer shows it. Otherwise: Lower the learning rate" in message
