"""The conformance checkers: built-ins pass every check; each kind of breakage is named."""

import copy
import re

import numpy as np
import pytest
from helpers import Swish

from layerkit import Sequential
from layerkit.gradcheck import GradientCheckError, check_layer, check_loss, check_optimizer
from layerkit.layers import (
    ELU,
    GELU,
    BatchNorm,
    Composite,
    Dense,
    Dropout,
    Exp,
    Identity,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from layerkit.losses import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    Loss,
    PoissonLoss,
    SquaredError,
)
from layerkit.optim import SGD, Adam, AdamW, Optimizer
from layerkit.testing import LAYER_CHECKS, LOSS_CHECKS, OPTIMIZER_CHECKS, parametrize_checks

BUILTINS = [
    Dense(3),
    BatchNorm(momentum=0.3),
    Sigmoid(),
    ReLU(),
    Tanh(),
    Identity(),
    LeakyReLU(0.1),
    Softmax(),
    Exp(),
    ELU(0.7),
    GELU(),
    SiLU(),
    Softplus(),
    Dropout(0.3),
    Composite([Dense(4), BatchNorm(), Tanh(), Dense(3)]),
    Swish(0.8),
    SquaredError(),
    BinaryCrossEntropy(),
    CategoricalCrossEntropy(),
    PoissonLoss(),
    SGD(0.1),
    SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    Adam(0.05),
    AdamW(0.05),
]


@parametrize_checks(BUILTINS)
def test_builtins_pass_every_check(obj, check):
    check(obj)


def test_every_public_layer_loss_and_optimizer_class_is_among_the_checked():
    from layerkit import layers, losses, optim

    checked = {type(obj) for obj in BUILTINS}
    abstract = {layers.Layer, layers.Activation, losses.Loss, optim.Optimizer}
    public = {
        getattr(module, name)
        for module in (layers, losses, optim)
        for name in module.__all__
        if isinstance(getattr(module, name), type)
    }
    assert public - abstract - checked == set()


def test_the_report_names_every_check():
    assert list(check_layer(Dense(2)).checks) == list(LAYER_CHECKS)
    assert list(check_loss(SquaredError()).checks) == list(LOSS_CHECKS)
    assert list(check_optimizer(Adam()).checks) == list(OPTIMIZER_CHECKS)
    assert "ok  gradient" in str(check_layer(Dense(2)))


def test_dropout_passes_in_training_mode():
    assert not check_layer(Dropout(0.5), training=True).failed


class BatchScale(Layer, name="conformance_BatchScale"):
    """Divides by the batch's column norms in training, by running ones in prediction
    (a BatchNorm in miniature); ``wrong_backward`` uses the prediction-mode backward in
    training too, ``batch_in_prediction`` uses the batch's norms in prediction too."""

    state_attributes = ("running",)

    def __init__(self, wrong_backward: bool = False, batch_in_prediction: bool = False):
        self.wrong_backward = wrong_backward
        self.batch_in_prediction = batch_in_prediction

    def build(self, n_in, rng, dtype=np.float64):
        self.running = np.ones(n_in, dtype)
        return n_in

    def forward(self, x, training=False):
        self._batch = training or self.batch_in_prediction
        self.x = x
        self.norm = np.sqrt((x * x).sum(axis=0)) if self._batch else self.running
        if training:
            self.running = 0.9 * self.running + 0.1 * self.norm
        return x / self.norm

    def backward(self, delta):
        if not self._batch or self.wrong_backward:
            return delta / self.norm
        # y = x / n with n = ||x_col||: ∂C/∂x = δ/n - x Σ(δ x) / n³
        return delta / self.norm - self.x * (delta * self.x).sum(axis=0) / self.norm**3


def test_a_training_mode_gradient_bug_is_caught_by_default_and_named():
    assert not check_layer(BatchScale()).failed
    with pytest.raises(GradientCheckError, match=r"gradient: in training mode: .*'input'"):
        check_layer(BatchScale(wrong_backward=True))
    assert not check_layer(BatchScale(wrong_backward=True), training=False).failed


@parametrize_checks([BatchScale(wrong_backward=True)])
def test_parametrize_checks_runs_the_training_mode_too(obj, check):
    if check.args[1] != "gradient":  # (check: partial(_run, checker, name, ...))
        check(obj)
        return
    with pytest.raises(GradientCheckError, match="in training mode"):
        check(obj)


def test_batch_statistics_in_prediction_mode_fail_rows_independent():
    with pytest.raises(GradientCheckError, match=r"rows_independent: in prediction mode, row 0"):
        check_layer(BatchScale(batch_in_prediction=True))


class GlobalNoise(Layer, register=False):
    def forward(self, x, training=False):
        self.mask = np.random.default_rng().random(x.shape) > 0.3 if training else 1.0
        return x * self.mask

    def backward(self, delta):
        return delta * self.mask


def test_noise_not_drawn_from_the_build_generator_fails_deterministic():
    with pytest.raises(GradientCheckError, match=r"deterministic: two copies .* np\.random"):
        check_layer(GlobalNoise(), checks=["deterministic"])
    assert not check_layer(GlobalNoise(), training=False, checks=["deterministic"]).failed


# ------------------------------------------------------------------ broken layers
class WrongGradient(Layer, register=False):
    def build(self, n_in, rng, dtype):
        self.params = {"s": np.ones(n_in, dtype)}
        self.grads = {"s": np.zeros(n_in, dtype)}
        return n_in

    def forward(self, x, training=False):
        self.x = x
        return x * self.params["s"]

    def backward(self, delta):
        self.grads["s"][...] = (delta * self.x).sum(axis=0) * 1.1  # 10% off
        return delta * self.params["s"]


class Accumulates(WrongGradient, register=False):
    def backward(self, delta):
        self.grads["s"] += (delta * self.x).sum(axis=0)  # += instead of overwriting
        return delta * self.params["s"]


class WrongShape(Identity, register=False):
    def backward(self, delta):
        return delta[:, :-1]


class ReplacesGrads(WrongGradient, register=False):
    def backward(self, delta):
        dx = delta * self.params["s"]
        self.grads = {"s": (delta * self.x).sum(axis=0)}  # right values, a new dict
        return dx


class MissingGradKey(WrongGradient, register=False):
    def build(self, n_in, rng, dtype):
        super().build(n_in, rng, dtype)
        self.grads = {}
        return n_in


class MutatesInput(Layer, register=False):
    def forward(self, x, training=False):
        x *= 2  # in place: the caller's array changes
        return x

    def backward(self, delta):
        return 2 * delta


class LosesFloat32(Layer, register=False):
    def forward(self, x, training=False):
        return x.astype(np.float64) * 3

    def backward(self, delta):
        return delta.astype(np.float64) * 3


class Random(Layer, register=False):
    def build(self, n_in, rng, dtype):
        self._rng = rng
        return n_in

    def forward(self, x, training=False):
        return x + self._rng.normal(size=x.shape)

    def backward(self, delta):
        return delta


@pytest.mark.parametrize(
    ("layer", "check", "pattern"),
    [
        (WrongGradient(), "gradient", r"gradient of 's' is wrong at index"),
        (Accumulates(), "grads_overwritten", r"must overwrite grads .* not accumulate"),
        (ReplacesGrads(), "grads_overwritten", r"replaced grads\['s'\] by a new array"),
        (
            WrongShape(),
            "shapes",
            r"backward must return ∂C/∂x of the input's shape \(4, 5\), got \(4, 4\)",
        ),
        (MissingGradKey(), "build", r"grads keys \[\] do not match params keys \['s'\]"),
        (MutatesInput(), "input_not_mutated", r"forward modified its input x"),
        (LosesFloat32(), "float32", r"forward turns float32 input into float64"),
        (Random(), "deterministic", r"training=False\) gave two different outputs"),
    ],
    ids=lambda v: v if isinstance(v, str) and " " not in v else None,
)
def test_broken_layers_are_caught_with_the_problem_named(layer, check, pattern):
    with pytest.raises(GradientCheckError, match=pattern) as err:
        check_layer(layer)
    report = err.value.report
    assert check in report.failed
    assert f"- {check}: " in str(err.value)


# ------------------------------------------------------------------ broken losses
class HalfGradient(SquaredError, register=False):
    def per_example_grad(self, a, y):
        return 0.5 * (a - y)


class MutatingLoss(Loss, register=False):
    def per_example(self, a, y):
        a -= y
        return 0.5 * (a**2).sum(axis=1)

    def per_example_grad(self, a, y):
        return a - y


class UnweightedLoss(SquaredError, register=False):
    def value(self, a, y, sample_weight=None):
        return super().value(a, y)


@pytest.mark.parametrize(
    ("loss", "check", "pattern"),
    [
        (HalfGradient(), "gradient", r"gradient of 'a' is wrong"),
        (MutatingLoss(), "input_not_mutated", r"value or grad modified a or y"),
        (UnweightedLoss(), "weights", r"integer weights give"),
    ],
)
def test_broken_losses_are_caught(loss, check, pattern):
    with pytest.raises(GradientCheckError, match=pattern) as err:
        check_loss(loss)
    assert check in err.value.report.failed


# ------------------------------------------------------------------ broken optimizers
class Rebinds(Optimizer, register=False):
    def __init__(self, learning_rate=0.1):
        self.learning_rate = learning_rate

    def step(self, params, grads):
        for k in params:
            params[k] = params[k] - self.learning_rate * grads[k]


class EatsGradients(SGD, register=False):
    def step(self, params, grads):
        for g in grads.values():
            g *= 0.5
        super().step(params, grads)


class Ascends(SGD, register=False):
    def step(self, params, grads):
        for k, p in params.items():
            p += self.learning_rate * grads[k]


class OwnKeys(SGD, register=False):
    def step(self, params, grads):
        self.state["velocity"] = {f"slot{i}": np.zeros(1) for i in range(len(params))}
        super().step(params, grads)


class ListState(SGD, register=False):
    """Velocities in a list, by position: passed every check, then `save` failed."""

    def step(self, params, grads):
        velocity = self.state.setdefault("v", [np.zeros_like(p) for p in params.values()])
        for v, (k, p) in zip(velocity, params.items(), strict=True):
            v *= 0.9
            v += grads[k]
            p -= self.current_learning_rate * v


class SignMemory(SGD, register=False):
    """Steps against the sign of g, faster while it keeps its sign (Rprop's idea), with
    the previous gradient kept by reference: training, which refills the gradient arrays,
    made its loss rise from 1.32 to 25 (a user's trial)."""

    def step(self, params, grads):
        prev = self.state.setdefault("prev", {})
        for k, p in params.items():
            g = grads[k]
            same = np.sign(g) == np.sign(prev.get(k, g))
            p -= self.current_learning_rate * np.where(same, 1.0, 0.1) * np.sign(g)
            prev[k] = g  # (should be g.copy())


class FlatFixedRate(SGD, register=False):
    """Its one-pass branch uses learning_rate: the estimators' schedules were ignored."""

    def step(self, params, grads):
        w, g = getattr(params, "flat", None), getattr(grads, "flat", None)
        if w is not None and g is not None:
            w -= self.learning_rate * g
            return
        for k, p in params.items():
            p -= self.current_learning_rate * grads[k]


class FirstOnly(SGD, register=False):
    """Updates the first parameter only: the cost fell all the same."""

    def step(self, params, grads):
        name = next(iter(params))
        params[name] -= self.current_learning_rate * grads[name]


class DecaysTheRest(SGD, register=False):
    """Follows the first parameter's gradient, shrinks the others (a review: passed)."""

    def step(self, params, grads):
        first, *rest = params
        params[first] -= self.current_learning_rate * grads[first]
        for name in rest:
            params[name] *= 0.9


class FlatOther(SGD, register=False):
    """Its one-pass branch computes another update than the per-array one."""

    def step(self, params, grads):
        w, g = getattr(params, "flat", None), getattr(grads, "flat", None)
        if w is not None and g is not None:
            w -= 2 * self.current_learning_rate * g
            return
        super().step(params, grads)


class FloatCount(SGD, register=False):
    """Counts its steps in a float: saved, then refused at load (a user's trial)."""

    def step(self, params, grads):
        self.state["t"] = self.state.get("t", 0.0) + 1.0
        for k, p in params.items():
            p -= self.current_learning_rate * grads[k]


class ObjectState(SGD, register=False):
    def step(self, params, grads):
        self.state["log"] = object()
        super().step(params, grads)


@pytest.mark.parametrize(
    ("opt", "check", "pattern"),
    [
        (Rebinds(), "in_place", r"replaced a parameter array instead of updating it in place"),
        (
            ListState(0.1),
            "state_keys",
            r"state\['v'\] is a list of 2 arrays, which cannot be saved",
        ),
        (FirstOnly(0.1), "descent", r"parameter '0.b' took the same 3 steps for its gradient"),
        (DecaysTheRest(0.1), "descent", r"parameter '0.b' took the same 3 steps for its gradient"),
        (SignMemory(0.1), "reused_gradients", r"keeps a gradient array itself .* g.copy\(\)"),
        (FlatFixedRate(0.1), "flat_path", r"current_learning_rate did not change the step on"),
        (FlatOther(0.1), "flat_path", r"5 steps on a flattened network's parameters .* differ"),
        (
            FloatCount(0.1),
            "state_keys",
            r"state\['t'\] must be a step count \(an int >= 0\), got 2.0",
        ),
        (
            ObjectState(0.1),
            "state_keys",
            r"state\['log'\] = <object object at .*> cannot be saved",
        ),
        (EatsGradients(0.1), "in_place", r"step modified the gradients"),
        (Ascends(0.1), "descent", r"50 steps on ½‖w - w\*‖² went from"),
        (OwnKeys(0.1), "state_keys", r"not by parameter names"),
    ],
)
def test_broken_optimizers_are_caught(opt, check, pattern):
    """(a state that a model file cannot hold passed, and `save` failed after fit.)"""
    with pytest.raises(GradientCheckError, match=pattern) as err:
        check_optimizer(opt)
    assert check in err.value.report.failed


def test_unregistered_extensions_fail_the_config_check_only():
    report = None
    with pytest.raises(GradientCheckError) as err:
        check_layer(MutatesInput())
    report = err.value.report
    assert (
        "config" in report.failed and "MutatesInput is not registered" in report.failed["config"]
    )


# ------------------------------------------------------------------ checker verdicts
class ExposedPReLU(Layer, register=False):
    """Correct, its parameter exposed through a property (as the contract allows)."""

    def build(self, n_in, rng, dtype):
        self.alpha, self.dalpha = np.full(n_in, 0.25, dtype), np.zeros(n_in, dtype)
        return n_in

    params = property(lambda self: {"alpha": self.alpha} if "alpha" in self.__dict__ else {})
    grads = property(lambda self: {"alpha": self.dalpha} if "alpha" in self.__dict__ else {})

    def forward(self, x, training=False):
        self.x = x
        return np.where(x > 0, x, self.alpha * x)

    def backward(self, delta):
        negative = self.x <= 0
        self.dalpha[...] = (delta * self.x * negative).sum(axis=0)
        return delta * np.where(negative, self.alpha, 1).astype(delta.dtype)


def test_a_float32_layer_with_property_params_is_checked_in_float64():
    # before: the float64 copies went into the property's temporary dict, so the finite
    # differences ran in float32 and the correct gradient of alpha was called wrong
    layer = ExposedPReLU()
    layer.build(5, np.random.default_rng(0), np.float32)
    report = check_layer(layer, checks=["gradient"])
    assert report.worst_error < 1e-6


def test_entries_zero_up_to_rounding_count_as_no_error():
    # ∂C/∂b of a Dense layer followed by a batch standardization is zero: backward gives
    # ~1e-17 and finite differences ~1e-10, which used to report a relative error of 1
    class Centre(Identity, register=False):
        def forward(self, x, training=False):
            return x - x.mean(axis=0)

        def backward(self, delta):
            return delta - delta.mean(axis=0)

    from layerkit import Sequential
    from layerkit.gradcheck import check_network

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 3)), rng.normal(size=16)
    net = Sequential([Dense(4), Centre(), Dense(1), Identity()]).build(3, random_state=0)
    report = check_network(net, X, y, SquaredError())
    assert not report.failed and report.worst_error < 1e-6


def test_a_forward_width_other_than_builds_is_named_by_the_shapes_check():
    class DropsAColumn(Identity, register=False):
        def forward(self, x, training=False):
            return x[:, :-1]

        def backward(self, delta):
            return np.c_[delta, np.zeros(len(delta))]

    with pytest.raises(GradientCheckError, match="forward returned 4 columns, but build"):
        check_layer(DropsAColumn(), checks=["shapes"])


class Box:
    """A plain object a layer keeps its arrays in."""


class BoxedPReLU(ExposedPReLU, register=False):
    def build(self, n_in, rng, dtype):
        self.box = Box()
        self.box.alpha, self.box.dalpha = np.full(n_in, 0.25, dtype), np.zeros(n_in, dtype)
        return n_in

    params = property(lambda self: {"alpha": self.box.alpha} if "box" in self.__dict__ else {})
    grads = property(lambda self: {"alpha": self.box.dalpha} if "box" in self.__dict__ else {})

    def forward(self, x, training=False):
        self.alpha, self.dalpha = self.box.alpha, self.box.dalpha
        return super().forward(x, training)


class SharedTable:
    """Shared by every copy (its deepcopy is itself): the caller's, never converted."""

    def __init__(self):
        self.values = np.linspace(1, 2, 5, dtype=np.float32)

    def __deepcopy__(self, memo):
        return self


class Scale(Identity, register=False):
    def __init__(self):
        self.table = SharedTable()

    def forward(self, x, training=False):
        return x * self.table.values[: x.shape[1]].astype(x.dtype)

    def backward(self, delta):
        return delta * self.table.values[: delta.shape[1]].astype(delta.dtype)


def test_float64_checking_reaches_plain_objects_but_not_shared_ones():
    layer = BoxedPReLU()
    layer.build(5, np.random.default_rng(0), np.float32)
    assert check_layer(layer, checks=["gradient"]).worst_error < 1e-6  # checked in float64
    assert layer.box.alpha.dtype == np.float32  # the caller's layer untouched
    scale = Scale()
    check_layer(scale, checks=["shapes", "gradient"])
    assert scale.table.values.dtype == np.float32


@pytest.mark.parametrize(
    "layer",
    [obj for obj in BUILTINS if isinstance(obj, Layer) and type(obj).__module__[:8] == "layerkit"],
    ids=repr,
)
def test_a_copy_or_pickle_keeps_nothing_of_the_last_batch(layer):
    net = Sequential([copy.deepcopy(layer)]).build(4, random_state=0)
    x = np.random.default_rng(0).normal(size=(2000, 4))
    a = net.layers[0].forward(x, training=True)
    net.layers[0].backward(np.ones_like(a))

    def arrays(value):
        if isinstance(value, np.ndarray):
            yield value
        elif isinstance(value, dict):
            for v in value.values():
                yield from arrays(v)

    kept = [a for a in arrays(net.layers[0].__getstate__()) if a.shape[:1] == (2000,)]
    assert kept == []  # (a cache of the batch would ride along in every pickle and copy)


# ------------------------------------------------- zero weights: value or gradient named
class GradForgetsTheMean(SquaredError, register=False):
    """Overrides grad and forgets the 1/m (and the weights): only the gradient is wrong."""

    def grad(self, a, y, sample_weight=None):
        a, y = self._check(a, y)
        return a - y


class ValueIgnoresZeroWeights(SquaredError, register=False):
    """Right gradient; the value of an all-zero-weight batch is the unweighted mean."""

    def value(self, a, y, sample_weight=None):
        if sample_weight is not None and not np.any(sample_weight):
            return super().value(a, y)
        return super().value(a, y, sample_weight)


def test_zero_weights_name_a_wrong_gradient_and_show_it():
    # before: "all-zero weights must give value 0 and a zero gradient, got 0.0"
    with pytest.raises(GradientCheckError) as err:
        check_loss(GradForgetsTheMean(), checks=["weights"])
    reason = err.value.report.failed["weights"]
    assert "gradient with 12 of 12 entries nonzero" in reason
    assert re.search(r"the largest is grad\[\d, \d\] = -?\d", reason)
    assert "value" not in reason.split("(")[0]


def test_zero_weights_name_a_wrong_value_and_show_it():
    with pytest.raises(GradientCheckError) as err:
        check_loss(ValueIgnoresZeroWeights(), checks=["weights"])
    reason = err.value.report.failed["weights"]
    assert re.search(r"all-zero weights give value 0\.\d+ \(must be 0\)$", reason), reason
    assert "gradient" not in reason


# ---------------------------------------------------------- the shape of per_example
class ColumnCosts(SquaredError, register=False):
    def per_example(self, a, y):
        return 0.5 * ((a - y) ** 2).sum(axis=1, keepdims=True)  # (m, 1)


class UnsummedCosts(SquaredError, register=False):
    def per_example(self, a, y):
        return 0.5 * (a - y) ** 2  # (m, k): not summed over the outputs


class ColumnLogitCosts(CategoricalCrossEntropy, register=False):
    def per_example_from_logits(self, z, y):
        return super().per_example_from_logits(z, y)[:, None]


@pytest.mark.parametrize(
    ("loss", "method", "shape"),
    [
        (ColumnCosts(), "per_example", (4, 1)),
        (UnsummedCosts(), "per_example", (4, 3)),
        (ColumnLogitCosts(), "per_example_from_logits", (4, 1)),
    ],
    ids=["m-by-1", "m-by-k", "logits-m-by-1"],
)
def test_per_example_of_another_shape_than_m_is_caught(loss, method, shape):
    # before: (m, 1) passed value and crashed the weights check with a TypeError;
    # (m, k) passed value (the mean over every entry) and trained an inconsistent loss_
    with pytest.raises(GradientCheckError) as err:
        check_loss(loss, checks=["value"])
    assert err.value.report.failed["value"].startswith(
        f"{method} returned costs of shape {shape}, expected (m,) = (4,)"
    )


@pytest.mark.parametrize(("loss", "shape"), [(ColumnCosts(), (5, 1)), (UnsummedCosts(), (5, 2))])
def test_value_of_misshapen_costs_names_the_loss_and_the_shapes(loss, shape):
    rng = np.random.default_rng(0)
    a, y = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    name = type(loss).__name__
    message = rf"{name}\.per_example returned costs of shape {re.escape(str(shape))}, "
    message += r"expected \(m,\) = \(5,\)"
    with pytest.raises(ValueError, match=message):  # was a TypeError (0-d arrays)
        loss.value(a, y, np.ones(5))
    with pytest.raises(ValueError, match=message):  # (m, k) gave the mean over k outputs
        loss.value(a, y)


def test_weighted_value_from_logits_of_misshapen_costs_names_the_method():
    z, y = np.random.default_rng(0).normal(size=(5, 3)), np.eye(3)[[0, 1, 2, 0, 1]]
    message = r"ColumnLogitCosts\.per_example_from_logits returned costs of shape \(5, 1\)"
    with pytest.raises(ValueError, match=message):
        ColumnLogitCosts().value_from_logits(z, y, np.ones(5))


# ------------------------------------------------ the optimizer honours the schedule
class IgnoresSchedule(Optimizer, register=False):
    """Plain gradient descent at self.learning_rate: schedules would change nothing."""

    def __init__(self, learning_rate=0.1):
        self.learning_rate = learning_rate

    def step(self, params, grads):
        for k, p in params.items():
            p -= self.learning_rate * grads[k]


class KeepsFirstRate(IgnoresSchedule, register=False):
    """Reads current_learning_rate once, at its first step, and keeps that rate."""

    def step(self, params, grads):
        rate = self.state.setdefault("rate", self.current_learning_rate)
        for k, p in params.items():
            p -= rate * grads[k]


class HonoursSchedule(IgnoresSchedule, register=False):
    def step(self, params, grads):
        for k, p in params.items():
            p -= self.current_learning_rate * grads[k]


@pytest.mark.parametrize(
    ("opt", "pattern"),
    [
        (IgnoresSchedule(), r"to 0\.05 \(from 0\.1\) did not change the step: step\(\) must "),
        (KeepsFirstRate(), r"to 0\.05 \(from 0\.1\) after 3 steps did not change the step"),
    ],
    ids=["ignores", "keeps-the-first"],
)
def test_an_optimizer_ignoring_current_learning_rate_fails_the_schedule_check(opt, pattern):
    # before: it passed every check, and 'invscaling'/'adaptive' were silently ignored
    with pytest.raises(GradientCheckError, match=pattern) as err:
        check_optimizer(opt)
    assert "schedule" in err.value.report.failed
    assert "self.current_learning_rate, not self.learning_rate" in str(err.value)
    assert "descent" not in err.value.report.failed  # (it does descend)


@pytest.mark.parametrize(
    "opt",
    [
        SGD(0.1),
        SGD(1.0),  # (one step lands on the minimum: the compared step is not at w*)
        SGD(0.1, momentum=0.9),
        SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
        Adam(0.05),
        AdamW(0.05, weight_decay=0.1),
        HonoursSchedule(),
    ],
    ids=repr,
)
def test_optimizers_using_current_learning_rate_pass_the_schedule_check(opt):
    assert check_optimizer(opt, checks=["schedule"]).checks == {"schedule": None}


class InvertedRate(IgnoresSchedule, register=False):
    """Divides by the rate: it descends, but a schedule lowering the rate speeds it up."""

    def step(self, params, grads):
        for k, p in params.items():
            p -= 0.01 / self.current_learning_rate * grads[k]


def test_an_optimizer_whose_step_grows_as_the_rate_falls_fails_the_schedule_check():
    with pytest.raises(GradientCheckError, match=r"did not shorten the first step") as err:
        check_optimizer(InvertedRate(), checks=["schedule", "descent"])
    assert list(err.value.report.failed) == ["schedule"]


def test_rows_independent_allows_for_the_rounding_of_one_row_against_a_batch():
    """Outputs near 0 from large inputs: a one-row product rounds apart from the batch's
    by about 1e-12, which an absolute 1e-12 failed."""
    dense = Dense(4)
    dense.build(200, np.random.default_rng(0), np.float64)
    q, _ = np.linalg.qr(dense.params["W"])
    x = np.random.default_rng(1).normal(size=(8, 200)) * 1e4
    x -= (x @ q) @ q.T  # rows orthogonal to W's columns: x W is rounding only
    assert not check_layer(dense, x, checks=["rows_independent"]).failed


class ForgetsGamma(BatchNorm, register=False):
    """Its prediction-mode ∂C/∂x leaves γ out: right while γ is at its initial ones."""

    def backward(self, delta):
        dx = super().backward(delta)
        return dx if self._batch else delta * self._inv_std


def test_a_factor_of_a_parameter_initialized_to_ones_cannot_hide():
    with pytest.raises(GradientCheckError, match=r"in prediction mode: .*'input' is wrong"):
        check_layer(ForgetsGamma(), checks=["gradient"])


class SoftAbs(Layer, register=False):
    """sqrt(x² + σ) with σ >= 0 starting at 0: a zero moved below 0 makes NaN."""

    def build(self, n_in, rng, dtype=np.float64):
        self.params = {"sigma": np.zeros(n_in, dtype)}
        self.grads = {"sigma": np.zeros(n_in, dtype)}
        return n_in

    def forward(self, x, training=False):
        self.x, self.out = x, np.sqrt(x * x + self.params["sigma"])
        return self.out

    def backward(self, delta):
        self.grads["sigma"][...] = (delta / (2 * self.out)).sum(axis=0)
        return delta * self.x / self.out


def test_moved_zeros_stay_positive_and_the_move_can_be_turned_off():
    assert not check_layer(SoftAbs(), checks=["gradient"]).failed  # (NaN when moved below 0)
    assert not check_layer(BatchNorm(), checks=["gradient"], move_ones_and_zeros=False).failed
    with pytest.raises(GradientCheckError):  # moved, γ's ones no longer hide the bug
        check_layer(ForgetsGamma(), checks=["gradient"])
    assert not check_layer(ForgetsGamma(), checks=["gradient"], move_ones_and_zeros=False).failed


@pytest.mark.parametrize(
    "opt",
    [
        SGD(0.1, weight_decay=1.0),
        SGD(0.01, momentum=0.9, weight_decay=1.0),
        AdamW(0.05, weight_decay=1.0),
    ],
    ids=repr,
)
def test_strong_weight_decay_passes_the_descent_check(opt):
    """(a review: asking every parameter to near the unregularized minimum failed them)"""
    assert check_optimizer(opt).failed == {}


class WarmUp(SGD, register=False):
    """SGD whose rate rises from 0 over its first steps (a warm-up)."""

    def step(self, params, grads):
        t = self.state["t"] = self.state.get("t", 0) + 1
        for k, p in params.items():
            p -= self.current_learning_rate * min(1.0, (t - 1) / 3) * grads[k]


def test_a_warm_up_whose_first_step_is_zero_passes_the_descent_check():
    assert check_optimizer(WarmUp(0.1), checks=["descent", "state_keys"]).failed == {}
