"""layerkit.save and load of a TransformedTargetRegressor: the target's scaler as data."""

import io
import json
import warnings
import zipfile

import numpy as np
import pytest
from helpers import rewritten_model
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.neural_network import MLPRegressor as SklearnMLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
)

import layerkit
from layerkit import MLPClassifier, MLPRegressor, ModelFileError
from layerkit.io import read_manifest


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X[:200], y[:200]


def quiet_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def mlp():
    return MLPRegressor((8,), max_iter=15, random_state=0)


TRANSFORMERS = {
    "StandardScaler": StandardScaler,
    "MinMaxScaler": lambda: MinMaxScaler((-1, 1)),
    "MaxAbsScaler": MaxAbsScaler,
    "RobustScaler": RobustScaler,
    "None": lambda: None,
}


@pytest.mark.parametrize("targets", [1, 2])
@pytest.mark.parametrize("inner", ["network", "pipeline"])
@pytest.mark.parametrize("transformer", list(TRANSFORMERS))
def test_a_fitted_one_predicts_the_same_after_loading(
    diabetes, transformer, inner, targets, tmp_path
):
    X, y = diabetes
    Y = y if targets == 1 else np.c_[y, np.sqrt(y)]
    regressor = mlp() if inner == "network" else make_pipeline(StandardScaler(), mlp())
    ttr = TransformedTargetRegressor(regressor, transformer=TRANSFORMERS[transformer]())
    quiet_fit(ttr, X, Y)
    path = layerkit.save(ttr, tmp_path / "t.lkm")
    assert read_manifest(path)["format_version"] == 4
    again = layerkit.load(path)
    assert type(again) is TransformedTargetRegressor
    assert repr(again) == repr(ttr)
    predicted = again.predict(X)
    assert predicted.shape == Y.shape
    np.testing.assert_array_equal(predicted, ttr.predict(X))
    scale = ttr.regressor_.predict(X)  # (the network's own outputs: the scaled target)
    np.testing.assert_array_equal(again.regressor_.predict(X), scale)
    assert again.regressor is not again.regressor_  # (the template is unfitted, as after fit)
    quiet_fit(again, X, Y)  # and it fits again, as the original would
    np.testing.assert_array_equal(again.predict(X), quiet_fit(ttr, X, Y).predict(X))


def test_an_unfitted_one_keeps_its_settings(tmp_path):
    ttr = TransformedTargetRegressor(mlp(), transformer=MinMaxScaler((2, 3)), check_inverse=False)
    again = layerkit.load(layerkit.save(ttr, tmp_path / "u.lkm"))
    assert repr(again) == repr(ttr) and again.check_inverse is False
    assert not hasattr(again, "regressor_")


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda: TransformedTargetRegressor(mlp(), func=np.log1p, inverse_func=np.expm1),
            "has func or inverse_func, functions a model file does not hold",
        ),
        (
            lambda: TransformedTargetRegressor(mlp(), transformer=QuantileTransformer()),
            r"transformer is sklearn\.preprocessing\._data\.QuantileTransformer",
        ),
        (
            lambda: TransformedTargetRegressor(mlp(), transformer=Normalizer()),
            "transformer is sklearn.preprocessing._data.Normalizer",
        ),
        (
            lambda: TransformedTargetRegressor(LinearRegression()),
            "regressor is LinearRegression",
        ),
        (
            lambda: TransformedTargetRegressor(),
            r"regressor is None \(a LinearRegression\)",
        ),
        (
            lambda: TransformedTargetRegressor(SklearnMLPRegressor()),
            "regressor is MLPRegressor",  # (scikit-learn's, not layerkit's)
        ),
        (
            lambda: TransformedTargetRegressor(MLPClassifier()),
            "regressor is MLPClassifier",
        ),
        (
            lambda: type("MyTTR", (TransformedTargetRegressor,), {})(mlp()),
            "not its subclass MyTTR",
        ),
    ],
)
def test_what_a_file_cannot_hold_is_refused_by_name(make, match, tmp_path):
    with pytest.raises(TypeError, match=match):
        layerkit.save(make(), tmp_path / "x.lkm")
    assert not (tmp_path / "x.lkm").exists()


@pytest.fixture(scope="module")
def saved(diabetes, tmp_path_factory):
    X, y = diabetes
    ttr = quiet_fit(TransformedTargetRegressor(mlp(), transformer=StandardScaler()), X, y)
    path = layerkit.save(ttr, tmp_path_factory.mktemp("t") / "t.lkm")
    return path.read_bytes()


def _edited(data, edit, redigest=True):
    """The file with its manifest edited by ``edit``, the target's digest made right
    again when ``redigest`` (what only validation can catch)."""
    from layerkit.io._manifest import target_digest

    def both(manifest):
        edit(manifest)
        if redigest and manifest.get("target"):
            spec = manifest["target"]
            spec["sha256"] = target_digest({k: v for k, v in spec.items() if k != "sha256"})

    return rewritten_model(data, both)


def _fitted(manifest):
    return manifest["target"]["transformer"]["fitted"]


def _wider(manifest):
    fitted = _fitted(manifest)
    fitted["n_features_in_"] = 2
    for key in ("mean_", "var_", "scale_"):
        fitted[key]["$array"]["values"].append(1.0)


EDITS = {
    "a mean changed, digest kept": (
        lambda m: _fitted(m)["mean_"]["$array"]["values"].__setitem__(0, 1.0),
        False,
        "the target transformer does not match its SHA-256",
    ),
    "an imputer for a transformer": (
        lambda m: m["target"]["transformer"].update(type="SimpleImputer"),
        True,
        r"target.transformer \(SimpleImputer\): a target transformer is one of",
    ),
    "a transformer of two targets for one output": (
        _wider,
        True,
        r"n_features_in_ must be an int from 1 to 1",
    ),
    "a 3-d target": (
        lambda m: m["target"].update(training_dim=3),
        False,
        "does not validate",
    ),
    "a fitted transformer, the regressor not": (
        lambda m: m["target"].update(training_dim=None),
        True,
        "a fitted transformer in an unfitted regressor",
    ),
    "no transformer fitted, the regressor fitted": (
        lambda m: m["target"]["transformer"].update(fitted=None),
        True,
        r"fitted \(training_dim is set\), but its transformer is not",
    ),
    "a NaN scale": (
        lambda m: _fitted(m)["scale_"]["$array"]["values"].__setitem__(0, "nan"),
        True,
        r"scale_ must be finite and not 0, got \[nan\]",
    ),
    "a zero scale": (
        lambda m: _fitted(m)["scale_"]["$array"]["values"].__setitem__(0, 0.0),
        True,
        r"scale_ must be finite and not 0, got \[0\.\]",
    ),
    "an infinite mean": (
        lambda m: _fitted(m)["mean_"]["$array"]["values"].__setitem__(0, "-inf"),
        True,
        r"mean_ must be finite, got \[-inf\]",
    ),
    "a scale as one number": (
        lambda m: _fitted(m).update(scale_=2.0),
        True,
        r"scale_ must be one value per target, got 2\.0",
    ),
    "a huge width": (
        lambda m: _fitted(m).update(n_features_in_=10**9),
        True,
        r"n_features_in_ must be an int from 1 to 1 \(no wider than the network's outputs\)",
    ),
}


@pytest.mark.parametrize("case", list(EDITS))
def test_an_edited_target_entry_is_refused_by_name(saved, case, tmp_path):
    edit, redigest, match = EDITS[case]
    path = tmp_path / "edited.lkm"
    path.write_bytes(_edited(saved, edit, redigest))
    with pytest.raises(ModelFileError, match=match):
        layerkit.load(path)


def test_a_sequential_with_a_target_entry_is_refused(saved, tmp_path):
    net = layerkit.Sequential([layerkit.layers.Dense(1)]).build(10, random_state=0)
    target = json.loads(zipfile.ZipFile(io.BytesIO(saved)).read("manifest.json"))["target"]
    path = layerkit.save(net, tmp_path / "net.lkm")
    data = path.read_bytes()
    path.write_bytes(_edited(data, lambda m: m.update(target=target)))
    with pytest.raises(ModelFileError, match="a 'target' entry in a file of format version 1"):
        layerkit.load(path)
    path.write_bytes(_edited(data, lambda m: m.update(target=target, format_version=4)))
    with pytest.raises(ModelFileError, match="not saved inside a Pipeline or a TransformedTarg"):
        layerkit.load(path)


def test_a_two_output_network_with_a_1d_target_is_refused(diabetes, tmp_path):
    X, y = diabetes
    ttr = quiet_fit(TransformedTargetRegressor(mlp()), X, np.c_[y, y])
    path = tmp_path / "two.lkm"
    path.write_bytes(
        _edited(
            layerkit.save(ttr, path).read_bytes(), lambda m: m["target"].update(training_dim=1)
        )
    )
    with pytest.raises(ModelFileError, match="a 1-d target, and the network gives 2 outputs"):
        layerkit.load(path)


def test_files_without_one_keep_their_older_format_versions(diabetes, tmp_path):
    X, y = diabetes
    plain = quiet_fit(mlp(), X, y)
    pipe = quiet_fit(make_pipeline(StandardScaler(), mlp()), X, y)
    assert read_manifest(layerkit.save(plain, tmp_path / "a.lkm"))["format_version"] == 1
    assert read_manifest(layerkit.save(pipe, tmp_path / "b.lkm"))["format_version"] == 3


def test_the_cli_predicts_in_the_targets_units_and_inspect_names_the_scaler(
    diabetes, tmp_path, capsys
):
    pd = pytest.importorskip("pandas")
    from layerkit.cli import main

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    ttr = TransformedTargetRegressor(
        make_pipeline(StandardScaler(), mlp()), transformer=StandardScaler()
    )
    quiet_fit(ttr, X, y)
    layerkit.save(ttr, tmp_path / "t.lkm")
    X.to_csv(tmp_path / "rows.csv", index=False)
    out = tmp_path / "out.csv"
    assert (
        main(["predict", str(tmp_path / "t.lkm"), str(tmp_path / "rows.csv"), "-o", str(out)]) == 0
    )
    err = capsys.readouterr().err
    assert "trained without column names" not in err  # (its Pipeline has them)
    np.testing.assert_allclose(pd.read_csv(out)["prediction"], ttr.predict(X), rtol=1e-15)
    assert main(["inspect", str(tmp_path / "t.lkm")]) == 0
    text = capsys.readouterr().out
    assert "MLPRegressor in a Pipeline in a TransformedTargetRegressor" in text
    assert "target scaled for training by: StandardScaler()" in text
    assert "input: 10 features (float64): age, sex, bmi" in text


def test_what_predicts_is_saved_not_settings_changed_since(diabetes, tmp_path):
    """(A review: settings changed after the fit were saved in place of the fitted
    transformer: the loaded model predicted in other units, silently.)"""
    X, y = diabetes
    scaled = quiet_fit(TransformedTargetRegressor(mlp(), transformer=StandardScaler()), X, y)
    scaled.set_params(transformer=None)
    again = layerkit.load(layerkit.save(scaled, tmp_path / "a.lkm"))
    np.testing.assert_array_equal(again.predict(X), scaled.predict(X))
    assert type(again.transformer_) is StandardScaler  # (what predicted)
    logged = quiet_fit(TransformedTargetRegressor(mlp(), func=np.log, inverse_func=np.exp), X, y)
    logged.set_params(func=None, inverse_func=None)
    with pytest.raises(TypeError, match="has func or inverse_func"):
        layerkit.save(logged, tmp_path / "b.lkm")
    plain = quiet_fit(TransformedTargetRegressor(mlp()), X, y)
    plain.set_params(transformer=StandardScaler())  # (its transformer_ is the identity)
    again = layerkit.load(layerkit.save(plain, tmp_path / "c.lkm"))
    np.testing.assert_array_equal(again.predict(X), plain.predict(X))


def test_feature_names_and_a_fitted_template_come_back_as_fit_leaves_them(tmp_path):
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    ttr = quiet_fit(TransformedTargetRegressor(mlp(), transformer=RobustScaler()), X, y)
    again = layerkit.load(layerkit.save(ttr, tmp_path / "a.lkm"))
    np.testing.assert_array_equal(again.feature_names_in_, ttr.feature_names_in_)
    assert again.n_features_in_ == 10
    template = StandardScaler().fit(y.to_frame())  # an unfitted wrapper, a fitted template
    unfitted = TransformedTargetRegressor(mlp(), transformer=template)
    again = layerkit.load(layerkit.save(unfitted, tmp_path / "b.lkm"))
    assert not hasattr(again.transformer, "mean_")  # (its settings: fit clones it anyway)
    quiet_fit(again, X, y)
    np.testing.assert_array_equal(again.predict(X), quiet_fit(unfitted, X, y).predict(X))


def test_inspect_says_an_identity_target_is_not_transformed(diabetes, tmp_path, capsys):
    from layerkit.cli import main

    X, y = diabetes
    layerkit.save(quiet_fit(TransformedTargetRegressor(mlp()), X, y), tmp_path / "t.lkm")
    assert main(["inspect", str(tmp_path / "t.lkm")]) == 0
    assert "target: not transformed (transformer=None)" in capsys.readouterr().out


def test_a_binary_classifier_file_listing_three_classes_is_refused(tmp_path):
    """(A trial: classes [0, 1, 2] edited into a binary model loaded, and predicted two
    columns of probabilities for three classes.)"""
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    clf = quiet_fit(MLPClassifier((4,), max_iter=3, random_state=0), X, y)
    path = layerkit.save(clf, tmp_path / "b.lkm")
    path.write_bytes(
        rewritten_model(
            path.read_bytes(), lambda m: m["fitted"]["classes"].update(values=[0, 1, 2])
        )
    )
    with pytest.raises(ModelFileError, match="3 classes for a binary classifier, which has 2"):
        layerkit.load(path)


def test_advice_on_settings_given_at_fit_is_not_repeated_at_load(diabetes, tmp_path):
    """(A trial: "layers replaces hidden_layer_sizes" came again at every load, predict
    and inspect of a deployed file.)"""
    from layerkit.layers import Dense, ReLU

    X, y = diabetes
    reg = MLPRegressor((50,), layers=[Dense(4), ReLU()], max_iter=2)
    with pytest.warns(UserWarning, match="layers replaces hidden_layer_sizes"):
        quiet_fit(reg, X, y)
    path = layerkit.save(reg, tmp_path / "m.lkm")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(layerkit.load(path).predict(X), reg.predict(X))
