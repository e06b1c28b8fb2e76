"""The checker checks itself: a known gradient passes, deliberately wrong ones are caught."""

import warnings

import numpy as np
import pytest
from helpers import Block, ColumnScale

from layerkit.gradcheck import (
    GradientCheckError,
    check_layer,
    check_loss,
    check_network,
    numeric_gradient,
)
from layerkit.layers import Dense, Layer, Sigmoid
from layerkit.losses import Loss, SquaredError
from layerkit.network import Sequential


def test_central_differences_match_a_known_gradient(rng):
    w = rng.normal(size=(3, 4))

    def f():
        return float(np.sum(np.sin(w) * w**2))

    indices = [(i, j) for i in range(3) for j in range(4)]
    numeric = numeric_gradient(f, w, indices, 1e-6)
    exact = (np.cos(w) * w**2 + 2 * w * np.sin(w)).ravel()
    np.testing.assert_allclose(numeric, exact, rtol=1e-8, atol=1e-10)
    # the array is restored bit for bit
    assert f() == float(np.sum(np.sin(w) * w**2))


class WrongInputDelta(Dense):
    """A Dense layer whose input delta is 1% off."""

    def backward(self, delta):
        return 1.01 * super().backward(delta)


class WrongWeightGradient(Dense):
    """A Dense layer whose weight gradient forgets the transpose of eq. 3-IV."""

    def param_grads(self, delta):
        super().param_grads(delta)
        self.grads["W"][0, 0] += 1e-3


class WrongSigmoid(Sigmoid):
    """σ'(z) taken as σ(z): the classic mistake."""

    def _derivative(self, delta, out):
        np.multiply(delta, self._a, out=out)


def test_losses_are_checked_accurately_near_zero_probabilities():
    from layerkit.gradcheck import check_loss
    from layerkit.losses import BinaryCrossEntropy, CategoricalCrossEntropy, PoissonLoss

    rng = np.random.default_rng(0)
    for _ in range(50):
        a = rng.dirichlet(np.full(3, 0.3), 5)  # many probabilities close to 0
        y = np.eye(3)[rng.integers(0, 3, 5)]
        for loss in (CategoricalCrossEntropy(), BinaryCrossEntropy(), PoissonLoss()):
            check_loss(loss, np.clip(a, 1e-6, 1 - 1e-6), y, checks=["gradient"])


def test_a_wrong_input_delta_is_caught():
    with pytest.raises(GradientCheckError, match=r"WrongInputDelta\(units=3\).*'input'"):
        check_layer(WrongInputDelta(3))


def test_a_wrong_parameter_gradient_is_caught():
    with pytest.raises(GradientCheckError, match=r"gradient of 'W' is wrong at index \(0, 0\)"):
        check_layer(WrongWeightGradient(3))


def test_a_wrong_activation_derivative_is_caught():
    with pytest.raises(GradientCheckError, match="relative error"):
        check_layer(WrongSigmoid())


def test_a_wrong_layer_inside_a_network_is_caught(rng):
    net = Sequential([WrongWeightGradient(4), Sigmoid(), Dense(1)]).build(3, random_state=0)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 1))
    with pytest.raises(GradientCheckError, match=r"'0\.W'"):
        check_network(net, x, y, SquaredError(), max_entries=None)


class NoGradKey(Layer):
    def build(self, n_in, rng, dtype):
        self.params = {"s": np.ones(n_in, dtype)}
        self.grads = {}
        return n_in

    def forward(self, x, training=False):
        return x * self.params["s"]

    def backward(self, delta):
        return delta * self.params["s"]


def test_grads_keys_must_match_params():
    with pytest.raises(GradientCheckError, match="grads keys"):
        check_layer(NoGradKey())


def test_the_error_message_names_both_values():
    with pytest.raises(GradientCheckError) as err:
        check_layer(WrongWeightGradient(2), np.ones((2, 3)))
    msg = str(err.value)
    assert "backward gives" in msg and "finite differences give" in msg


def test_report_lists_worst_error_per_parameter():
    report = check_layer(Dense(2), np.ones((3, 4)))
    assert set(report.errors) == {"input", "W", "b"}
    assert "worst relative error" in str(report)


def test_checker_does_not_touch_the_layer(rng):
    layer = Dense(2)
    layer.build(3, rng, np.float32)
    before = {k: v.copy() for k, v in layer.params.items()}
    check_layer(layer, rng.normal(size=(4, 3)))
    for k, v in layer.params.items():
        assert v.dtype == np.float32
        np.testing.assert_array_equal(v, before[k])


# ---------------------------------------------- the default x of a layer built directly
NO_REGISTRY = ["build", "shapes", "float32", "deterministic", "input_not_mutated"]
NO_REGISTRY += ["gradient", "grads_overwritten", "copies"]  # (config, save_load need one)


def test_a_dense_layer_built_directly_is_checked_at_its_built_width():
    # before: the default x was 5 wide whatever the layer was built for, and 6 of 10
    # checks failed with "expected input of shape (m, 4), got (4, 5)"
    layer = Dense(3)
    layer.build(4, np.random.default_rng(0), np.float64)
    before = {k: v.copy() for k, v in layer.params.items()}
    report = check_layer(layer)
    assert report.failed == {} and report.worst_error < 1e-6
    assert report.entries[0].checked == 4 * 4  # ∂C/∂x of the default (4, 4) batch
    for k, v in layer.params.items():  # (the layer itself is left alone)
        np.testing.assert_array_equal(v, before[k])


class TransposedDense(Layer, register=False):
    """A user's dense layer that keeps W as (units, n_in), the other way round."""

    def __init__(self, units):
        self.units = units

    def build(self, n_in, rng, dtype):
        self.params = {"W": rng.normal(size=(self.units, n_in)).astype(dtype)}
        self.grads = {"W": np.zeros((self.units, n_in), dtype)}
        return self.units

    def forward(self, x, training=False):
        self.x = x
        return x @ self.params["W"].T

    def backward(self, delta):
        self.grads["W"][...] = delta.T @ self.x
        return delta @ self.params["W"]


class FlatDense(TransposedDense, register=False):
    """W kept flat, (units * n_in,): its shape does not show the input width."""

    def build(self, n_in, rng, dtype):
        self.n_in = n_in
        self.params = {"W": rng.normal(size=self.units * n_in).astype(dtype)}
        self.grads = {"W": np.zeros(self.units * n_in, dtype)}
        return self.units

    def forward(self, x, training=False):
        self.x = x
        return x @ self.params["W"].reshape(self.units, self.n_in).T

    def backward(self, delta):
        self.grads["W"][...] = (delta.T @ self.x).ravel()
        return delta @ self.params["W"].reshape(self.units, self.n_in)


@pytest.mark.parametrize("n_in", [1, 2, 4, 7])
def test_a_users_layer_built_directly_is_checked_at_its_built_width(n_in):
    layer = TransposedDense(2)  # W is (2, n_in): the width is not W's first dimension
    layer.build(n_in, np.random.default_rng(0), np.float32)
    report = check_layer(layer, checks=NO_REGISTRY)
    assert report.failed == {} and report.entries[0].checked == 4 * n_in


def test_a_width_its_parameters_do_not_show_is_recorded_by_build():
    layer = FlatDense(2)
    layer.build(4, np.random.default_rng(0), np.float64)
    report = check_layer(layer, checks=NO_REGISTRY)
    assert report.failed == {} and report.entries[0].checked == 4 * 4


def test_the_built_width_a_network_records_is_used():
    net = Sequential([Dense(3), Sigmoid()]).build(6, random_state=0)
    assert check_layer(net.layers[0]).entries[0].checked == 4 * 6


def test_a_build_called_with_keywords_records_the_width_too():
    class Keyworded(TransposedDense, register=False):
        def build(self, n_features, rng, dtype):  # its own name for the width
            return super().build(n_features, rng, dtype)

    layer = Keyworded(2)
    assert layer.build(n_features=3, rng=np.random.default_rng(0), dtype=np.float64) == 2
    report = check_layer(layer, checks=["shapes", "gradient"])  # (a local class: no pickle)
    assert not report.failed and report.entries[0].checked == 4 * 3


def test_an_optimizer_without_a_learning_rate_passes_the_schedule_check():
    from layerkit.gradcheck import check_optimizer
    from layerkit.optim import Optimizer

    class SignOfGradient(Optimizer, register=False):  # a fixed step: no rate to schedule
        def step(self, params, grads):
            for name, w in params.items():
                w -= 0.01 * np.sign(grads[name])

    assert not check_optimizer(SignOfGradient(), checks=["schedule"]).failed


class _Scaled(Layer, register=False):
    """Identity forward whose backward multiplies by ``factor`` (NaN, inf: broken)."""

    def __init__(self, factor=1.0):
        self.factor = factor

    def forward(self, x, training=False):
        return x

    def backward(self, delta):
        return delta * self.factor


@pytest.mark.parametrize("factor", [np.nan, np.inf])
def test_a_non_finite_gradient_fails_the_gradient_check(factor):
    assert not check_layer(_Scaled(), checks=["gradient"]).failed
    with pytest.raises(
        GradientCheckError,
        match=r"backward gives (nan|-?inf), finite differences give .*: not finite",
    ):
        check_layer(_Scaled(factor), checks=["gradient"])


def test_a_cost_that_overflows_near_x_fails_and_says_so():
    from layerkit.losses import SquaredError

    net = Sequential([Dense(4), Dense(1)]).build(3, random_state=0)
    x = np.full((4, 3), 1e200)
    with pytest.raises(
        GradientCheckError, match=r"not finite.*the loss overflows\): check at a smaller x"
    ):
        check_network(net, x, np.ones((4, 1)), SquaredError())


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        (dict(max_entries=0), r"check_layer: max_entries must be None .* got 0"),
        (dict(eps=0.0), r"check_layer: eps must be a finite number > 0, got 0.0"),
        (dict(rtol=-1.0), r"check_layer: rtol must be a finite number >= 0, got -1.0"),
        (dict(atol=np.nan), r"check_layer: atol must be"),
        (dict(x=np.zeros((0, 3))), r"check_layer: x has no rows"),
        (dict(x=np.full((2, 3), np.nan)), r"check_layer: x holds NaN"),
    ],
)
def test_the_checkers_refuse_arguments_that_would_check_nothing(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        check_layer(Dense(2), **kwargs)


def test_one_check_may_be_named_by_a_string():
    assert list(check_layer(Dense(2), checks="gradient").checks) == ["gradient"]


def test_check_network_names_what_it_was_given_instead(rng):
    from layerkit import MLPClassifier
    from layerkit.losses import CategoricalCrossEntropy

    x, y = rng.normal(size=(4, 3)), np.eye(2)[[0, 1, 0, 1]]
    net = Sequential([Dense(2), Sigmoid()]).build(3, random_state=0)
    with pytest.raises(TypeError, match=r"got the class CategoricalCrossEntropy; did you mean"):
        check_network(net, x, y, CategoricalCrossEntropy)
    with pytest.raises(ValueError, match=r"sample_weight of shape \(4,\).*got shape \(3,\)"):
        check_network(net, x, y, SquaredError(), np.ones(3))
    with pytest.raises(TypeError, match=r"estimator MLPClassifier: pass its fitted network"):
        check_network(MLPClassifier(), x, y, SquaredError())
    with pytest.raises(ValueError, match=r"needs a built network"):
        check_network(Sequential([Dense(2)]), x, y, SquaredError())
    # (a user's trial: labels given as y were reported as "got (4, 1)")
    with pytest.raises(ValueError, match=r"got an array of shape \(4,\); for class labels give "):
        check_network(net, x, np.array([0, 1, 0, 1]), CategoricalCrossEntropy())
    with pytest.raises(ValueError, match=r"y of shape \(4, 2\) .*got an array of shape \(3, 2\)$"):
        check_network(net, x, y[:3], SquaredError())


class _ZeroesItsInputInBackward(ColumnScale, register=False):
    def backward(self, delta):
        dx = super().backward(delta)
        self.x *= 0  # the caller's array: the layer before reads it in its backward
        return dx


class _BuildsWithNumpysGlobalGenerator(ColumnScale, register=False):
    def build(self, n_in, rng, dtype=np.float64):
        super().build(n_in, rng, dtype)
        self.params["w"][...] = np.random.uniform(0.5, 1.5, n_in)  # noqa: NPY002
        return n_in


def test_a_backward_that_changes_the_input_forward_kept_is_caught():
    check_layer(ColumnScale(), checks=["input_not_mutated"])
    with pytest.raises(GradientCheckError, match="backward modified the input x that forward"):
        check_layer(_ZeroesItsInputInBackward(), checks=["input_not_mutated"])


def test_initial_values_drawn_from_numpys_global_generator_are_caught():
    check_layer(ColumnScale(), checks=["deterministic"])
    with pytest.raises(GradientCheckError, match="two builds with generators of the same seed"):
        check_layer(_BuildsWithNumpysGlobalGenerator(), checks=["deterministic"])


def _large_x():
    return np.random.default_rng(1).normal(size=(4, 5)) * 100


@pytest.mark.parametrize("name", ["SiLU", "GELU", "Softplus", "Sigmoid", "Dense"])
def test_right_gradients_pass_at_a_large_x_where_the_cost_rounds_coarsely(name):
    """x ~ 100: a cost of size ~300 rounds to ~1e-13, and its central differences to
    ~1e-7, beyond atol=1e-8 (SiLU, GELU and Softplus failed); differenced term by term,
    the terms a perturbed entry does not reach cancel exactly."""
    import layerkit.layers as built_in

    layer = built_in.Dense(3) if name == "Dense" else getattr(built_in, name)()
    check_layer(layer, _large_x(), checks=["gradient"], max_entries=None)


class _SoftplusWrongFarLeft(Layer, register=False):
    """softplus, whose backward is wrong far left of 0: the derivative's sign (below
    -15) or zero (below -12), where the true derivative is below 1e-5."""

    def __init__(self, below=-15.0, wrong="sign"):
        self.below, self.wrong = below, wrong

    def forward(self, x, training=False):
        self.x = x
        return np.logaddexp(0, x)

    def backward(self, delta):
        s = 1 / (1 + np.exp(-self.x))
        far = self.x < self.below
        s = np.where(far, -s if self.wrong == "sign" else 0.0, s)
        return delta * s


@pytest.mark.parametrize("wrong, below", [("sign", -15.0), ("zero", -12.0)])
def test_a_wrong_tiny_derivative_is_caught_at_a_large_x(wrong, below):
    """A raised atol let the wrong sign pass, and smaller steps' differences of 0 let the
    zero pass; differenced term by term, both are caught."""
    x = _large_x() / 2.5
    x[0, 0], x[1, 1] = below - 0.5, below - 1.0
    with pytest.raises(GradientCheckError, match="gradient of 'input' is wrong"):
        check_layer(_SoftplusWrongFarLeft(below, wrong), x, checks=["gradient"], max_entries=None)


def test_a_wrong_gradient_is_still_caught_at_a_large_x():
    with pytest.raises(GradientCheckError, match="gradient of 'input' is wrong"):
        check_layer(WrongInputDelta(3), _large_x(), checks=["gradient"])


def test_one_row_is_checked_with_a_note_of_what_it_cannot_see():
    numeric = ["gradient", "rows_independent"]
    report = check_layer(ColumnScale(), np.ones((1, 3)), checks=numeric)
    assert "note: x has one row: a parameter gradient averaged over the batch" in str(report)
    assert not check_layer(ColumnScale(), checks=numeric).notes


def test_a_block_built_in_float32_is_checked_in_float64_inside_too():
    """The inner network kept casting its input to float32: every input entry was
    ~10% off."""
    block = Block([Dense(16), Sigmoid(), Dense(8)], residual=True)
    block.build(8, np.random.default_rng(0), np.float32)
    x = np.random.default_rng(1).normal(size=(4, 8))
    report = check_layer(block, x, checks=["gradient", "shapes", "float32", "deterministic"])
    assert report.worst_error < 1e-6
    assert block.net.dtype == np.float32  # (the layer checked is a copy)


@pytest.mark.parametrize("seed", range(3))
def test_large_costs_pass_the_network_and_loss_checks_and_a_dense_layer(seed):
    """Costs of size ~1e4 round to ~1e-12; their central differences to ~1e-6: correct
    gradients failed (check_network at x, y ~ 100 in every seed)."""
    from layerkit.gradcheck import check_loss
    from layerkit.layers import Identity, Tanh

    rng = np.random.default_rng(seed)
    x, y = 100 * rng.normal(size=(20, 5)), 100 * rng.normal(size=(20, 2))
    net = Sequential([Dense(8), Tanh(), Dense(2), Identity()]).build(5, random_state=0)
    check_network(net, x, y, SquaredError())
    check_loss(SquaredError(), 100 * rng.normal(size=(20, 3)), 100 * rng.normal(size=(20, 3)))
    check_layer(Dense(8), 3000 * rng.normal(size=(10, 6)), random_state=seed, checks="gradient")


def test_a_zero_gradient_where_the_small_steps_round_to_nothing_still_fails():
    """At a cost of ~1e6 the refining steps (down to 1e-11) difference to exactly 0,
    which 'agreed' with a backward that returns 0."""
    from layerkit.gradcheck import check_loss

    class ZeroNearTarget(SquaredError, register=False):
        def per_example_grad(self, a, y):
            g = super().per_example_grad(a, y)
            return np.where(np.abs(a - y) < 1, 0.0, g)

    a = np.array([[1000.0], [0.01], [-0.02], [0.015]])
    with pytest.raises(GradientCheckError, match="gradient of 'a' is wrong"):
        check_loss(ZeroNearTarget(), a, np.zeros((4, 1)), checks=["gradient"])


class _Offset(Layer, register=False):
    """x + 1e6: outputs of size 1e6, whose rounding the allowance must cover."""

    def __init__(self, error=0.0):
        self.error = error

    def forward(self, x, training=False):
        return x * 2.0 + 1e6

    def backward(self, delta):
        return delta * 2.0 * (1 + self.error)


def test_a_one_percent_error_still_fails_among_large_outputs():
    x = np.random.default_rng(0).normal(size=(4, 5))
    check_layer(_Offset(), x, checks=["gradient"])
    with pytest.raises(GradientCheckError, match="gradient of 'input' is wrong"):
        check_layer(_Offset(0.01), x, checks=["gradient"])


@pytest.mark.parametrize("scale", [1, 1000])
@pytest.mark.parametrize("below", [-1e-8, -1e-7, -5e-7, -9.999e-7])
def test_a_relu_input_just_below_its_kink_passes(below, scale):
    """Its derivative there is exactly 0: smaller steps move nothing, which confirms it
    (a refinement that took every zero difference for rounding failed it)."""
    from layerkit.layers import ReLU

    for seed in range(3):
        x = np.random.default_rng(seed).normal(size=(4, 5)) * scale
        x[1, 2] = below
        check_layer(ReLU(), x, checks="gradient", random_state=seed)


class TrialRandomFeatures(Layer):
    """Fixed random Fourier features, drawn in build and not parameters."""

    _transient = ("_x",)

    def __init__(self, units: int = 8):
        self.units = units

    def build(self, n_in, rng, dtype):
        self.omega = rng.normal(size=(n_in, self.units)).astype(dtype)
        self.phase = rng.uniform(0, 2 * np.pi, self.units).astype(dtype)
        return self.units

    def forward(self, x, training=False):
        self._x = x
        return np.cos(x @ self.omega + self.phase)

    def backward(self, delta):
        return (-np.sin(self._x @ self.omega + self.phase) * delta) @ self.omega.T


class TrialSavedRandomFeatures(TrialRandomFeatures):
    state_attributes = ("omega", "phase")


def test_an_unsaved_array_drawn_in_build_fails_save_load_at_any_seed():
    """load builds with seed 0, and the check built with the same seed by default, so
    unsaved random features came back equal by chance (a user's trial: predictions off
    by 3.08 after a reload)."""
    for seed in (0, 1):
        with pytest.raises(GradientCheckError, match="a fixed random projection"):
            check_layer(TrialRandomFeatures(), random_state=seed, checks=["save_load"])
        check_layer(TrialSavedRandomFeatures(), random_state=seed, checks=["save_load"])


class TrialPenalty(Loss):
    """C_x = Σ a², its gradient written as a: wrong by a factor of 2."""

    def per_example(self, a, y):
        return (a**2).sum(axis=1)

    def per_example_grad(self, a, y):
        return a


class TrialHalfSquare(TrialPenalty):
    """C_x = ½ Σ a², its gradient a: right."""

    def per_example(self, a, y):
        return 0.5 * (a**2).sum(axis=1)


def test_a_gradient_returned_as_the_output_itself_is_not_scaled_in_place(rng):
    """grad scaled what per_example_grad returned in place: when that was a itself, the
    caller's a was divided by m (and the checks then ran at a = 0, passing the wrong
    factor of 2; a right loss failed check_network after a Sigmoid)."""
    a, y = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    kept = a.copy()
    TrialHalfSquare().grad(a, y)
    np.testing.assert_array_equal(a, kept)
    with pytest.raises(GradientCheckError, match="gradient of 'a' is wrong"):
        check_loss(TrialPenalty(), a, y)
    check_loss(TrialHalfSquare(), a, y)
    net = Sequential([Dense(2), Sigmoid()]).build(3, random_state=0)
    check_network(net, rng.normal(size=(4, 3)), y, TrialHalfSquare())


def test_a_right_gradient_at_a_kink_passes_with_a_note():
    """The XOR lab: biases start at 0, so the (0, 0) row puts every ReLU at its kink,
    where central differences average the two sides (4 of 4 bias entries failed)."""
    from layerkit.layers import ReLU
    from layerkit.losses import BinaryCrossEntropy

    X = np.array([[0.0, 0], [0, 1], [1, 0], [1, 1]])
    y = np.array([[0.0], [1], [1], [0]])
    net = Sequential([Dense(4), ReLU(), Dense(1), Sigmoid()]).build(2, random_state=0)
    report = check_network(net, X, y, BinaryCrossEntropy())
    assert any("'0.b' sit at a kink" in note for note in report.notes), report.notes
    x = np.random.default_rng(0).normal(size=(4, 6))
    x[:, ::2] = 0.0  # exactly at the kink
    assert any("at a kink" in note for note in check_layer(ReLU(), x).notes)


class TrialKinkWrong(Layer):
    """max(x, 0.5 x) + x², its derivative off by 1% in the quadratic term, or at the
    kink outside the subgradients [0.5, 1] (0.4)."""

    _transient = ("_x",)

    def __init__(self, at_kink: bool = False):
        self.at_kink = at_kink

    def forward(self, x, training=False):
        self._x = x
        return np.maximum(x, 0.5 * x) + x**2

    def backward(self, delta):
        x = self._x
        slope = np.where(x > 0, 1.0, np.where(x < 0, 0.5, 0.4 if self.at_kink else 1.0))
        return delta * (slope + 2 * x * (1.0 if self.at_kink else 1.01))


@pytest.mark.parametrize("at_kink", [False, True])
def test_a_wrong_gradient_at_or_off_a_kink_still_fails(at_kink):
    x = np.random.default_rng(1).normal(size=(4, 6))
    x[:, ::3] = 0.0
    with pytest.raises(GradientCheckError, match="gradient of 'input' is wrong"):
        check_layer(TrialKinkWrong(at_kink), x, checks=["gradient"])


def test_what_the_checkers_could_not_compare_is_noted_or_hinted():
    """Gradients within atol of 0 pass uncompared (a sign-flipped W passed as "error 0"):
    a note says so. A step larger than the value (CCE at a = 1e-9) gets a hint, and a
    one-row check_network a note, as check_layer has."""
    from layerkit.layers import Identity
    from layerkit.losses import CategoricalCrossEntropy

    rng = np.random.default_rng(0)
    X, w = rng.normal(size=(20, 3)), rng.normal(size=(3, 1))
    net = Sequential([Dense(1), Identity()]).build(3, random_state=0)
    net.layers[0].params["W"][...] = w + 1e-9
    net.layers[0].params["b"][...] = 0.0
    notes = check_network(net, X, X @ w, SquaredError()).notes
    assert any("all 3 checked entries of '0.W' are within atol=1e-08" in n for n in notes)
    a = np.array([[1e-9, 1 - 2e-9, 1e-9], [0.2, 0.5, 0.3]])
    y = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    with pytest.raises(GradientCheckError, match=r"a\[0, 0\] = 1e-09 is smaller than the step"):
        check_loss(CategoricalCrossEntropy(), a, y)
    notes = check_network(net, X[:1], X[:1] @ w + 1.0, SquaredError()).notes
    assert any(n.startswith("x has one row") for n in notes)


class TrialWrongTranspose(Layer):
    """A student's Dense whose backward multiplies by W instead of Wᵀ: it crashes."""

    _transient = ("_x",)

    def build(self, n_in, rng, dtype):
        self.params = {"W": rng.normal(size=(n_in, 3)).astype(dtype)}
        self.grads = {"W": np.zeros((n_in, 3), dtype)}
        return 3

    def forward(self, x, training=False):
        self._x = x
        return x @ self.params["W"]

    def backward(self, delta):
        self.grads["W"][...] = self._x.T @ delta
        return delta @ self.params["W"]  # the bug


def test_a_crash_in_the_layer_names_where_it_was_raised_and_is_chained():
    with pytest.raises(GradientCheckError) as err:
        check_layer(TrialWrongTranspose(), np.ones((4, 5)))
    assert "raised ValueError in backward (test_gradcheck_self.py, line " in str(err.value)
    assert isinstance(err.value.__cause__, ValueError)  # its traceback travels with it


class TrialTanh32(Layer):
    """tanh computed in float32: its derivative is right, its dtype is not."""

    _transient = ("_a",)

    def forward(self, x, training=False):
        self._a = np.tanh(x.astype(np.float32))
        return self._a

    def backward(self, delta):
        return delta * (1 - self._a.astype(np.float64) ** 2)


def test_a_layer_computing_in_float32_is_named_for_its_dtype():
    """It was reported as a wrong gradient (relative error 0.2)."""
    with pytest.raises(GradientCheckError, match="forward turns float64 input into float32"):
        check_layer(TrialTanh32(), checks=["shapes"])


class TrialWeightsOverM(SquaredError, register=False):
    """Weights rows by s/m instead of s/Σs: right without weights, wrong with them."""

    def grad(self, a, y, sample_weight=None):
        a, y = self._check(a, y)
        s = np.ones(len(a)) if sample_weight is None else np.asarray(sample_weight)
        return (a - y) * s[:, None] / len(a)


def test_check_loss_compares_weighted_gradients_with_repeated_rows():
    with pytest.raises(GradientCheckError, match="integer weights give grad"):
        check_loss(TrialWeightsOverM(), checks=["weights"])
    check_loss(SquaredError(), checks=["weights"])


class TrialMaxPair(Layer):
    """max of column pairs; ``ties`` says where δ goes at a tie: to the first input
    (right), to both or to neither (wrong: each still one side's derivative)."""

    _transient = ("_x",)

    def __init__(self, ties: str = "first"):
        self.ties = ties

    def build(self, n_in, rng, dtype):
        return n_in // 2

    def forward(self, x, training=False):
        self._x = x
        return np.maximum(x[:, 0::2], x[:, 1::2])

    def backward(self, delta):
        a, b = self._x[:, 0::2], self._x[:, 1::2]
        masks = {"first": (a >= b, a < b), "both": (a >= b, b >= a), "neither": (a > b, b > a)}
        to_a, to_b = masks[self.ties]
        dx = np.zeros_like(self._x)
        dx[:, 0::2], dx[:, 1::2] = delta * to_a, delta * to_b
        return dx


@pytest.mark.parametrize("ties", ["first", "both", "neither"])
def test_ties_in_a_max_pass_only_when_delta_goes_to_one_input(ties):
    """Each input of a tie matches a one-sided derivative on its own whatever the
    backward does; moved together, only δ to one of them holds (a reviewer's case)."""
    x = np.random.default_rng(0).normal(size=(4, 6))
    x[:, 1] = x[:, 0]
    if ties == "first":
        check_layer(TrialMaxPair(ties), x, checks=["gradient"])
        return
    with pytest.raises(GradientCheckError, match=r"wrong at a kink: .* not together"):
        check_layer(TrialMaxPair(ties), x, checks=["gradient"])


class TrialPooledTanh(Layer):
    """tanh(8 Σ max of column pairs), ties to the first input: right, with many kinks
    feeding a curved cost (the joint step's curvature error grows with their number)."""

    _transient = ("_x", "_t")

    def build(self, n_in, rng, dtype):
        return 1

    def forward(self, x, training=False):
        self._x = x
        self._t = np.tanh(8 * np.maximum(x[:, 0::2], x[:, 1::2]).sum(axis=1, keepdims=True))
        return self._t

    def backward(self, delta):
        a, b = self._x[:, 0::2], self._x[:, 1::2]
        d = delta * 8 * (1 - self._t**2)
        dx = np.zeros_like(self._x)
        dx[:, 0::2], dx[:, 1::2] = d * (a >= b), d * (a < b)
        return dx


class TrialTwoPools(Layer):
    """max(x0, x1) - max(x2, x3), δ sent to both inputs of each tie: the two errors
    cancel in the sum over all kinks, not in a pair."""

    _transient = ("_x",)

    def build(self, n_in, rng, dtype):
        return 1

    def forward(self, x, training=False):
        self._x = x
        return np.maximum(x[:, 0:1], x[:, 1:2]) - np.maximum(x[:, 2:3], x[:, 3:4])

    def backward(self, delta):
        x, dx = self._x, np.zeros_like(self._x)
        dx[:, 0:1], dx[:, 1:2] = delta * (x[:, 0:1] >= x[:, 1:2]), delta * (x[:, 1:2] >= x[:, 0:1])
        dx[:, 2:3] = -delta * (x[:, 2:3] >= x[:, 3:4])
        dx[:, 3:4] = -delta * (x[:, 3:4] >= x[:, 2:3])
        return dx


def test_kinks_holding_together_allow_curvature_and_catch_cancelling_errors():
    x = 0.66 / 8 / 32 + np.random.default_rng(0).normal(size=(1, 64)) * 1e-3
    x[:, 1::2] = x[:, 0::2]
    check_layer(TrialPooledTanh(), x, checks=["gradient"])
    x = np.random.default_rng(1).normal(size=(3, 4))
    x[:, 1], x[:, 3] = x[:, 0], x[:, 2]
    with pytest.raises(GradientCheckError, match="not together"):
        check_layer(TrialTwoPools(), x, checks=["gradient"])


class _OneUnitWithoutGradient(Dense, register=False):
    """A Dense layer whose last output unit gets no weight gradient: one column of W
    wrong in 256, which 64 sampled entries of W miss more often than not."""

    def backward(self, delta):
        dx = super().backward(delta)
        self.grads["W"][:, -1] = 0.0
        return dx


def test_a_wrong_output_unit_is_found_whatever_entries_are_sampled():
    """(a trial: 23 of 40 seeds passed this layer; the direction through every entry is
    traced back to the wrong ones, which are then checked one by one)"""
    for seed in range(8):
        with pytest.raises(
            GradientCheckError, match=r"gradient of 'W' is wrong at index \(\d+, 255\)"
        ):
            check_layer(_OneUnitWithoutGradient(256), checks=["gradient"], random_state=seed)


def test_the_report_says_how_many_entries_were_checked_one_by_one():
    report = check_layer(Dense(100), x=np.random.default_rng(0).normal(size=(4, 20)))
    text = str(report)
    assert "'W': 64 of 2,000 entries one by one, all 2,000 along a random direction" in text
    assert "'b': 64 of 100 entries one by one" in text


def test_kinks_too_many_to_trace_leave_a_note_not_a_failure():
    """A ReLU at many inputs of exactly 0: the direction through every entry crosses
    them all; each traced one is a kink, rightly passed, and the rest are not claimed."""
    from layerkit.layers import ReLU

    x = np.random.default_rng(0).normal(size=(8, 100))
    x[:, ::3] = 0.0
    report = check_layer(ReLU(), x=x, checks=["gradient"])
    assert "(the rest: not settled along a random direction, see the notes)" in str(report)
    assert any("they are not proven; pass max_entries=None" in n for n in report.notes)


class _HalfGradientInFloat32(Layer, register=False):
    _transient = ("x",)

    def forward(self, x, training=False):
        self.x = x
        return x * x

    def backward(self, delta):  # wrong in float32 only
        return delta * self.x if delta.dtype == np.float32 else 2 * delta * self.x


def test_a_backward_wrong_in_float32_only_is_caught():
    """(a trial: the float32 check looked at dtypes only; float32 data trains there)"""
    with pytest.raises(GradientCheckError, match=r"in float32, backward's ∂C/∂x differs"):
        check_layer(_HalfGradientInFloat32(), checks=["float32"])


class _GainScalingDeltaInPlace(ColumnScale, register=False):
    """A gain built as ones, whose backward scales the caller's delta in place."""

    def build(self, n_in, rng, dtype):
        n_out = super().build(n_in, rng, dtype)
        self.params["w"][...] = 1.0
        return n_out

    def backward(self, delta):
        self.grads["w"][...] = (delta * self.x).sum(axis=0)
        delta *= self.params["w"]  # the caller's delta, changed: unseen at a gain of ones
        return delta


def test_a_delta_changed_in_place_is_caught_at_a_gain_built_as_ones():
    with pytest.raises(GradientCheckError, match="backward modified the delta it was given"):
        check_layer(_GainScalingDeltaInPlace(), checks=["input_not_mutated"])


class _DoubledSigmoid(Sigmoid, register=False):
    def backward(self, delta):
        return 2 * super().backward(delta)


def test_check_network_lists_every_wrong_array_and_where_to_look():
    """(a trial: it stopped at the first wrong array from the input, a right Dense, and
    its error carried no report)"""
    net = Sequential([Dense(4), Sigmoid(), Dense(4), _DoubledSigmoid(), Dense(2)])
    net.build(3, random_state=0)
    rng = np.random.default_rng(0)
    with pytest.raises(GradientCheckError) as err:
        check_network(net, rng.normal(size=(5, 3)), rng.normal(size=(5, 2)), SquaredError())
    message = str(err.value)
    assert "4 of 6 gradient arrays are wrong" in message
    assert "look first at the layer of '2.b', the wrong array nearest the output" in message
    for name in ("0.W", "0.b", "2.W", "2.b"):
        assert f"- gradient of {name!r} is wrong at index" in message
    assert err.value.report is not None
    assert set(err.value.report.errors) == {"4.W", "4.b"}  # (the arrays found right)
    assert err.value.report.failed["gradient"].startswith("4 of 6 arrays wrong")


class _WrongInputAndBias(Dense, register=False):
    def backward(self, delta):
        dx = super().backward(delta)
        self.grads["b"][...] *= 2
        return 2 * dx


def test_a_wrong_input_gradient_does_not_hide_a_wrong_parameter_gradient():
    """(a trial: the check stopped at the first wrong array)"""
    with pytest.raises(GradientCheckError) as err:
        check_layer(_WrongInputAndBias(3), checks=["gradient"], training=False)
    message = str(err.value)
    assert "2 gradient arrays are wrong" in message
    assert "gradient of 'input' is wrong" in message and "gradient of 'b' is wrong" in message


class _IndexLookup(Layer, register=False):
    """Rows of a table picked by column 0 of x, which must hold indices 0 to 9."""

    def build(self, n_in, rng, dtype):
        self.params = {"E": rng.normal(size=(10, 3)).astype(dtype)}
        self.grads = {"E": np.zeros((10, 3), dtype)}
        return 3

    def forward(self, x, training=False):
        index = x[:, 0]
        if not np.all(index == np.rint(index)) or index.min() < 0 or index.max() > 9:
            raise ValueError("column 0 must hold indices 0 to 9")
        self.index = index.astype(int)
        return self.params["E"][self.index]

    def backward(self, delta):
        self.grads["E"][...] = 0.0
        np.add.at(self.grads["E"], self.index, delta)
        return np.zeros((len(delta), 1), delta.dtype)


def test_checks_crashing_on_the_random_x_say_to_pass_one():
    """(a trial: the same ValueError nine times, and no word of x=)"""
    with pytest.raises(GradientCheckError, match=r"raised on x drawn at random, 4 rows .*pass x="):
        check_layer(_IndexLookup(), checks=["shapes", "gradient"])
    x = np.array([[0.0], [3.0], [3.0], [9.0]])
    with pytest.raises(GradientCheckError) as err:  # (a given x: no such note)
        check_layer(_IndexLookup(), x=x, checks=["gradient"])
    assert "drawn at random" not in str(err.value)


@pytest.mark.parametrize(
    ("name", "x"),
    [
        ("BatchNorm", [[0.3, -1.2, 2.0], [1.1, 0.4, -0.5]]),  # two rows: ∂C/∂x cancels to 0
        (
            "Softmax",
            [[2.0, -3, 15, 1, 0], [4, 18, -2, 0, 1], [-5, 3, 2, 21, 0], [1, 0, 2, -1, 19]],
        ),
        ("Sigmoid", np.random.default_rng(1).uniform(15, 25, (4, 3))),  # saturated
        ("Tanh", np.random.default_rng(1).uniform(15, 25, (4, 3))),
    ],
)
def test_the_float32_check_passes_right_layers_where_float32_rounds_badly(name, x):
    """(a review: the value comparison failed these built-ins at such points, where
    float32's rounding is large against the result; a disagreement must now show at
    a second batch of the checker's own too)"""
    import layerkit.layers

    layer = getattr(layerkit.layers, name)()
    assert not check_layer(layer, np.array(x, dtype=float), checks=["float32"]).failed


class _RandomGainHalvedInFloat32(ColumnScale, register=False):
    def backward(self, delta):
        dx = super().backward(delta)
        if delta.dtype == np.float32:  # wrong in float32 only
            self.grads["w"] *= 0.5
        return dx


def test_the_float32_check_runs_in_training_mode_for_layers_that_draw_no_noise():
    """(a review: an unbuilt layer with random initial parameters looked as if it drew
    random numbers in training, and skipped the comparison)"""
    with pytest.raises(GradientCheckError, match=r"grads\['w'\] differs from float64's"):
        check_layer(_RandomGainHalvedInFloat32(), checks=["float32"], training=True)


class _Log(Layer, register=False):
    def forward(self, x, training=False):
        self.x = x
        return np.log(x)

    def backward(self, delta):
        return delta / self.x


@pytest.mark.parametrize("near_zero", [1e-8, 1e-10])
def test_an_entry_within_the_step_of_a_singularity_found_by_the_direction_is_no_failure(
    near_zero,
):
    """(a review: the direction singled out x = 1e-8 under a log, whose differences at
    eps = 1e-6 are NaN, and a right gradient failed; a drawn entry there fails with the
    advice on eps, as before, an entry the direction found is noted, not checked)"""
    x = np.random.default_rng(0).uniform(0.5, 2.0, (4, 1000))
    x[2, 517] = near_zero
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        report = check_layer(_Log(), x, checks=["gradient"], training=False)
    assert not report.failed
    unchecked = [n for n in report.notes if "were not checked; pass a smaller eps" in n]
    assert len(unchecked) == (0 if near_zero == 1e-8 else 1)


class _ScaleDroppingTinyWeights(ColumnScale, register=False):
    """Its backward wrongly drops the gradient of weights below 1e-6 (w[17] is 3e-7)."""

    def build(self, n_in, rng, dtype):
        n_out = super().build(n_in, rng, dtype)
        self.params["w"][17] = 3e-7
        return n_out

    def backward(self, delta):
        dx = super().backward(delta)
        self.grads["w"][np.abs(self.params["w"]) < 1e-6] = 0.0
        return dx


@pytest.mark.parametrize("seed", range(4))
def test_a_wrong_gradient_at_a_value_smaller_than_the_step_still_fails(seed):
    """(a review: an entry the direction found, smaller than eps, was left unchecked
    though the cost is linear there and every smaller step agreed)"""
    x = np.random.default_rng(seed).normal(size=(4, 100))
    with pytest.raises(GradientCheckError, match=r"gradient of 'w' is wrong at index \(17,\)"):
        check_layer(
            _ScaleDroppingTinyWeights(), x, checks=["gradient"], training=False,
            random_state=seed, move_ones_and_zeros=False,
        )  # fmt: skip


class _LogHalvedInFloat32(Layer, register=False):
    def forward(self, x, training=False):
        self.x = x
        return np.log(x)

    def backward(self, delta):
        g = delta / self.x
        return g * 0.5 if g.dtype == np.float32 else g  # wrong in float32 only


class _DenseHalvedDxInFloat32(Dense, register=False):
    def backward(self, delta):
        dx = super().backward(delta)
        return dx * 0.5 if dx.dtype == np.float32 else dx


@pytest.mark.parametrize("seed", range(3))
def test_float32_only_bugs_are_caught_on_a_domain_and_beside_large_gradients(seed):
    """(a review: a second batch of normal values, NaN under a log, passed the first;
    a floor from the pass's largest array, a weight gradient summing 1,000 rows of
    large x, hid a halved ∂C/∂x)"""
    rng = np.random.default_rng(seed)
    with pytest.raises(GradientCheckError, match=r"backward's ∂C/∂x differs from float64's"):
        check_layer(_LogHalvedInFloat32(), rng.uniform(0.5, 2, (4, 5)), checks=["float32"])
    big = rng.uniform(0, 1000, (1000, 20))
    with pytest.raises(GradientCheckError, match=r"backward's ∂C/∂x differs from float64's"):
        check_layer(_DenseHalvedDxInFloat32(3), big, checks=["float32"], random_state=seed)


def test_a_drawn_entry_within_the_step_of_a_log_s_singularity_is_told_to_shrink_eps():
    """(a review: "check at a smaller x" was the advice, where a smaller eps is)"""
    x = np.random.default_rng(0).uniform(0.5, 2.0, (4, 5))
    x[1, 2] = 1e-12  # (smaller than every step the check tries: eps down to eps/1e5)
    with pytest.raises(GradientCheckError) as err:
        check_layer(_Log(), x, checks=["gradient"], training=False)
    message = str(err.value)
    assert "input[1, 2] = 1e-12 is smaller than the step eps=1e-06" in message
    assert "check at a smaller x" not in message
    assert not check_layer(_Log(), x, checks=["gradient"], training=False, eps=1e-15).failed


@pytest.mark.parametrize(
    ("arr", "got"),
    [
        (np.array([1, 2, 3]), "an array of dtype int64"),
        (np.array([1.0, 2.0, 3.0], dtype=np.float32), "an array of dtype float32"),
        ([1.0, 2.0, 3.0], "list"),
    ],
)
def test_numeric_gradient_refuses_an_array_it_cannot_move_by_eps(arr, got):
    """(an audit: it gave [500000, 1500000] for the gradient [2, 4] of an integer
    array, and [1.97, 3.82] for a float32 one)"""
    from layerkit.gradcheck import numeric_gradient

    with pytest.raises(TypeError, match=f"writable float64 numpy array .* got {got}"):
        numeric_gradient(lambda: float(np.sum(np.asarray(arr) ** 2)), arr, [(0,), (1,)], 1e-6)


def test_numeric_gradient_restores_the_entry_when_f_raises():
    from layerkit.gradcheck import numeric_gradient

    w = np.array([1.0, 2.0, 3.0])

    def f():
        if w[0] != 1.0:
            raise RuntimeError("f failed")
        return 0.0

    with pytest.raises(RuntimeError, match="f failed"):
        numeric_gradient(f, w, [(0,)], 1e-6)
    assert w.tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"random_state": -1},
            ValueError,
            r"check_layer: random_state must be an int >= 0, got -1",
        ),
        ({"random_state": 1.5}, ValueError, r"random_state must be an int >= 0, got 1.5"),
        ({"training": "yes"}, TypeError, r"training must be None \(both modes\), True or False"),
        ({"checks": []}, ValueError, r"checks is empty, so nothing would be checked; name some"),
        ({"x": [["a", "b"]]}, TypeError, r"check_layer: x must hold numbers, got <U1"),
    ],
)
def test_check_layer_refuses_arguments_it_cannot_use(kwargs, error, match):
    """(an audit: numpy's 'expected non-negative integer' without the checker's name; a
    string for training taken as True; checks=[] reported 'passed' having run none)"""
    from layerkit.layers import Dense

    with pytest.raises(error, match=match):
        check_layer(Dense(3), **kwargs)


def test_the_other_checkers_refuse_a_seed_they_cannot_use():
    from layerkit import Sequential
    from layerkit.gradcheck import check_loss, check_network, check_optimizer
    from layerkit.layers import Dense
    from layerkit.losses import SquaredError
    from layerkit.optim import SGD

    net = Sequential([Dense(2)]).build(2)
    x, y = np.ones((3, 2)), np.ones((3, 2))
    calls = {
        "check_optimizer": lambda: check_optimizer(SGD(), random_state=-2),
        "check_loss": lambda: check_loss(SquaredError(), random_state=-2),
        "check_network": lambda: check_network(net, x, y, SquaredError(), random_state=-2),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match=f"{name}: random_state must be an int >= 0"):
            call()
    with pytest.raises(TypeError, match=r"check_network: training must be True or False"):
        check_network(net, x, y, SquaredError(), training=None)


@pytest.mark.parametrize(
    ("loss", "a", "match"),
    [
        (
            "BinaryCrossEntropy",
            [[1.1, 1.9], [1.5, 1.2]],
            r"probabilities, in \(0, 1\).*from 1.1 to",
        ),
        ("CategoricalCrossEntropy", [[-0.5, 1.5], [0.5, 0.5]], r"probabilities, in \(0, 1\)"),
        ("PoissonLoss", [[-0.5, 1.0], [2.0, 3.0]], "positive rates"),
    ],
)
def test_check_loss_names_an_a_outside_the_losss_domain(loss, a, match):
    """(an audit: a built-in loss at a beyond (0, 1), where it is clipped flat, was
    reported with a wrong gradient)"""
    import layerkit.losses

    with pytest.raises(ValueError, match=f"check_loss: .*{match}.*give a inside"):
        check_loss(getattr(layerkit.losses, loss)(), np.array(a), np.array([[0.0, 1.0]] * 2))


class _DoublesItsInputInPlace(Layer, register=False):
    def forward(self, x, training=False):
        x *= 2
        return x

    def backward(self, delta):
        return 2 * delta


class _ReturnsNoDelta(Layer, register=False):
    def forward(self, x, training=False):
        return 2 * x

    def backward(self, delta):
        return None


def test_a_forward_modifying_its_input_fails_that_check_alone():
    """(a trial: it failed float32 too, as 'a branch on the dtype?': the float32 check's
    float64 reference read the doubled input)"""
    with pytest.raises(GradientCheckError) as err:
        check_layer(_DoublesItsInputInPlace(), checks=[*NO_REGISTRY, "gradient"])
    assert set(err.value.report.failed) == {"input_not_mutated"}
    assert "note:" not in str(err.value)


def test_a_backward_returning_none_is_named_so_in_every_check_it_fails():
    """(a trial: "backward turns a float32 delta into object" and "gradient of 'input'
    has shape ()"; an unregistered class's raise also added advice about x)"""
    with pytest.raises(GradientCheckError) as err:
        check_layer(_ReturnsNoDelta())
    failed = err.value.report.failed
    assert set(failed) == {"shapes", "float32", "gradient", "config", "save_load"}
    assert "got None" in failed["shapes"]
    assert "backward returned None for a float32 delta" in failed["float32"]
    assert "gradient of 'input' is None" in failed["gradient"]
    assert "note:" not in str(err.value)  # (x drawn at random is no matter here)


class _BackwardUsesXForDelta(Layer, register=False):
    """a = z² with the bug of using the input where δ belongs: dx = 2 z · z."""

    def forward(self, x, training=False):
        self.z = x.copy()
        return x * x

    def backward(self, delta):
        return 2 * self.z * self.z


@pytest.mark.parametrize("seed", [0, 1, 2, 5])
@pytest.mark.parametrize("random_state", [0, 3])
def test_the_cost_weights_never_are_an_x_drawn_from_a_nearby_seed(seed, random_state):
    """(a student: with x = default_rng(random_state + 1).normal(...), the cost weights r
    were that very x, and a backward using x where δ belongs passed)"""
    x = np.random.default_rng(seed).normal(size=(4, 5))
    with pytest.raises(GradientCheckError, match="gradient of 'input'"):
        check_layer(_BackwardUsesXForDelta(), x=x, random_state=random_state, checks=["gradient"])


class _ExpScaledWrongly(Layer, register=False):
    def forward(self, x, training=False):
        self.x = x
        return np.exp(3 * x) * 1e6

    def backward(self, delta):
        return delta * np.exp(3 * self.x) * 1e6 * 2.9  # (3, not 2.9)


def test_a_wrong_gradient_gets_no_note_about_checks_that_raised():
    """(a review: the words "raised from 1e-08" in a mismatch's message counted as a
    check that raised, adding advice about x)"""
    with pytest.raises(GradientCheckError) as err:
        check_layer(_ExpScaledWrongly(), checks=["gradient"])
    assert "gradient of 'input'" in str(err.value) and "note:" not in str(err.value)


class _SwishForgettingBetaInDx(Layer, register=False):
    """x sigmoid(beta x) with a learned beta (initialized to 1), whose backward forgets
    beta in ∂C/∂x: wrong, but only where beta is not 1."""

    def build(self, n_in, rng, dtype=np.float64):
        self.params = {"beta": np.ones(n_in, dtype)}
        self.grads = {"beta": np.zeros(n_in, dtype)}
        return n_in

    def forward(self, x, training=False):
        self.x, self.s = x, 1 / (1 + np.exp(-self.params["beta"] * x))
        return x * self.s

    def backward(self, delta):
        x, s = self.x, self.s
        self.grads["beta"][...] = (delta * x * x * s * (1 - s)).sum(axis=0)
        return delta * (s + x * s * (1 - s))  # (beta missing from the second term)


def test_a_failure_found_at_moved_parameters_says_they_were_moved():
    """(a student: the values in the message were at beta moved off 1, and nothing said
    so; at beta = 1 the derivation by hand agreed with backward)"""
    with pytest.raises(
        GradientCheckError,
        match=r"the values are at parameters moved first: 5 entries equal to 1 or 0 .*"
        r"move_ones_and_zeros=False",
    ):
        check_layer(_SwishForgettingBetaInDx(), checks=["gradient"])
    check_layer(_SwishForgettingBetaInDx(), checks=["gradient"], move_ones_and_zeros=False)


def test_a_losss_gradient_dividing_by_the_rows_again_is_named_so():
    """(a student: the weights check said to scale by s_x / Σ s, and the gradient check
    named 'backward', for a loss that divided by m a second time)"""
    from layerkit.gradcheck import check_loss
    from layerkit.losses import Loss

    class HalfSquaresOverM(Loss, register=False):
        def per_example(self, a, y):
            return 0.5 * ((a - y) ** 2).sum(axis=1)

        def per_example_grad(self, a, y):
            return (a - y) / len(a)

    rng = np.random.default_rng(0)
    a, y = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    with pytest.raises(GradientCheckError) as err:
        check_loss(HalfSquaresOverM(), a, y, checks=["gradient", "weights"])
    failed = err.value.report.failed
    assert "look for a division by the number of rows" in failed["weights"]
    assert "grad gives" in failed["gradient"] and "backward" not in failed["gradient"]


class _DenseReturningNoDelta(Dense, register=False):
    def backward(self, delta):
        super().backward(delta)


def test_the_moved_parameters_note_is_for_wrong_values_only():
    """(a review: moving the bias off 0 explains no missing ∂C/∂x)"""
    with pytest.raises(GradientCheckError) as err:
        check_layer(_DenseReturningNoDelta(3), checks=["gradient"])
    assert "gradient of 'input' is None" in str(err.value)
    assert "moved first" not in str(err.value)


def test_a_built_layer_given_x_of_another_width_is_refused_in_one_message():
    """(a trial: "failed 7 of 11 checks", each repeating numpy's broadcasting error)"""
    dense = Dense(3)
    dense.build(7, np.random.default_rng(0), np.float64)
    with pytest.raises(
        ValueError, match=r"x has 5 columns, but Dense\(units=3\) was built for 7 inputs"
    ):
        check_layer(dense, np.ones((4, 5)))
    assert not check_layer(dense, np.random.default_rng(1).normal(size=(4, 7))).failed
    assert not check_layer(Dense(3), np.random.default_rng(1).normal(size=(4, 5))).failed


def test_a_gradient_averaged_over_the_batch_is_named_as_such():
    """(A trial: a layer averaging its gradient over the rows was caught, with no hint of
    the cause, a factor of exactly 1/batch size.)"""

    class MeanScale(ColumnScale, register=False):  # (helpers' layer, its sum a mean)
        def backward(self, delta):
            self.grads["w"][...] = (delta * self.x).mean(axis=0)  # (the sum, divided)
            return delta * self.params["w"]

    x = np.random.default_rng(0).normal(size=(5, 3))
    with pytest.raises(
        GradientCheckError,
        match=r"every disagreeing entry is off by one factor: 0\.2 times the finite "
        r"differences \(1/5: a mean over the batch's 5 rows where the cost sums them\)",
    ):
        check_layer(MeanScale(), x, checks=["gradient"])

    class Halved(MeanScale, register=False):  # (a review: 1/2 is no mean over 5 rows)
        def backward(self, delta):
            self.grads["w"][...] = 0.5 * (delta * self.x).sum(axis=0)
            return delta * self.params["w"]

    with pytest.raises(GradientCheckError) as caught:
        check_layer(Halved(), x, checks=["gradient"])
    assert "off by one factor: 0.5 times the finite differences" in str(caught.value)
    assert "a mean over" not in str(caught.value)

    class Flipped(MeanScale, register=False):
        def backward(self, delta):
            self.grads["w"][...] = -(delta * self.x).sum(axis=0)
            return delta * self.params["w"]

    with pytest.raises(GradientCheckError, match=r"-1 times the finite differences \(the opp"):
        check_layer(Flipped(), x, checks=["gradient"])

    class Idle(MeanScale, register=False):  # a parameter the cost never uses: all 0
        def forward(self, x, training=False):
            self._x = x
            return x.copy()

        def backward(self, delta):
            self.grads["w"][...] = 0.0
            return delta

    notes = check_layer(Idle(), x, checks=["gradient"]).notes
    assert any("all 3 checked entries of 'w' are within atol=1e-08 of 0" in n for n in notes)
