"""Behaviours a new user checked against scikit-learn, each pinned by a test."""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.model_selection import GridSearchCV

from layerkit import InvalidParameterError, MLPClassifier, MLPRegressor
from layerkit.layers import Dense, ReLU, Sigmoid, Softmax
from layerkit.losses import BinaryCrossEntropy, CategoricalCrossEntropy, Loss, SquaredError
from layerkit.optim import SGD, Optimizer

quiet = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y


@quiet
def test_predict_is_thread_safe():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    clf = MLPClassifier((64,), max_iter=5, random_state=0).fit(X, y)
    chunks = [X[i : i + 64] for i in range(0, len(X), 64)]
    expected = [clf.predict_proba(c) for c in chunks]
    _same_in_threads(clf.predict_proba, chunks, expected, workers=8, rounds=3)


def _same_in_threads(predict, chunks, expected, *, workers, rounds):
    """``predict`` on every chunk from ``workers`` threads at once, ``rounds`` times: the
    same results as one at a time."""
    with ThreadPoolExecutor(workers) as pool:
        for _ in range(rounds):
            got = list(pool.map(predict, chunks))
            for a, b in zip(got, expected, strict=True):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("first", ["dense", "activation", "sparse"])
def test_predict_is_thread_safe_on_every_path(first):
    # the general path too (a first activation, sparse input): layers keep caches of
    # the last forward pass, which no thread may read back from another's
    import scipy.sparse as sp

    from layerkit import Sequential
    from layerkit.layers import ELU, GELU, Dense, LeakyReLU, Softmax

    hidden = [Dense(16), ELU(), Dense(8), GELU(), Dense(8), LeakyReLU(0.1)]
    layers = ([ELU()] if first == "activation" else []) + [*hidden, Dense(3), Softmax()]
    net = Sequential(layers).build(6, random_state=0)
    rng = np.random.default_rng(0)
    chunks = [rng.normal(size=(200 + 7 * i, 6)) for i in range(16)]  # sizes differ
    if first == "sparse":
        chunks = [sp.csr_matrix(c * (c > 0.5)) for c in chunks]
    expected = [net.predict(c) for c in chunks]
    _same_in_threads(net.predict, chunks, expected, workers=4, rounds=5)


@quiet
def test_coefs_item_assignment_changes_the_model(iris):
    X, y = iris
    clf = MLPClassifier((5,), max_iter=5, random_state=0).fit(X, y)
    clf.coefs_[-1] = np.zeros_like(clf.coefs_[-1])
    clf.intercepts_[-1] = np.zeros(3)
    np.testing.assert_allclose(clf.predict_proba(X[:2]), 1 / 3)
    with pytest.raises(ValueError, match=r"expected W of shape \(5, 3\), got \(2, 2\)"):
        clf.coefs_[-1] = np.zeros((2, 2))


def test_arrays_from_coefs_keep_tracking_partial_fit(iris):
    X, y = iris
    clf = MLPClassifier((5,), random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    W = clf.coefs_[0]
    before = W.copy()
    clf.partial_fit(X, y)
    assert W is clf.coefs_[0] and not np.array_equal(W, before)


class SmoothCE(CategoricalCrossEntropy):
    """Label smoothing: overrides the cost but not the logits form."""

    def __init__(self, smoothing=0.1):
        self.smoothing = smoothing

    def _smooth(self, y):
        return y * (1 - self.smoothing) + self.smoothing / y.shape[1]

    def per_example(self, a, y):
        return super().per_example(a, self._smooth(y))

    def per_example_grad(self, a, y):
        return super().per_example_grad(a, self._smooth(y))


@quiet
def test_a_subclass_of_a_builtin_loss_trains_as_itself(iris):
    X, y = iris
    assert not SmoothCE().has_fused_form() and CategoricalCrossEntropy().has_fused_form()
    clf = MLPClassifier((16,), loss=SmoothCE(0.3), solver="lbfgs", random_state=0).fit(X, y)
    assert clf.predict_proba(X).max() < 0.95  # smoothing caps the confidence


class SmoothCEFromLogits(SmoothCE):
    """Label smoothing with its cost from the logits too, but the parent's fused δ."""

    def per_example_from_logits(self, z, y):
        return super().per_example_from_logits(z, self._smooth(y))


def test_a_subclass_with_its_own_logits_cost_but_the_parents_delta_is_not_fused():
    """Its value came from its own logits form and its δ from the parent's: trained as
    plain cross-entropy (a user's trial: gradients off by 0.038 against PyTorch)."""
    from layerkit import Sequential
    from layerkit.gradcheck import check_network
    from layerkit.layers import Dense, Softmax

    loss = SmoothCEFromLogits(0.2)
    assert not loss.has_fused_form()
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(8, 4)), np.eye(3)[rng.integers(0, 3, 8)]
    net = Sequential([Dense(3), Softmax()]).build(4, random_state=0)
    report = check_network(net, X, Y, loss)
    assert not report.failed, report
    net.loss_and_grads(X, Y, loss)
    smoothed = net.grads["0.W"].copy()
    net.loss_and_grads(X, Y, CategoricalCrossEntropy())
    assert np.abs(smoothed - net.grads["0.W"]).max() > 1e-3
    with pytest.raises(
        NotImplementedError, match=r"but its fused output error .* from CategoricalCrossEntropy"
    ):
        loss.delta_from_logits(X[:, :3], Y)  # (it would be the parent's)


class Focal(Loss):
    """A loss with a link but no logits form: the general path serves it."""

    link = Softmax

    def per_example(self, a, y):
        return -(y * (1 - a) ** 2 * np.log(np.maximum(a, 1e-12))).sum(axis=1)

    def per_example_grad(self, a, y):
        a = np.maximum(a, 1e-12)
        return -y * ((1 - a) ** 2 / a - 2 * (1 - a) * np.log(a))


@quiet
def test_a_loss_with_a_link_but_no_logits_form_trains(iris):
    X, y = iris
    clf = MLPClassifier((8,), loss=Focal(), max_iter=50, learning_rate_init=0.05, random_state=0)
    assert clf.fit(X, y).score(X, y) > 0.9


def test_first_partial_fit_refuses_labels_outside_classes(iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"`y` has classes not in `classes`"):
        MLPClassifier().partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match=r"`y` has classes not in `classes`"):
        MLPClassifier().partial_fit(X, y, classes=["0", "1", "2"])


def test_balanced_class_weight_is_refused_by_partial_fit(iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"not supported by partial_fit.*compute_class_weight"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


@pytest.mark.parametrize("inf", [np.inf, float("inf")])
def test_infinite_patience_is_accepted(iris, inf):
    X, y = iris
    with pytest.warns(Warning):
        MLPClassifier((4,), n_iter_no_change=inf, max_iter=3).fit(X, y)


@pytest.mark.parametrize("fraction", [0.0, 0.005])
def test_a_too_small_validation_split_is_explained(iris, fraction):
    X, y = iris
    with pytest.raises(
        ValueError, match=r"The validation set is too small.*needs at least 2 on each side"
    ):
        MLPClassifier(early_stopping=True, validation_fraction=fraction).fit(X, y)


@quiet
@pytest.mark.parametrize(
    "case", ["a class seen once", "fewer validation rows than classes", "iris at 1%"]
)
def test_early_stopping_trains_where_a_stratified_split_is_impossible(case):
    """As scikit-learn does (its multiclass split is never stratified); before, these
    raised (the least populated class has 1 member / the validation set is too small)."""
    X, y = load_digits(return_X_y=True)
    fraction = 0.1
    if case == "a class seen once":
        rows = np.r_[np.flatnonzero(y != 9)[:300], np.flatnonzero(y == 9)[:1]]
    elif case == "fewer validation rows than classes":
        rows = np.arange(60)  # 6 validation rows for 10 classes
    else:
        X, y = load_iris(return_X_y=True)
        rows, fraction = np.arange(150), 0.01  # 2 validation rows for 3 classes
    clf = MLPClassifier(
        (16,), early_stopping=True, validation_fraction=fraction, max_iter=5, random_state=0
    )
    if case == "a class seen once":  # (its only sample may be held out: warned of)
        with pytest.warns(UserWarning, match="class 9 has a single sample"):
            clf.fit(X[rows] / X.max(), y[rows])
    else:
        clf.fit(X[rows] / X.max(), y[rows])
    assert len(clf.validation_scores_) == clf.n_iter_ > 0


@quiet
def test_early_stopping_without_shuffle_trains_in_the_splits_random_order(monkeypatch):
    import layerkit.estimators._stochastic as stochastic

    X, y = load_iris(return_X_y=True)  # sorted by class
    seen = {}
    runner = stochastic.EpochRunner

    def spy(*args, **kwargs):
        seen["rows"] = kwargs["rows"]
        return runner(*args, **kwargs)

    monkeypatch.setattr(stochastic, "EpochRunner", spy)
    MLPClassifier((4,), early_stopping=True, shuffle=False, max_iter=2, random_state=0).fit(X, y)
    rows = seen["rows"]
    assert len(rows) == 135 and len(np.unique(y[rows[:32]])) == 3  # not class by class
    MLPClassifier((4,), early_stopping=True, shuffle=True, max_iter=2, random_state=0).fit(X, y)
    assert np.all(np.diff(seen["rows"]) > 0)  # shuffled each epoch anyway: gathered in order


@pytest.mark.parametrize("bad", [-1, "a", 2**40, 1.5])
def test_random_state_is_validated(iris, bad):
    X, y = iris
    with pytest.raises(
        InvalidParameterError, match="'random_state' parameter must be None, an int"
    ):
        MLPClassifier(random_state=bad).fit(X, y)


def test_loss_as_the_first_positional_argument_gets_a_hint(iris):
    X, y = iris
    with pytest.raises(
        InvalidParameterError, match=r"loss is a keyword argument: MLPRegressor\(loss='poisson'\)"
    ):
        MLPRegressor("poisson").fit(X, y)


@quiet
def test_early_stopping_can_be_switched_on_in_a_warm_start(iris):
    X, y = iris
    clf = MLPClassifier((5,), max_iter=3, warm_start=True, random_state=0).fit(X, y)
    clf.set_params(early_stopping=True).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    clf.set_params(early_stopping=False).fit(X, y)
    assert np.isfinite(clf.best_loss_)


@quiet
def test_nested_parameters_reach_inside_layerkit_objects(iris):
    X, y = iris
    est = MLPClassifier((6,), solver=SGD(0.01, momentum=0.9), max_iter=20, random_state=0)
    assert est.get_params()["solver__momentum"] == 0.9
    est.set_params(solver__learning_rate=0.2)
    assert est.solver.learning_rate == 0.2
    with pytest.raises(ValueError, match="learning_rate must be greater than 0"):
        est.set_params(solver__learning_rate=-1.0)
    assert est.solver.learning_rate == 0.2  # unchanged by the refused value
    search = GridSearchCV(est, {"solver__learning_rate": [0.01, 0.1]}, cv=3).fit(X, y)
    assert search.best_params_["solver__learning_rate"] in (0.01, 0.1)
    assert est.solver.learning_rate == 0.2  # the search worked on clones


def test_html_repr_has_no_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (
            "MLPClassifier"
            in MLPClassifier(layers=[Dense(3), ReLU()], solver=SGD(0.1))._repr_html_()
        )
        assert "MLPRegressor" in MLPRegressor()._repr_html_()


class NoRate(Optimizer):
    def step(self, params, grads):
        for k, p in params.items():
            p -= 0.01 * grads[k]


def test_a_schedule_needs_an_optimizer_with_a_learning_rate(iris):
    X, y = iris
    with pytest.raises(
        ValueError, match=r"learning_rate='invscaling' schedules .* has no learning_rate"
    ):
        MLPClassifier(solver=NoRate(), learning_rate="invscaling").fit(X, y)
    with pytest.raises(AttributeError, match="NoRate has no learning_rate: store the step size"):
        _ = NoRate().current_learning_rate


class LoggedBCE(BinaryCrossEntropy):
    """Wraps value_from_logits (to log, say): the same cost, the same fused δ."""

    def value_from_logits(self, z, y, sample_weight=None):
        return super().value_from_logits(z, y, sample_weight)


class SmoothCEOnlyFromLogits(CategoricalCrossEntropy):
    """Its smoothed cost only in logits form: per_example is still the parent's."""

    def __init__(self, smoothing=0.2):
        self.smoothing = smoothing

    def per_example_from_logits(self, z, y):
        k = y.shape[1]
        return super().per_example_from_logits(z, y * (1 - self.smoothing) + self.smoothing / k)


class ProbabilityOnlyCost(Loss):
    """A link and its output, the cost on the outputs only: no logits form."""

    link = Sigmoid

    def per_example(self, a, y):
        return ((a - y) ** 2).sum(axis=1)

    def per_example_grad(self, a, y):
        return 2 * (a - y)

    def link_output(self, z, out):
        out[...] = 1 / (1 + np.exp(-z))
        return out


class TrialHuber(SquaredError, register=False):
    """Huber written in value and grad."""

    def value(self, a, y, sample_weight=None):
        a, y = self._check(a, y)
        r = np.abs(a - y)
        return float(np.mean(np.where(r < 1, 0.5 * r**2, r - 0.5).sum(axis=1)))

    def grad(self, a, y, sample_weight=None):
        a, y = self._check(a, y)
        return (np.clip(a - y, -1, 1) / len(a)).astype(a.dtype)


class TrialFocal(BinaryCrossEntropy, register=False):
    """A focal loss on the outputs: per_example only; the logits form is the parent's."""

    def per_example(self, a, y):
        p = np.where(y == 1, a, 1 - a)
        return (-((1 - p) ** 2) * np.log(p)).sum(axis=1)

    def per_example_grad(self, a, y):
        p = np.where(y == 1, a, 1 - a)
        return np.where(y == 1, 1.0, -1.0) * (2 * (1 - p) * np.log(p) - (1 - p) ** 2 / p)


def test_which_loss_subclasses_keep_the_fused_path_and_which_are_caught():
    from layerkit import Sequential
    from layerkit.gradcheck import GradientCheckError, check_loss

    assert LoggedBCE().has_fused_form()  # a wrapper: saturated outputs keep their gradient
    net = Sequential([Dense(1), Sigmoid()]).build(1, random_state=0)
    net.layers[0].params["W"][...] = 100.0
    assert net.loss_and_grads(np.array([[1.0]]), np.array([[0.0]]), LoggedBCE()) == 100.0
    assert net.grads["0.W"].ravel().tolist() == [1.0]
    with pytest.raises(GradientCheckError, match="must be the same cost"):
        check_loss(SmoothCEOnlyFromLogits())  # its two forms disagree: training would not
    with pytest.raises(NotImplementedError, match="writes no per_example_from_logits"):
        ProbabilityOnlyCost().delta_from_logits(np.zeros((2, 1)), np.ones(2))  # no pair
    # a cost written in value and grad (Huber) trains as itself, not as its parent
    assert not TrialHuber().has_fused_form()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ [1.0, -2, 0.5]
    y[:10] += 50
    kw = {"hidden_layer_sizes": (8,), "max_iter": 5, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        huber = MLPRegressor(loss=TrialHuber(), **kw).fit(X, y)
        squared = MLPRegressor(loss=SquaredError(), **kw).fit(X, y)
    assert huber.loss_curve_[0] < squared.loss_curve_[0] / 5
    check_loss(TrialHuber(), checks=["gradient"])  # (its inherited logits form: unused)
    # a focal loss written on the outputs passes check_loss (its inherited logits form is
    # never used) and has no fused output error
    check_loss(TrialFocal(), checks=["gradient"])
    with pytest.raises(NotImplementedError, match="cost comes from TrialFocal"):
        TrialFocal().delta_from_logits(np.zeros((2, 1)), np.ones((2, 1)))
