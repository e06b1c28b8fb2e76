"""Every layer, loss and optimizer has a registered name and a validated, JSON config."""

import json

import numpy as np
import pytest
from helpers import Swish

import layerkit
from layerkit import RegistryError, Sequential
from layerkit._configurable import lookup, registered
from layerkit.layers import (
    ELU,
    GELU,
    BatchNorm,
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
from layerkit.losses import BinaryCrossEntropy, CategoricalCrossEntropy, PoissonLoss, SquaredError
from layerkit.optim import SGD, Adam

BUILTINS = [
    Dense(5, init="he_normal", gain=0.5, bias_init="uniform"),
    Sigmoid(),
    ReLU(),
    Tanh(),
    Identity(),
    LeakyReLU(0.2),
    Softmax(),
    Exp(),
    ELU(0.3),
    GELU(),
    SiLU(),
    Softplus(),
    Dropout(0.25),
    BatchNorm(momentum=0.2, epsilon=1e-3),
    SquaredError(),
    BinaryCrossEntropy(),
    CategoricalCrossEntropy(),
    PoissonLoss(),
    SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    Adam(0.002, beta_1=0.8, beta_2=0.99, epsilon=1e-7),
    Swish(0.5),
]


@pytest.mark.parametrize("obj", BUILTINS, ids=repr)
def test_config_round_trips_through_json(obj):
    config = obj.get_config()
    rebuilt = type(obj).from_config(json.loads(json.dumps(config)))
    assert type(rebuilt) is type(obj)
    assert rebuilt.get_config() == config
    assert repr(rebuilt) == repr(obj)
    assert lookup(obj._kind, type(obj).registry_name) is type(obj)


def test_builtins_and_user_classes_are_registered():
    assert {"Dense", "Dropout", "ReLU", "Softmax", "Swish"} <= set(registered("layer"))
    assert {"SquaredError", "CategoricalCrossEntropy"} <= set(registered("loss"))
    assert {"SGD", "Adam"} <= set(registered("optimizer"))
    assert "Layer" not in registered("layer")  # abstract bases are not


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda: Dense(units=0), r"Dense: units must be greater than or equal to 1, got 0"),
        (lambda: Dense(3.5), r"Dense: units must be a valid integer, got 3\.5"),
        (
            lambda: Dense(3, init="glorot"),
            r"init must be 'glorot_uniform', 'glorot_normal', 'he_uniform' or 'he_normal', got 'glorot'",
        ),
        (lambda: Dropout(rate=1.5), r"Dropout: rate must be less than 1, got 1\.5"),
        (lambda: LeakyReLU(-0.1), r"negative_slope must be greater than or equal to 0, got -0\.1"),
        (lambda: SGD(learning_rate=-1), r"SGD: learning_rate must be greater than 0, got -1"),
        (lambda: SGD(nesterov="yes"), r"nesterov must be a valid boolean, got 'yes'"),
        (lambda: Adam(beta_1=1.0), r"Adam: beta_1 must be less than 1, got 1\.0"),
    ],
)
def test_invalid_hyperparameters_fail_at_construction(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_numpy_scalars_are_accepted_and_saved_as_python_numbers():
    layer = Dense(np.int64(4), gain=np.float32(0.5))
    assert layer.get_config()["units"] == 4 and type(layer.get_config()["units"]) is int
    assert repr(layer) == "Dense(units=4, gain=0.5)"  # as a search's sampled values print


def test_a_name_clash_is_a_clear_error():
    namespace = {"__name__": "somewhere.else", "Layer": Layer}
    code = "class Swish(Layer):\n    pass\n"
    with pytest.raises(
        RegistryError,
        match=r"layer name 'Swish' is already registered for helpers\.Swish.*somewhere\.else\.Swish.*name='another_name'",
    ):
        exec(code, namespace)
    exec("class Swish(Layer, name='OtherSwish'):\n    pass\n", namespace)
    assert lookup("layer", "OtherSwish") is namespace["Swish"]
    assert lookup("layer", "Swish").__module__ == "helpers"


def test_redefining_the_same_class_replaces_it():
    namespace = {"__name__": "notebook_cell", "Layer": Layer}
    exec("class Redefined(Layer):\n    pass\n", namespace)
    first = namespace["Redefined"]
    exec("class Redefined(Layer):\n    pass\n", namespace)
    assert lookup("layer", "Redefined") is namespace["Redefined"] is not first


_GAIN_CELL = """
class Gain(Layer):
    def __init__(self, k=2.0):
        self.k = k

    def forward(self, x, training=False):
        return FACTOR * self.k * x

    def backward(self, delta):
        return FACTOR * self.k * delta
"""


def test_an_object_of_a_class_defined_again_is_refused_with_the_way_out(tmp_path):
    """A notebook cell defining a layer, run again after a fit: `save` said the class was
    not registered and to define it without register=False, which it was. (Saving it by
    name would load the newer class, which may compute otherwise.)"""
    cell = _GAIN_CELL.replace("Gain", "GainA")
    namespace = {"__name__": "notebook_cell_2", "Layer": Layer, "FACTOR": 1.0}
    exec(cell, namespace)
    old = namespace["GainA"]
    X = np.random.default_rng(0).normal(size=(30, 3))
    est = layerkit.MLPRegressor(layers=[old(3.0)], max_iter=2, random_state=0)
    with pytest.warns(UserWarning, match="Maximum iterations"):
        est.fit(X, X.sum(axis=1))
    exec(cell, namespace)  # the cell run again
    with pytest.raises(TypeError, match=r"GainA was defined again after GainA\(k=3.0\) was "
                       r"made .* layerkit.register\(type\(obj\)\)"):  # fmt: skip
        layerkit.save(est, tmp_path / "m.lkm")
    layerkit.register(old)  # the way out the message gives
    again = layerkit.load(layerkit.save(est, tmp_path / "m.lkm"))
    assert type(again.network_.layers[0]) is old
    np.testing.assert_array_equal(again.predict(X), est.predict(X))


@pytest.mark.parametrize("change", ["code", "closure"])
def test_an_object_of_a_class_defined_again_differently_is_refused(tmp_path, change):
    """Loaded as the newer class, it would predict differently (by up to 2.15 for two
    classes one function made, in a review)."""
    name = f"Gain_{change}"
    cell = _GAIN_CELL.replace("Gain", name)
    namespace = {"__name__": "notebook_cell_3", "Layer": Layer, "FACTOR": 1.0}
    if change == "closure":  # one function making two classes from different values
        maker = "def make(FACTOR):\n" + "\n".join("    " + line for line in cell.splitlines())
        exec(maker + f"\n    return {name}\n", namespace)
        first, second = namespace["make"](1.0), namespace["make"](2.0)
        obj = first(3.0)
        assert layerkit._configurable.lookup("layer", name) is second
    else:
        exec(cell, namespace)
        obj = namespace[name](3.0)
        exec(cell.replace("FACTOR * self.k * x", "self.k * x + 1"), namespace)
    net = layerkit.Sequential([obj]).build(3)
    with pytest.raises(
        TypeError, match=rf"{name} was defined again after {name}\(k=3.0\) was made"
    ):
        layerkit.save(net, tmp_path / "n.lkm")


def test_a_class_defined_again_inside_another_layer_is_named_as_such(tmp_path):
    """(the outer layer's config said its argument was not JSON-able data, losing the
    reason and the way out)"""
    cell = _GAIN_CELL.replace("Gain", "GainInner")
    namespace = {"__name__": "notebook_cell_4", "Layer": Layer, "FACTOR": 1.0}
    exec(cell, namespace)

    class Holder(Layer, register=False):
        def __init__(self, inner=None):
            self.inner = inner

    holder = Holder(namespace["GainInner"](3.0))
    exec(cell, namespace)
    with pytest.raises(TypeError, match=r"argument 'inner': GainInner was defined again after"):
        holder.get_config()


def test_nested_set_params_copies_nothing():
    """(checking on a deep copy first failed for a holder keeping a lock, and doubled
    the memory of one keeping large arrays)"""
    import threading

    class Holder(Layer, register=False):
        def __init__(self, inner=None):
            self.inner = inner

    holder = Holder(Dense(4))
    holder.inner.lock = threading.Lock()  # (which deepcopy cannot copy)
    holder.set_params(inner__units=5)
    assert holder.inner.units == 5
    with pytest.raises(
        ValueError, match=r"Holder: setting inner__units: Dense: units must be greater than"
    ):
        holder.set_params(inner__units=-1)
    assert holder.inner.units == 5


def test_explicit_registration_and_opting_out():
    class Unlisted(Layer, register=False):
        pass

    assert "Unlisted" not in registered("layer")
    layerkit.register(Unlisted, "Listed")
    assert lookup("layer", "Listed") is Unlisted
    with pytest.raises(RegistryError, match="not registered in this process"):
        lookup("layer", "NoSuchLayer")


def test_unknown_config_keys_are_refused():
    with pytest.raises(TypeError):
        Dense.from_config({"units": 3, "colour": "red"})


def test_sequential_config_round_trips_through_json(rng):
    net = Sequential([Dense(6), LeakyReLU(0.1), Dropout(0.2), Swish(0.7), Dense(2), Softmax()])
    net.build(4, random_state=0, dtype=np.float32)
    config = json.loads(json.dumps(net.get_config()))
    assert config["n_in"] == 4 and config["dtype"] == "float32"
    again = Sequential.from_config(config, random_state=0)
    assert repr(again) == repr(net)
    assert again.dtype == np.float32
    for name, p in net.params.items():
        np.testing.assert_array_equal(again.params[name], p)  # same seed, same weights
    x = rng.normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_array_equal(again.forward(x), net.forward(x))


def test_non_json_arguments_cannot_be_described():
    class Scaled(Layer, register=False):
        def __init__(self, fn=None):
            self.fn = fn

    with pytest.raises(TypeError, match=r"argument 'fn'.*not JSON-able"):
        Scaled(fn=np.sin).get_config()


class Clip(Layer, name="registry_test_Clip"):
    """Arguments as tuples, annotated or not (scikit-learn's style)."""

    def __init__(self, bounds: tuple[float, float] = (-1.0, 1.0), spare=(1, 2)):
        self.bounds = bounds
        self.spare = spare

    def forward(self, x, training=False):
        self.x = x
        return np.clip(x, *self.bounds)

    def backward(self, delta):
        return delta * ((self.x > self.bounds[0]) & (self.x < self.bounds[1]))


def test_tuple_arguments_round_trip_as_tuples_and_pass_the_checks():
    from layerkit.gradcheck import check_layer

    clip = Clip((-2.0, 2.0), spare=(3, 4))
    config = json.loads(json.dumps(clip.get_config()))
    again = Clip.from_config(config)
    assert again.bounds == (-2.0, 2.0) and again.spare == (3, 4)  # tuples, not lists
    report = check_layer(clip, np.linspace(-3, 3, 12).reshape(3, 4) + 0.05)
    assert not report.failed


def test_a_list_from_a_toml_file_becomes_a_tuple_where_the_argument_is_one():
    arguments = Clip.tuples_where_annotated({"bounds": [-2.0, 2.0], "spare": [3, 4]})
    assert arguments == {"bounds": (-2.0, 2.0), "spare": [3, 4]}  # spare has no annotation
    assert Clip(**arguments).bounds == (-2.0, 2.0)


class Residual(Layer, name="registry_test_Residual"):
    """x + f(x), with f given as layer objects: a layer holding layers."""

    def __init__(self, inner=None):
        self.inner = inner

    def build(self, n_in, rng, dtype=np.float64):
        self.net = Sequential([*self.inner]).build(n_in, random_state=rng, dtype=dtype)
        return n_in

    @property
    def params(self):
        return self.net.params if "net" in self.__dict__ else {}

    @property
    def grads(self):
        return self.net.grads if "net" in self.__dict__ else {}

    def forward(self, x, training=False):
        return x + self.net.forward(x, training)

    def backward(self, delta):
        return delta + self.net.backward(delta)


def test_a_layer_holding_layers_has_a_json_config_and_is_saved_and_loaded(tmp_path):
    from layerkit import MLPRegressor
    from layerkit.gradcheck import check_layer

    block = Residual([Dense(6), Tanh(), Dense(4)])
    config = block.get_config()
    again = Residual.from_config(json.loads(json.dumps(config)))
    assert repr(again) == repr(block) and again.inner[0] is not block.inner[0]
    assert not check_layer(block, np.random.default_rng(0).normal(size=(3, 4))).failed

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = X @ rng.normal(size=4)
    reg = MLPRegressor(layers=[Dense(4), block], solver="lbfgs", max_iter=2000, random_state=0)
    reg.fit(X, y)
    loaded = layerkit.load(layerkit.save(reg, tmp_path / "residual.lkm"))
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


def test_an_experiment_file_gives_a_tuple_argument_as_an_array(tmp_path):
    from layerkit.cli._config import load_experiment

    (tmp_path / "exp.toml").write_text(
        'task = "classification"\n[data]\npath = "d.csv"\ntarget = "y"\n'
        '[[layers]]\ntype = "registry_test_Clip"\nbounds = [-2.0, 2.0]\n'
    )
    loaded = load_experiment(tmp_path / "exp.toml")
    assert loaded.layers[0].bounds == (-2.0, 2.0)


class Weighted(Layer, name="registry_test_Weighted"):
    """A dict argument."""

    def __init__(self, scales=None):
        self.scales = scales

    def forward(self, x, training=False):
        return x * self.scales["a"]

    def backward(self, delta):
        return delta * self.scales["a"]


def test_a_dict_argument_is_saved_loaded_and_read_from_an_untagged_config(tmp_path):
    net = Sequential([Dense(2), Weighted({"a": 2.0})]).build(3, random_state=0)
    loaded = layerkit.load(layerkit.save(net, tmp_path / "w.lkm"))  # (was decoded twice)
    assert loaded.layers[1].scales == {"a": 2.0}
    x = np.ones((2, 3))
    np.testing.assert_array_equal(loaded.forward(x), net.forward(x))
    # a config written before dicts were tagged (as 0.1.0 and 0.2.0's get_config did)
    assert Weighted.from_config({"scales": {"a": 3.0}}).scales == {"a": 3.0}
