"""A user's layer that breaks the contract is named, with its position, at the first
call that shows it (LayerContractError, a ValueError)."""

import numpy as np
import pytest

from layerkit import LayerContractError, MLPClassifier, Sequential
from layerkit.layers import Dense, Layer, ReLU, Softmax
from layerkit.losses import CategoricalCrossEntropy
from layerkit.optim import SGD

rng = np.random.default_rng(0)
X = rng.normal(size=(30, 3))
y = rng.integers(0, 3, 30)


class Broken(Layer, register=False):
    """A layer with one configurable defect."""

    def __init__(self, defect="none"):
        self.defect = defect

    def build(self, n_in, rng, dtype):
        self.params = {"s": np.ones(n_in, dtype)}
        self.grads = {"s": np.zeros(n_in, dtype)}
        if self.defect == "grads keys":
            self.grads = {"t": np.zeros(n_in, dtype)}
        if self.defect == "grads shape":
            self.grads = {"s": np.zeros(n_in + 1, dtype)}
        if self.defect == "build width":
            return "wide"
        return n_in

    def forward(self, x, training=False):
        self.x = x
        if self.defect == "forward None":
            return None
        if self.defect == "forward shape":
            return x[:, :-1]
        if self.defect == "params replaced":
            self.params["s"] = self.params["s"] * 1.0  # a new array, same values
        if self.defect == "forward nan":
            out = x * self.params["s"]
            out[0, 0] = np.nan
            return out
        return x * self.params["s"]

    def backward(self, delta):
        self.grads["s"][...] = (delta * self.x).sum(axis=0)
        if self.defect == "backward None":
            return None
        if self.defect == "backward shape":
            return delta.T
        if self.defect == "backward inf":
            out = delta * self.params["s"]
            out[0, 0] = np.inf
            return out
        if self.defect == "grads rebound":
            self.grads = {"s": np.zeros(2)}
        if self.defect == "grads replaced":  # right values, but not in the array held
            self.grads["s"] = (delta * self.x).sum(axis=0)
        return delta * self.params["s"]


CASES = [
    (
        "forward None",
        r"Broken\(defect='forward None'\) at position 1: forward returned None; expected an array of shape \(30, 4\)",
    ),
    (
        "forward shape",
        r"at position 1: forward returned an array of shape \(30, 3\); expected an array of shape \(30, 4\)",
    ),
    (
        "forward nan",
        r"at position 1: forward returned non-finite values \(NaN or infinity\) for a finite input",
    ),
    (
        "backward None",
        r"at position 1: backward returned None; expected ∂C/∂x, an array of the input's shape \(30, 4\)",
    ),
    ("backward shape", r"backward returned an array of shape \(4, 30\); expected ∂C/∂x"),
    ("backward inf", r"backward returned non-finite values for a finite delta"),
    ("grads keys", r"at position 1: grads has keys \['t'\]; expected the keys of params, \['s'\]"),
    ("grads shape", r"grads\['s'\] has shape \(5,\); expected the shape of params\['s'\], \(4,\)"),
    ("grads rebound", r"grads\['s'\] has shape \(2,\)"),
    (
        "grads replaced",
        r"at position 1: grads\['s'\] was replaced by a new array during training; write "
        r"into the one it holds \(grads\['s'\]\[...\] = ...\)",
    ),
    ("params replaced", r"at position 1: params\['s'\] was replaced by a new array"),
    (
        "build width",
        r"at position 1: build\(\) must return the output width as a positive int, got 'wide'",
    ),
]


# Every defect applies to every solver, lbfgs included: each of its loss evaluations runs
# forward, backward and the replaced-array check through the same EpochRunner.step (with
# scipy's steps written into the arrays params holds), so no pair is skipped. (sgd here is
# the estimator's default, with momentum; a layer with parameters never takes the plan.)
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize(("defect", "pattern"), CASES, ids=[c[0] for c in CASES])
def test_a_broken_layer_is_named_at_its_first_breach(defect, pattern, solver):
    clf = MLPClassifier(
        layers=[Dense(4), Broken(defect), ReLU()], solver=solver, max_iter=3, random_state=0
    )
    with pytest.raises(LayerContractError, match=pattern):
        clf.fit(X, y)
    assert not hasattr(clf, "network_")


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_a_replaced_gradient_array_is_refused_by_every_solver(solver):
    # before: the optimizer kept updating the array built, so the parameter silently
    # never trained (s stayed all ones)
    clf = MLPClassifier(
        layers=[Dense(4), Broken("grads replaced"), ReLU()], solver=solver, max_iter=3
    )
    with pytest.raises(LayerContractError, match="replaced by a new array"):
        clf.fit(X, y)


def test_the_error_is_a_value_error():
    assert issubclass(LayerContractError, ValueError)


def test_the_low_level_api_checks_too():
    net = Sequential([Dense(4), Broken("forward shape"), Dense(3), Softmax()])
    net.build(3, random_state=0)
    with pytest.raises(LayerContractError, match="position 1"):
        net.forward(X)
    net = Sequential([Dense(4), Broken("backward None"), Dense(3), Softmax()]).build(
        3, random_state=0
    )
    with pytest.raises(LayerContractError, match="backward returned None"):
        net.loss_and_grads(X, np.eye(3)[y], CategoricalCrossEntropy())


def test_a_correct_user_layer_is_not_blamed_for_divergence():
    net = Sequential([Dense(4), Broken("none"), Dense(3), Softmax()]).build(3, random_state=0)
    net.layers[0].params["W"][...] = np.inf  # the network diverged before the user's layer
    with np.errstate(all="ignore"):
        out = net.forward(X)
    assert not np.isfinite(out).all()


class PackedDense(Layer, register=False):
    """Correct: W and b packed in one array, handed out as fresh views at each access."""

    def __init__(self, units=4):
        self.units = units

    def build(self, n_in, rng, dtype):
        self.Wb = np.vstack(
            [rng.normal(size=(n_in, self.units)) / n_in, np.zeros((1, self.units))]
        )
        self.Wb, self.gWb = self.Wb.astype(dtype), np.zeros((n_in + 1, self.units), dtype)
        return self.units

    params = property(
        lambda self: {"W": self.Wb[:-1], "b": self.Wb[-1]} if "Wb" in vars(self) else {}
    )
    grads = property(
        lambda self: {"W": self.gWb[:-1], "b": self.gWb[-1]} if "Wb" in vars(self) else {}
    )

    def forward(self, x, training=False):
        self.x = x
        return x @ self.Wb[:-1] + self.Wb[-1]

    def backward(self, delta):
        self.gWb[:-1] = self.x.T @ delta
        self.gWb[-1] = delta.sum(axis=0)
        return delta @ self.Wb[:-1].T


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_params_handed_out_as_fresh_views_of_the_same_memory_are_not_refused(solver):
    # the replaced-array check compares memory, not objects: this layer trains
    from layerkit.gradcheck import check_layer

    assert (
        "grads_overwritten" not in check_layer(PackedDense(3), checks=["grads_overwritten"]).failed
    )
    clf = MLPClassifier(
        layers=[PackedDense(8), ReLU()], solver=solver, max_iter=30, random_state=0
    )
    with pytest.warns(Warning):
        clf.fit(X, y)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


class Promotes(Layer, register=False):
    """A user's layer whose numpy promotes float32 to float64 (a float64 constant)."""

    def forward(self, x, training=False):
        self.scale = np.linspace(0.5, 1.5, x.shape[1])  # float64
        return x * self.scale

    def backward(self, delta):
        return delta * self.scale


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_float32_network_stays_float32_around_a_promoting_layer():
    # before: a promoting layer just before the output made the output, its loss's
    # delta and predict_proba float64 ("a model trained in float32 predicts in float32")
    from layerkit import Sequential

    X32 = X.astype(np.float32)
    net = Sequential([Dense(4), Promotes(), Softmax()]).build(3, random_state=0, dtype="float32")
    assert net.forward(X32).dtype == np.float32
    assert net.predict(X32).dtype == np.float32
    clf = MLPClassifier(layers=[Dense(4), ReLU(), Dense(3), Promotes()], max_iter=2).fit(X32, y)
    assert clf.predict_proba(X32).dtype == np.float32


class _Scale(Layer, register=False):
    """x ⊙ s, learnable s; ``mode``: how backward writes ∂C/∂s."""

    def __init__(self, mode="write"):
        self.mode = mode

    def build(self, n_in, rng, dtype):
        self.params = {"s": np.ones(n_in, dtype)}
        self.grads = {"s": np.zeros(n_in, dtype)}
        return n_in

    def forward(self, x, training=False):
        self._x = x
        return x * self.params["s"]

    def backward(self, delta):
        g = (delta * self._x).sum(axis=0)
        if self.mode == "write":
            self.grads["s"][...] = g
        elif self.mode == "add":  # against the contract, as PyTorch's autograd does
            self.grads["s"] += g
        return delta * self.params["s"]  # mode "none": never writes it


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_gradients_are_zeroed_before_a_users_layer_writes_them(solver):
    # a layer that adds into its grads trains as one that writes them; one that never
    # writes them leaves its parameters where they are
    def fit(mode):
        layers = [Dense(6), ReLU(), _Scale(mode)]
        clf = MLPClassifier(layers=layers, solver=solver, max_iter=5, random_state=0)
        with pytest.warns(Warning):  # (ConvergenceWarning: 5 iterations)
            clf.fit(X, y)
        return clf

    written, added, unwritten = fit("write"), fit("add"), fit("none")
    np.testing.assert_array_equal(added.loss_curve_, written.loss_curve_)
    np.testing.assert_array_equal(added.network_.params["2.s"], written.network_.params["2.s"])
    np.testing.assert_array_equal(unwritten.network_.params["2.s"], np.ones(6))


def test_the_low_level_loop_zeroes_them_too():
    def fit(mode):
        net = Sequential([Dense(6), ReLU(), _Scale(mode), Dense(3), Softmax()])
        net.build(3, random_state=0)
        return net.fit(
            X, np.eye(3)[y], loss=CategoricalCrossEntropy(), optimizer=SGD(0.1), random_state=0
        )

    assert fit("add") == fit("write")


def test_parameters_made_in_another_dtype_are_refused_at_build():
    class Float64Scale(_Scale, register=False):
        def build(self, n_in, rng, dtype):
            super().build(n_in, rng, np.float64)  # ignores the dtype it is given
            return n_in

    net = Sequential([Dense(3), Float64Scale()])
    with pytest.raises(
        LayerContractError, match=r"made params\['s'\] of dtype float64 in a float32"
    ):
        net.build(4, dtype=np.float32)
    Sequential([Dense(3), Float64Scale()]).build(4)  # float64: as asked


def test_a_frozen_parameter_with_a_read_only_gradient_trains():
    class Frozen(_Scale, register=False):
        def build(self, n_in, rng, dtype):
            super().build(n_in, rng, dtype)
            self.grads["s"].flags.writeable = False  # always zero: s never moves
            return n_in

        def backward(self, delta):
            return delta * self.params["s"]

    clf = MLPClassifier(layers=[Dense(6), ReLU(), Frozen()], solver="sgd", max_iter=3)
    with pytest.warns(Warning):  # (ConvergenceWarning: 3 iterations)
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.network_.params["2.s"], np.ones(6))
