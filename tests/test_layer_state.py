"""A layer's state (the float arrays it names in state_attributes, such as running
statistics) belongs to the model: saved, loaded, and restored by early stopping."""

import json
import re
import zipfile

import numpy as np
import pytest
from sklearn.datasets import load_digits

import layerkit
from layerkit import LayerContractError, MLPClassifier, Sequential
from layerkit.estimators import _stochastic
from layerkit.gradcheck import GradientCheckError, check_layer
from layerkit.layers import Dense, Identity, Layer, ReLU

quiet = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class Standardize(Layer, register=False):
    """Batch statistics in training, running statistics in inference (BatchNorm, no
    learned scale): the running ones are state, created in build."""

    state_attributes = ("running_mean", "running_var")

    def __init__(self, momentum=0.5):
        self.momentum = momentum

    def build(self, n_in, rng, dtype):
        self.running_mean = np.zeros(n_in, dtype)
        self.running_var = np.ones(n_in, dtype)
        return n_in

    def forward(self, x, training=False):
        if training:
            mean, var = x.mean(axis=0), x.var(axis=0)
            keep = self.momentum
            self.running_mean = keep * self.running_mean + (1 - keep) * mean
            self.running_var = keep * self.running_var + (1 - keep) * var
        else:
            mean, var = self.running_mean, self.running_var
        self.training, self.std = training, np.sqrt(var + 1e-5)
        self.xhat = (x - mean) / self.std
        return self.xhat

    def backward(self, delta):
        if not self.training:
            return delta / self.std
        xhat = self.xhat
        return (delta - delta.mean(axis=0) - xhat * (delta * xhat).mean(axis=0)) / self.std


layerkit.register(Standardize)


class Unnamed(Standardize, register=False):
    """The same, its state left out of state_attributes: not in model files."""

    state_attributes = ()


layerkit.register(Unnamed)


class Permute(Layer):
    """A fixed permutation of the features, named as state: but integers."""

    state_attributes = ("order",)

    def build(self, n_in, rng, dtype):
        self.order = rng.permutation(n_in)
        return n_in

    def forward(self, x, training=False):
        return x[:, self.order]

    def backward(self, delta):
        out = np.empty_like(delta)
        out[:, self.order] = delta
        return out


class Scratch(Layer):
    """Arrays made in build that are not state: a scratch buffer rebound every batch, a
    read-only integer index. Saved models hold neither, and load as before."""

    def build(self, n_in, rng, dtype):
        self.buffer = np.empty(0, dtype)
        self.index = np.arange(n_in)
        self.index.flags.writeable = False
        return n_in

    def forward(self, x, training=False):
        self.buffer = 2.0 * x[:, self.index]
        return self.buffer

    def backward(self, delta):
        return 2.0 * delta


class Fixed(Standardize):
    """Running statistics that never move once trained, kept read-only in between."""

    def forward(self, x, training=False):
        out = super().forward(x, training)
        for name in self.state_attributes:
            getattr(self, name).flags.writeable = False
        return out


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X, y


def test_a_layers_state_is_listed_by_the_network():
    net = Sequential([Dense(3), Standardize(), Dense(2), Identity()]).build(4, random_state=0)
    assert sorted(net.state) == ["1.running_mean", "1.running_var"]
    net.forward(np.arange(8.0).reshape(2, 4), training=True)  # state moves (rebound here)
    assert net.state["1.running_mean"] is net.layers[1].running_mean
    assert not np.all(net.state["1.running_mean"] == 0)


@quiet
def test_save_and_load_keep_the_state(digits, tmp_path):
    # before: the file held params only, so the loaded model had zero running means
    # (accuracy 0.81 against 0.96 for the saved one and for a pickled copy)
    X, y = digits
    clf = MLPClassifier(layers=[Standardize(), Dense(32), ReLU()], max_iter=15, random_state=0)
    clf.fit(X, y)
    again = layerkit.load(layerkit.save(clf, tmp_path / "m.lkm"))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    state = again.network_.layers[0].running_mean
    np.testing.assert_array_equal(state, clf.network_.layers[0].running_mean)
    net = layerkit.load(layerkit.save(clf.network_, tmp_path / "n.lkm"))
    np.testing.assert_array_equal(net.predict(X), clf.network_.predict(X))


@quiet
@pytest.mark.parametrize("seed", [0, 1])
def test_early_stopping_restores_the_state_of_the_best_epoch(digits, monkeypatch, seed):
    # before: the best epoch's weights with the last epoch's running statistics, a model
    # scoring below its own best_validation_score_ (0.88 against 0.96)
    X, y = digits
    seen = {}
    original = _stochastic._validation_split

    def spy(est, y_, rng):
        seen["split"] = original(est, y_, rng)
        return seen["split"]

    monkeypatch.setattr(_stochastic, "_validation_split", spy)
    clf = MLPClassifier(
        layers=[Dense(32), Standardize(momentum=0.5), ReLU()],
        early_stopping=True,
        n_iter_no_change=4,
        learning_rate_init=0.05,
        batch_size=32,
        max_iter=40,
        random_state=seed,
    ).fit(X / 16, y)
    _, val = seen["split"]
    assert clf.score(X[val] / 16, y[val]) == pytest.approx(clf.best_validation_score_)
    assert np.argmax(clf.validation_scores_) + 1 < clf.n_iter_  # it did restore


def test_check_layer_shows_state_left_unnamed():
    assert "save_load" not in check_layer(Standardize()).failed
    with pytest.raises(GradientCheckError, match=r"save_load: .* name there the layer's state"):
        check_layer(Unnamed(), checks=["save_load"])


def test_state_must_be_float_arrays_made_by_build():
    with pytest.raises(
        LayerContractError,
        match=r"Permute\(\) at position 0: state_attributes names 'order', so build\(\) must "
        r"create it as a float32 or float64 array; after build it is an array of shape "
        r"\(3,\) of dtype int64",
    ):
        Sequential([Permute(), Dense(2), Identity()]).build(3, random_state=0)


class PropertyState(Standardize, register=False):
    state_attributes = ("mean",)
    mean = property(lambda self: self.running_mean)


class Half(Standardize, register=False):
    def build(self, n_in, rng, dtype):
        super().build(n_in, rng, dtype)
        self.running_mean = self.running_mean.astype(np.float16)
        return n_in


class Greek(Standardize, register=False):
    state_attributes = ("μ",)

    def build(self, n_in, rng, dtype):
        self.μ = np.zeros(n_in, dtype)
        return n_in


@pytest.mark.parametrize(
    ("layer", "pattern"),
    [
        (PropertyState(), r"names 'mean', a property: name the attribute that holds"),
        (Half(), r"float32 or float64 array; .* of dtype float16"),
        (Greek(), r"names 'μ': not an ASCII identifier"),
    ],
    ids=["property", "float16", "non-ascii"],
)
def test_state_a_model_file_could_not_hold_is_refused_at_build(layer, pattern):
    with pytest.raises(LayerContractError, match=pattern):
        Sequential([layer, Dense(2), Identity()]).build(3, random_state=0)


class RunningDropout(layerkit.layers.Dropout):
    """A user's Dropout that also keeps a running mean: its forward must run at rate 0."""

    state_attributes = ("running_mean",)

    def build(self, n_in, rng, dtype):
        width = super().build(n_in, rng, dtype)
        self.running_mean = np.zeros(n_in, dtype)
        return width

    def forward(self, x, training=False):
        if training:
            self.running_mean = 0.9 * self.running_mean + 0.1 * x.mean(axis=0)
        return super().forward(x, training)


layerkit.register(RunningDropout)


@quiet
def test_a_subclass_of_dropout_at_rate_zero_still_runs(digits):
    # before: the training plan skipped any Dropout at rate 0, a user's subclass too
    X, y = digits
    clf = MLPClassifier(layers=[Dense(8), RunningDropout(0.0), ReLU()], max_iter=2).fit(X, y)
    assert np.any(clf.network_.layers[1].running_mean != 0)


def test_state_of_another_shape_in_a_file_is_refused(tmp_path):
    net = Sequential([Dense(3), Standardize(), Dense(2), Identity()]).build(4, random_state=0)
    path = layerkit.save(net, tmp_path / "n.lkm")
    wider = Sequential([Dense(5), Standardize(), Dense(2), Identity()]).build(4, random_state=0)
    other = layerkit.save(wider, tmp_path / "w.lkm")
    tampered = tmp_path / "t.lkm"
    with (
        zipfile.ZipFile(path) as src,
        zipfile.ZipFile(other) as alt,
        zipfile.ZipFile(tampered, "w") as dst,
    ):
        manifest = json.loads(src.read("manifest.json"))
        for spec in manifest["arrays"]:
            if spec["name"] == "state/1.running_mean":
                theirs = json.loads(alt.read("manifest.json"))["arrays"]
                spec.update(next(a for a in theirs if a["name"] == spec["name"]))
        dst.writestr("manifest.json", json.dumps(manifest))
        for name in src.namelist():
            if name == "arrays/state/1.running_mean.npy":
                dst.writestr(name, alt.read(name))
            elif name != "manifest.json":
                dst.writestr(name, src.read(name))
    with pytest.raises(layerkit.ModelFileError, match=r"state/1.running_mean.*architecture needs"):
        layerkit.load(tampered)


@quiet
def test_arrays_that_are_not_named_state_stay_out_of_the_file(digits, tmp_path):
    X, y = digits
    clf = MLPClassifier(layers=[Dense(8), Scratch(), ReLU()], max_iter=2, random_state=0)
    clf.fit(X / 16, y)
    assert clf.network_.state == {}
    again = layerkit.load(layerkit.save(clf, tmp_path / "m.lkm"))
    np.testing.assert_array_equal(again.predict_proba(X / 16), clf.predict_proba(X / 16))
    with zipfile.ZipFile(tmp_path / "m.lkm") as zf:
        assert json.loads(zf.read("manifest.json"))["format_version"] == 1  # as before


@quiet
def test_read_only_state_is_restored_and_loaded(digits, tmp_path):
    X, y = digits
    clf = MLPClassifier(
        layers=[Dense(16), Fixed(), ReLU()], early_stopping=True, max_iter=8, random_state=0
    ).fit(X / 16, y)
    again = layerkit.load(layerkit.save(clf, tmp_path / "m.lkm"))
    np.testing.assert_array_equal(again.predict_proba(X / 16), clf.predict_proba(X / 16))


def test_a_file_without_the_state_loads_with_a_warning(tmp_path):
    net = Sequential([Dense(3), Standardize(), Dense(2), Identity()]).build(4, random_state=0)
    net.forward(np.arange(8.0).reshape(2, 4), training=True)  # the state moves
    assert not np.all(net.layers[1].running_var == 1)
    path = layerkit.save(net, tmp_path / "n.lkm")
    older = tmp_path / "older.lkm"  # as written before the layer named its state
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(older, "w") as dst:
        manifest = json.loads(src.read("manifest.json"))
        assert manifest["format_version"] == 2
        manifest["arrays"] = [a for a in manifest["arrays"] if not a["name"].startswith("state/")]
        manifest["format_version"] = 1
        dst.writestr("manifest.json", json.dumps(manifest))
        manifest["format_version"] = 2  # version 2, a layer naming a state added since
        with zipfile.ZipFile(tmp_path / "damaged.lkm", "w") as bad:
            bad.writestr("manifest.json", json.dumps(manifest))
            for name in src.namelist():
                if name != "manifest.json" and not name.startswith("arrays/state/"):
                    bad.writestr(name, src.read(name))
        for name in src.namelist():
            if name != "manifest.json" and not name.startswith("arrays/state/"):
                dst.writestr(name, src.read(name))
    with pytest.warns(UserWarning, match=r"no value for the layer state 1.running_mean, ") as w:
        again = layerkit.load(older)
    assert w[0].filename == __file__  # pointing at the caller's load
    with pytest.warns(UserWarning, match=r"1.running_mean.*save the model again"):
        layerkit.load(tmp_path / "damaged.lkm")  # (a state named since: the same warning)
    np.testing.assert_array_equal(again.layers[1].running_var, np.ones(3))


def test_inspect_shows_the_state(tmp_path, capsys):
    from layerkit.cli import main

    net = Sequential([Dense(3), Standardize(), Dense(2), Identity()]).build(4, random_state=0)
    path = layerkit.save(net, tmp_path / "n.lkm")
    assert main(["inspect", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format_version"] == 2
    assert info["layers"][1]["state"] == {"running_mean": [3], "running_var": [3]}
    assert main(["inspect", str(path)]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r" +1  Standardize\(\) +state: running_mean 3, running_var 3", shown[5])
    assert shown[4].endswith("W 4x3, b 3  15 parameters")


class Float64Running(Standardize, register=False):
    """Keeps its running mean in float64 inside a float32 network, or widens it."""

    def __init__(self, momentum=0.5, widen=False):
        self.momentum, self.widen = momentum, widen

    def forward(self, x, training=False):
        out = super().forward(x, training)
        self.running_mean = self.running_mean.astype(np.float64)
        if self.widen:
            self.running_mean = np.r_[self.running_mean, 0.0]
        return out


def test_state_is_saved_as_built_or_refused_with_the_reason(tmp_path):
    layerkit.register(Float64Running)
    X = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    net = Sequential([Float64Running(), Dense(2), Identity()]).build(
        4, random_state=0, dtype="float32"
    )
    net.forward(X, training=True)
    again = layerkit.load(layerkit.save(net, tmp_path / "n.lkm"))  # (before: saved, not loadable)
    assert again.layers[0].running_mean.dtype == np.float32
    np.testing.assert_allclose(again.layers[0].running_mean, net.layers[0].running_mean, rtol=1e-6)
    net.layers[0].widen = True
    net.forward(X, training=True)
    with pytest.raises(
        LayerContractError, match=r"state 'running_mean' has shape \(5,\), but build"
    ):
        layerkit.save(net, tmp_path / "w.lkm")


@quiet
def test_non_finite_optimizer_moments_and_state_still_load(digits, tmp_path):
    # Adam's v overflows to inf for a huge float32 gradient (its step is then 0) and a
    # running maximum starts at -inf: both are files layerkit writes, and they load
    X, y = digits
    clf = MLPClassifier(layers=[Standardize(), Dense(8), ReLU()], max_iter=1).fit(X, y)
    clf._optimizer.state["v"]["1.W"][0, 0] = np.inf
    clf.network_.layers[0].running_var[0] = np.inf
    again = layerkit.load(layerkit.save(clf, tmp_path / "m.lkm"))
    assert again._optimizer.state["v"]["1.W"][0, 0] == np.inf
    assert again.network_.layers[0].running_var[0] == np.inf
